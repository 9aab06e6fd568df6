"""The dlib engine on real photos and real models (no mocks).

Photos come from ../shared/data (see its README.md); tests that need them are skipped when it is
absent. Composite and degraded images are made in memory.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageFilter

from facegate.engine import QUALITY_ISSUES, Engine, Face, QualityPolicy, similarity
from facegate.engine.base import ImageArray
from facegate.engine.dlib_engine import (
    POSE_DEPTH,
    POSE_DROP,
    DlibEngine,
    estimate_pose,
    laplacian_variance,
    quality_issues,
)
from facegate.images import decode_image
from facegate.service.config import DEFAULT_FMR, threshold_for

JOLIE_A = "deepface/id01_angelina_jolie/img10.jpg"
JOLIE_B = "deepface/id01_angelina_jolie/img5.jpg"
OTHER = "deepface/id02/img12.jpg"  # a different person
OTHER_B = "deepface/id09/img25.jpg"  # another different person
# An LFW image where HOG (upsample 0 or 1) finds no face and the CNN does.
HOG_MISS = "lfw/images/James_Jones/James_Jones_0001.jpg"

Loader = Callable[[str], ImageArray]

THRESHOLD = threshold_for("dlib/dlib_face_recognition_resnet_model_v1", DEFAULT_FMR)


@pytest.fixture(scope="module")
def load(photo_bytes: Callable[[str], bytes]) -> Loader:
    cache: dict[str, ImageArray] = {}

    def get(rel: str) -> ImageArray:
        if rel not in cache:
            cache[rel] = decode_image(photo_bytes(rel))
        return cache[rel].copy()

    return get


@pytest.fixture(scope="module")
def engine() -> DlibEngine:
    """dlib stays selectable (``FACEGATE_ENGINE=dlib``) and is tested on its own."""
    return DlibEngine()


@pytest.fixture(scope="module")
def hog_only() -> DlibEngine:
    return DlibEngine(cnn_fallback=False)


def only_face(engine: Engine, image: ImageArray) -> Face:
    faces = engine.analyse(image)
    assert len(faces) == 1, faces
    return faces[0]


def template(engine: Engine, image: ImageArray) -> np.ndarray:
    embedding = only_face(engine, image).embedding
    assert embedding is not None
    return embedding


# ---- the engine's identity ------------------------------------------------------------------


def test_the_dlib_engine(engine: Engine) -> None:
    assert isinstance(engine, Engine)
    assert isinstance(engine, DlibEngine)
    assert (engine.name, engine.model_version, engine.dim) == (
        "dlib", "dlib_face_recognition_resnet_model_v1", 128)
    assert engine.detector_label == "hog+cnn-fallback"
    assert DlibEngine(cnn_fallback=False).detector_label == "hog"
    assert DlibEngine(detector="cnn").detector_label == "cnn"
    with pytest.raises(ValueError, match="detector"):
        DlibEngine(detector="mtcnn")


def test_only_rgb_uint8_arrays_are_taken(engine: Engine) -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        engine.detect(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        engine.detect(np.zeros((10, 10, 3), dtype=np.float32))


# ---- detection ------------------------------------------------------------------------------


def test_one_face_with_box_landmarks_and_quality(engine: Engine, load: Loader) -> None:
    image = load(JOLIE_A)  # 408 x 594 portrait
    faces = engine.detect(image)
    assert len(faces) == 1
    face = faces[0]
    assert face.embedding is None and face.detector == "hog"
    box, (height, width) = face.box, image.shape[:2]
    assert 0 <= box.left < box.right <= width and 0 <= box.top < box.bottom <= height
    assert 150 <= box.width <= 300 and 150 <= box.height <= 300
    assert len(face.landmarks) == 5
    for x, y in face.landmarks:
        assert box.left - 10 <= x <= box.right + 10 and box.top - 10 <= y <= box.bottom + 10
    (x0, y0), (x1, _), (x2, y2), (x3, _), (x4, y4) = face.landmarks
    assert x0 > x1 > x3 > x2  # eye on the image's right (outer, inner), then the left one
    assert x2 < x4 < x0
    assert y4 > max(y0, y2) + 0.4 * (x0 - x2) / 2  # the nose is well below the eyes
    q = face.quality
    assert q.acceptable and q.issues == ()
    assert q.size == min(box.width, box.height)
    assert q.detector_score > 1.0 and q.sharpness > 100 and 100 < q.brightness < 200
    assert abs(q.yaw) < 15 and abs(q.roll) < 10 and abs(q.pitch) < 25


def test_no_face_in_plain_images(engine: Engine) -> None:
    assert engine.detect(np.full((300, 400, 3), 128, dtype=np.uint8)) == []
    gradient = np.linspace(0, 255, 400, dtype=np.uint8)[None, :, None].repeat(300, 0).repeat(3, 2)
    assert engine.analyse(np.ascontiguousarray(gradient)) == []


def test_no_face_in_a_background_crop(engine: Engine, load: Loader) -> None:
    image = load(OTHER)  # 560 x 415, the face is in the middle
    face = engine.detect(image)[0]
    crop = np.ascontiguousarray(image[:, : max(40, face.box.left - 30)])
    assert engine.detect(crop) == []


def test_two_faces_side_by_side_largest_first(engine: Engine, load: Loader) -> None:
    big, small = Image.fromarray(load(JOLIE_A)), Image.fromarray(load(OTHER))
    small = small.resize((small.width * 2 // 3, small.height * 2 // 3))
    canvas = Image.new("RGB", (big.width + small.width, max(big.height, small.height)), "white")
    canvas.paste(small, (0, 0))  # the smaller face on the left
    canvas.paste(big, (small.width, 0))
    faces = engine.analyse(np.asarray(canvas))
    assert len(faces) == 2
    first, second = faces
    assert first.box.width * first.box.height > second.box.width * second.box.height
    assert first.box.left >= small.width > second.box.right
    assert first.embedding is not None and second.embedding is not None
    jolie, other = template(engine, load(JOLIE_A)), template(engine, load(OTHER))
    assert similarity(first.embedding, jolie) > 0.97
    assert similarity(second.embedding, other) > 0.95


def test_cnn_fallback_finds_a_face_hog_misses(engine: Engine, hog_only: DlibEngine,
                                              load: Loader) -> None:
    image = load(HOG_MISS)
    assert hog_only.detect(image) == []
    faces = engine.detect(image)
    assert len(faces) == 1
    face = faces[0]
    assert face.detector == "cnn"
    assert 60 <= face.box.width <= 160 and 60 <= face.box.height <= 160
    assert face.quality.detector_score > 1.0  # MMOD ~1.07, on the HOG scale


def test_cnn_only_engine(load: Loader) -> None:
    image = load(JOLIE_B)  # 330 x 512
    faces = DlibEngine(detector="cnn").detect(image)
    assert len(faces) == 1 and faces[0].detector == "cnn"
    assert faces[0].quality.acceptable


# ---- templates ------------------------------------------------------------------------------


def test_templates_are_normalised_float32(engine: Engine, load: Loader) -> None:
    image = load(JOLIE_A)
    face = only_face(engine, image)
    embedding = face.embedding
    assert embedding is not None
    assert embedding.shape == (128,) and embedding.dtype == np.float32
    assert abs(float(np.linalg.norm(embedding)) - 1.0) < 1e-5
    again = engine.embed(image, engine.detect(image)[0])
    assert again.dtype == np.float32
    np.testing.assert_allclose(again, embedding, atol=1e-6)  # same alignment, same template


def test_same_person_above_threshold_different_below(engine: Engine, load: Loader) -> None:
    a, b = template(engine, load(JOLIE_A)), template(engine, load(JOLIE_B))
    other, other_b = template(engine, load(OTHER)), template(engine, load(OTHER_B))
    assert similarity(a, b) > THRESHOLD
    for x, y in [(a, other), (b, other), (a, other_b), (other, other_b)]:
        assert similarity(x, y) < THRESHOLD
    assert similarity(a, a) == pytest.approx(1.0, abs=1e-5)


# ---- quality --------------------------------------------------------------------------------


def test_blurred_face_is_flagged(engine: Engine, load: Loader) -> None:
    image = Image.fromarray(load(OTHER)).filter(ImageFilter.GaussianBlur(8))
    faces = engine.detect(np.asarray(image))
    assert faces, "the blurred face should still be found (CNN fallback)"
    assert "low_sharpness" in faces[0].quality.issues


def test_dark_face_is_flagged(engine: Engine, load: Loader) -> None:
    faces = engine.detect(load(OTHER) // 8)
    assert faces
    assert "too_dark" in faces[0].quality.issues
    assert faces[0].quality.brightness < 25


def test_over_exposed_face_is_flagged(engine: Engine, load: Loader) -> None:
    bright = np.clip(load(OTHER).astype(np.int32) * 2 + 60, 0, 255).astype(np.uint8)
    faces = engine.detect(bright)
    assert faces and "too_bright" in faces[0].quality.issues


def test_tiny_face_is_flagged(engine: Engine, load: Loader) -> None:
    image = Image.fromarray(load(OTHER))
    size = engine.detect(np.asarray(image))[0].quality.size
    factor = 30 / size  # the face becomes about 30 px
    tiny = image.resize((round(image.width * factor), round(image.height * factor)),
                        Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (320, 240), (128, 128, 128))
    canvas.paste(tiny, (100, 80))
    faces = engine.detect(np.asarray(canvas))
    assert faces
    assert "small_face" in faces[0].quality.issues
    assert faces[0].quality.size < 45


def test_policy_is_applied(load: Loader) -> None:
    strict = DlibEngine(quality=QualityPolicy(min_face_size=1000, max_yaw=0.0))
    issues = strict.detect(load(JOLIE_A))[0].quality.issues
    assert issues[0] == "small_face" and "extreme_pose" in issues


def test_quality_issues_follow_the_catalogue_order() -> None:
    policy = QualityPolicy()
    assert quality_issues(200, 2.0, 100.0, 128.0, 0.0, 0.0, policy) == ()
    everything = quality_issues(10, -5.0, 0.0, 0.0, 90.0, 0.0, policy)
    assert everything == tuple(k for k in QUALITY_ISSUES if k != "too_bright")
    assert quality_issues(200, 2.0, 100.0, 250.0, 0.0, -80.0, policy) == (
        "too_bright", "extreme_pose")


def test_laplacian_variance() -> None:
    assert laplacian_variance(np.full((20, 20), 90.0)) == 0.0
    checker = (np.indices((20, 20)).sum(axis=0) % 2 * 255).astype(np.float32)
    assert laplacian_variance(checker) > laplacian_variance(checker / 4) > 0


def test_pose_from_landmarks() -> None:
    def points(yaw: float = 0.0, roll: float = 0.0, drop: float = POSE_DROP
               ) -> list[tuple[float, float]]:
        # Eye centres 100 px apart (after foreshortening), nose offset along the eye line.
        across = POSE_DEPTH * np.tan(np.radians(yaw)) * 100
        raw = [(70.0, 0.0), (30.0, 0.0), (-70.0, 0.0), (-30.0, 0.0),
               (across, drop * 100 / np.cos(np.radians(yaw)))]
        c, s = np.cos(np.radians(roll)), np.sin(np.radians(roll))
        return [(200 + c * x - s * y, 200 + s * x + c * y) for x, y in raw]

    yaw, roll, pitch = estimate_pose(points())
    assert abs(yaw) < 1e-6 and abs(roll) < 1e-6 and abs(pitch) < 1e-6
    assert estimate_pose(points(yaw=30))[0] == pytest.approx(30, abs=0.5)
    assert estimate_pose(points(yaw=-50))[0] == pytest.approx(-50, abs=0.5)
    assert estimate_pose(points(roll=20))[1] == pytest.approx(20, abs=0.5)
    assert estimate_pose(points(drop=0.2))[2] < -35  # looking up: nose near the eye line
    assert estimate_pose(points(drop=0.95))[2] > 20  # looking down


def test_pose_of_a_mirrored_face(engine: Engine, load: Loader) -> None:
    image = load(JOLIE_A)
    q = engine.detect(image)[0].quality
    m = engine.detect(np.ascontiguousarray(image[:, ::-1]))[0].quality
    assert m.yaw == pytest.approx(-q.yaw, abs=3)
    assert m.roll == pytest.approx(-q.roll, abs=2)
    assert m.pitch == pytest.approx(q.pitch, abs=3)
