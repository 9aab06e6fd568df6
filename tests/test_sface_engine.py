"""YuNet + SFace: the model files are the pinned ones (hash-checked, refused otherwise), faces
are found on any image size with boxes in the given image's pixels, templates of one person
are close and of two people far, and several faces are described in one batch."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from facegate.engine.sface_engine import ARCFACE, SfaceEngine, similarity_transform
from facegate.engine.zoo_models import (
    SFACE,
    YUNET,
    ModelIntegrityError,
    models_dir,
    read_model,
)
from facegate.images import decode_image


@pytest.fixture(scope="module")
def sface() -> SfaceEngine:
    return SfaceEngine()


@pytest.fixture()
def image(photo_bytes: Callable[[str], bytes]) -> Callable[[str], np.ndarray]:
    return lambda rel: decode_image(photo_bytes(f"deepface/{rel}"))


def test_the_default_engine_is_yunet_sface(engine: Any) -> None:
    assert isinstance(engine, SfaceEngine)
    assert (engine.name, engine.model_version, engine.dim) == (
        "sface", "face_recognition_sface_2021dec_int8bq", 128)


def test_the_wheel_files_are_the_pinned_ones() -> None:
    for model in (YUNET, SFACE):
        assert len(read_model(model)) == model.size


def test_a_changed_model_file_refuses_to_start(tmp_path: Path) -> None:
    for model in (YUNET, SFACE):
        shutil.copy(models_dir() / model.name, tmp_path / model.name)
    tampered = bytearray((tmp_path / YUNET.name).read_bytes())
    tampered[len(tampered) // 2] ^= 0x01
    (tmp_path / YUNET.name).write_bytes(bytes(tampered))
    with pytest.raises(ModelIntegrityError, match=re.escape(YUNET.name)):
        read_model(YUNET, tmp_path)
    assert read_model(SFACE, tmp_path)  # the untouched one still loads
    (tmp_path / SFACE.name).unlink()
    with pytest.raises(ModelIntegrityError, match=re.escape(SFACE.name)):
        read_model(SFACE, tmp_path)


def test_another_wheel_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "version", lambda _: "1.2.0")
    with pytest.raises(ModelIntegrityError, match=r"1\.2\.0"):
        models_dir()


def test_alignment_is_a_similarity_transform() -> None:
    assert np.allclose(similarity_transform(ARCFACE, ARCFACE), [[1, 0, 0], [0, 1, 0]])
    angle = np.radians(20)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = (ARCFACE @ rot.T) * 2.5 + [40.0, -7.0]
    back = similarity_transform(moved, ARCFACE)
    assert np.allclose(moved @ back[:, :2].T + back[:, 2], ARCFACE, atol=1e-6)


def test_one_person_close_two_people_far(sface: SfaceEngine, image: Callable[[str], np.ndarray]
                                         ) -> None:
    def template(rel: str) -> np.ndarray:
        (face,) = sface.analyse(image(rel))
        assert face.detector == "yunet" and face.quality.acceptable, face.quality
        assert face.embedding is not None and face.embedding.shape == (128,)
        assert abs(float(np.linalg.norm(face.embedding)) - 1) < 1e-5
        return face.embedding

    jolie = [template(f"id01_angelina_jolie/img{i}.jpg") for i in (1, 2, 4)]
    other = [template(p) for p in ("id02/img3.jpg", "id02/img12.jpg", "id03/img8.jpg")]
    same = [float(a @ b) for i, a in enumerate(jolie) for b in jolie[i + 1:]]
    different = [float(a @ b) for a in jolie for b in other]
    assert min(same) > 0.5 > 0.3 > max(different), (same, different)


def test_boxes_are_in_the_given_images_pixels(sface: SfaceEngine,
                                              image: Callable[[str], np.ndarray]) -> None:
    small = image("id02/img3.jpg")
    (face,) = sface.detect(small)
    h, w = small.shape[:2]
    big = np.asarray(Image.fromarray(small).resize((w * 4, h * 4), Image.Resampling.BICUBIC))
    (large,) = sface.detect(big)  # detected on a copy scaled down to 640 px
    for a, b in ((face.box.left, large.box.left), (face.box.top, large.box.top),
                 (face.box.right, large.box.right), (face.box.bottom, large.box.bottom)):
        assert abs(a * 4 - b) <= 0.04 * w * 4, (face.box, large.box)
    assert all(0 <= x <= w * 4 and 0 <= y <= h * 4 for x, y in large.landmarks)


def test_any_image_size_and_no_face(sface: SfaceEngine) -> None:
    for shape in ((1, 1, 3), (1, 900, 3), (900, 1, 3), (12, 12, 3), (2000, 50, 3)):
        assert sface.detect(np.full(shape, 128, dtype=np.uint8)) == []
    with pytest.raises(ValueError, match="RGB uint8"):
        sface.detect(np.zeros((10, 10), dtype=np.uint8))


def test_several_faces_in_one_batch(sface: SfaceEngine, image: Callable[[str], np.ndarray]
                                    ) -> None:
    a, b = image("id01_angelina_jolie/img1.jpg"), image("id02/img3.jpg")
    height = 600
    tiles = [np.asarray(Image.fromarray(x).resize((round(x.shape[1] * height / x.shape[0]),
                                                    height))) for x in (a, b)]
    both = np.ascontiguousarray(np.concatenate(tiles, axis=1))
    faces = sface.analyse(both)
    assert len(faces) == 2
    alone = [sface.embed(both, f) for f in faces]
    for f, v in zip(faces, alone, strict=True):
        assert f.embedding is not None and np.allclose(f.embedding, v, atol=1e-5)
    assert float(alone[0] @ alone[1]) < 0.3


def test_a_service_with_a_changed_model_refuses_to_start(
        tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    import facegate.engine
    from facegate.api.app import create_app
    from facegate.engine import zoo_models
    from facegate.errors import FacegateError
    from facegate.service import Facegate, Settings

    folder = tmp_path / "models"
    folder.mkdir()
    for model in (YUNET, SFACE):
        shutil.copy(models_dir() / model.name, folder / model.name)
    (folder / SFACE.name).write_bytes(b"\0" + (folder / SFACE.name).read_bytes()[1:])
    monkeypatch.setattr(zoo_models, "models_dir", lambda: folder)
    monkeypatch.setattr(facegate.engine, "_default", None)  # build the engine anew
    settings = Settings(data_dir=data_dir)
    Facegate.initialise(settings)
    service = Facegate(settings)
    try:
        app = create_app(service, housekeeping_every_s=0)
        with (pytest.raises(ModelIntegrityError, match=re.escape(SFACE.name)) as refused,
              TestClient(app)):
            pass  # the app does not start
        assert isinstance(refused.value, FacegateError)
        assert refused.value.http_status == 503 and refused.value.exit_code == 1
    finally:
        service.close()
