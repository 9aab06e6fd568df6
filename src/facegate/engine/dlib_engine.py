"""dlib engine: HOG detector with a CNN fallback, 5-point alignment, 128-d ResNet templates.

Model files come from the installed ``face_recognition_models`` package; nothing is downloaded.
Models load lazily, once per process, and are shared by every ``DlibEngine``. Images are only
read, never kept (``images.no-retention``).

What dlib is handed stays within what it survives. Its detectors run native code that checks
little: the CNN's image pyramid writes out of bounds (heap corruption, a crash then or later)
on images under about 7 rows or 10 columns, so ``_cnn_scan`` never gives it an image with a
side under ``CNN_MIN_SIDE``; and a HOG detector keeps per-image state while it runs, with the
GIL released, so each thread takes one of its own from a pool (``_HogPool``).

dlib's 5-point landmarks, in image coordinates (checked on LFW): 0 = outer and 1 = inner corner
of the eye on the image's right (the subject's left eye), 2 = outer and 3 = inner corner of the
eye on the image's left (the subject's right eye), 4 = bottom of the nose (subnasale).
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dlib
import face_recognition_models
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from facegate.engine.base import (
    QUALITY_ISSUES,
    Box,
    Face,
    FloatArray,
    ImageArray,
    Quality,
    QualityPolicy,
)

MODEL_VERSION = "dlib_face_recognition_resnet_model_v1"
CHIP_SIZE = 150
CHIP_PADDING = 0.25

# Most pixels HOG scans after upsampling: larger images are scanned with fewer upsampling steps
# (a 1600 x 1200 photo at its own size, ~0.15 s; LFW's 250 x 250 upsampled once).
HOG_MAX_PIXELS = 2_000_000
# Most pixels the CNN scans (after its own upsampling); larger images are shrunk first.
# About 0.9 s on two CPU cores: the CNN only runs when HOG finds nothing.
CNN_MAX_PIXELS = 150_000
# Fewest pixels on a side of what the CNN scans; narrower images are padded (edge pixels
# repeated) up to it. dlib's MMOD pyramid and convolutions fail, or write out of bounds and
# corrupt the heap, under 7 rows or 10 columns (found on every size from 1 to 64 and strips up
# to 3200 long); 48 keeps well clear, and the smallest face the CNN finds is about 20 pixels.
CNN_MIN_SIDE = 48
# MMOD confidence -> HOG-margin scale. Both detectors' thresholds are 0; on 158 LFW faces
# found by both, HOG's median margin is 1.72 and the CNN's median confidence 1.06.
CNN_SCORE_SCALE = 1.6

# Pose model (weak perspective, mean 3-D face of OpenFace scaled to the inter-eye distance D):
# the nose bottom lies POSE_DEPTH * D in front of the eye centres, and on a frontal face
# POSE_DROP * D below them (median of dlib's 5-point landmarks: LFW 0.78, deepface 0.74).
POSE_DEPTH = 0.44
POSE_DROP = 0.76

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

# ---- models: loaded once per process -------------------------------------------------------

_models: dict[str, Any] = {}
_models_lock = threading.Lock()
# dlib's DNNs keep per-call state inside the network object: one caller at a time.
_cnn_lock = threading.Lock()
_net_lock = threading.Lock()


class _HogPool:
    """HOG detectors, one per concurrent caller: a detector loads each image into its own
    scanner and dlib releases the GIL while it runs, so two threads sharing one corrupt the
    heap. Building one takes about 0.4 s; the pool grows to the largest number of callers seen
    at once and reuses them."""

    def __init__(self) -> None:
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    @contextmanager
    def detector(self) -> Iterator[Any]:
        try:
            hog = self._idle.get_nowait()
        except queue.Empty:
            hog = dlib.get_frontal_face_detector()
        try:
            yield hog
        finally:
            self._idle.put(hog)


_hog_pool = _HogPool()


def _model(kind: str, path: str, load: Callable[[str], Any]) -> Any:
    key = f"{kind}:{path}"
    with _models_lock:
        model = _models.get(key)
        if model is None:
            model = _models[key] = load(path)
        return model


def _cnn() -> Any:
    return _model("cnn", face_recognition_models.cnn_face_detector_model_location(),
                  dlib.cnn_face_detection_model_v1)


def _shape_predictor() -> Any:
    return _model("shape", face_recognition_models.pose_predictor_five_point_model_location(),
                  dlib.shape_predictor)


def _recogniser() -> Any:
    return _model("net", face_recognition_models.face_recognition_model_location(),
                  dlib.face_recognition_model_v1)


# ---- measurements ---------------------------------------------------------------------------


def laplacian_variance(grey: NDArray[Any]) -> float:
    """Variance of the 3x3 Laplacian (4-neighbour) of a grey image: higher is sharper."""
    g = grey.astype(np.float32, copy=False)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def estimate_pose(points: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """(yaw, roll, pitch) in degrees from dlib's 5 landmarks; rough, for quality gating.

    Weak-perspective model: the nose bottom lies ``POSE_DEPTH`` inter-eye distances (D) in
    front of the eye centres and, on a frontal face, ``POSE_DROP`` D below them.
    roll: angle of the line between the eye centres (positive: clockwise in the image).
    yaw: the nose bottom's offset from the eye midpoint along the eye line, over the observed
    (foreshortened by cos(yaw)) inter-eye distance, is ``POSE_DEPTH * tan(yaw)``; positive: the
    nose points to the image's right. pitch: the nose bottom's drop below the eye line, in true
    inter-eye distances, is ``POSE_DROP * cos(pitch) + POSE_DEPTH * sin(pitch)``; positive:
    looking down. Pitch is the least reliable: the frontal drop varies between people and with
    the camera height (LFW: 0.63 to 0.93 D for the central 90 %), and the drop peaks at
    ``atan(POSE_DEPTH / POSE_DROP)`` (30 degrees) down, so looking further down reads as 30.
    """
    if len(points) < 5:
        return 0.0, 0.0, 0.0
    p = np.asarray(points[:5], dtype=np.float64)
    eye_a, eye_b, nose = (p[0] + p[1]) / 2, (p[2] + p[3]) / 2, p[4]
    left, right = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
    axis = right - left
    seen = float(np.hypot(axis[0], axis[1]))
    if seen < 1e-6:
        return 0.0, 0.0, 0.0
    roll = math.degrees(math.atan2(axis[1], axis[0]))
    u = axis / seen
    v = np.array([-u[1], u[0]])  # "down" in the face's frame
    rel = nose - (left + right) / 2
    across, drop = float(rel @ u) / seen, float(rel @ v) / seen
    yaw = math.atan(across / POSE_DEPTH)
    drop *= math.cos(yaw)  # over the true, not the foreshortened, inter-eye distance
    radius = math.hypot(POSE_DROP, POSE_DEPTH)
    pitch = math.asin(max(-1.0, min(1.0, drop / radius))) - math.atan2(POSE_DROP, POSE_DEPTH)
    return math.degrees(yaw), roll, math.degrees(pitch)


def quality_issues(size: int, detector_score: float, sharpness: float, brightness: float,
                   yaw: float, pitch: float, policy: QualityPolicy) -> tuple[str, ...]:
    """Keys of ``QUALITY_ISSUES`` that ``policy`` finds in these measurements, in that order."""
    found = {
        "small_face": size < policy.min_face_size,
        "low_confidence": detector_score < policy.min_detector_score,
        "low_sharpness": sharpness < policy.min_sharpness,
        "too_dark": brightness < policy.min_brightness,
        "too_bright": brightness > policy.max_brightness,
        "extreme_pose": abs(yaw) > policy.max_yaw or abs(pitch) > policy.max_pitch,
    }
    return tuple(key for key in QUALITY_ISSUES if found[key])


# ---- the engine -----------------------------------------------------------------------------


class DlibEngine:
    """dlib's HOG (or CNN) detector, 5-point landmarks and ResNet descriptor.

    ``detector``: ``"hog"`` (fast; with ``cnn_fallback`` the CNN runs when HOG finds nothing)
    or ``"cnn"`` (CNN only). ``upsample``: HOG upsampling steps (1 finds faces down to about
    40 px), reduced on images too large for ``HOG_MAX_PIXELS``. ``quality``: thresholds for
    ``Quality.issues``.

    Quality: ``detector_score`` is HOG's SVM margin (>= 0) or ``CNN_SCORE_SCALE`` times the
    CNN's MMOD confidence; ``sharpness`` and ``brightness`` are measured on the central
    100 x 100 pixels of the 150 px aligned chip (the face without the chip's padding).
    """

    name = "dlib"
    model_version = MODEL_VERSION
    dim = 128

    def __init__(self, detector: str = "hog", upsample: int = 1, cnn_fallback: bool = True,
                 quality: QualityPolicy | None = None) -> None:
        if detector not in ("hog", "cnn"):
            raise ValueError(f"detector must be 'hog' or 'cnn', not {detector!r}")
        if upsample < 0:
            raise ValueError("upsample must be >= 0")
        self.detector = detector
        self.upsample = upsample
        self.cnn_fallback = cnn_fallback
        self.quality_policy = quality if quality is not None else QualityPolicy()

    @property
    def detector_label(self) -> str:
        """``"hog+cnn-fallback"``, ``"hog"`` or ``"cnn"``."""
        if self.detector == "cnn":
            return "cnn"
        return "hog+cnn-fallback" if self.cnn_fallback else "hog"

    def warm_up(self) -> None:
        """Load every model now rather than on the first request."""
        with _hog_pool.detector():
            _shape_predictor()
        if self.detector == "cnn" or self.cnn_fallback:
            _cnn()
        self._load_descriptor()

    # ---- the descriptor: the one step a subclass may replace ----

    def _load_descriptor(self) -> None:
        _recogniser()

    def describe_batch(self, chips: ImageArray) -> FloatArray:
        """Normalised templates (N, 128) of aligned chips, uint8 RGB (N, 150, 150, 3)."""
        out: FloatArray = np.stack([_descriptor(chip) for chip in chips]).astype(np.float32)
        return out

    # ---- Engine protocol ----

    def detect(self, image: ImageArray) -> list[Face]:
        """All faces, largest first, with landmarks and quality (no embedding)."""
        return [face for face, _ in self._faces(_checked(image))]

    def embed(self, image: ImageArray, face: Face) -> FloatArray:
        """The normalised 128-d template of ``face``, aligned on its 5 landmarks."""
        image = _checked(image)
        template: FloatArray = self.describe_batch(
            _chip(image, _shape_of(image, face))[np.newaxis])[0]
        return template

    def analyse(self, image: ImageArray) -> list[Face]:
        """``detect`` and ``embed`` in one pass (each face is aligned once)."""
        found = self._faces(_checked(image))
        if not found:
            return []
        templates = self.describe_batch(np.stack([chip for _, chip in found]))
        return [
            Face(box=face.box, landmarks=face.landmarks, quality=face.quality,
                 detector=face.detector, embedding=template)
            for (face, _), template in zip(found, templates, strict=True)
        ]

    # ---- internals ----

    def _faces(self, image: ImageArray) -> list[tuple[Face, ImageArray]]:
        height, width = image.shape[:2]
        found = []
        for rect, score, label in self._detections(image):
            box = Box(max(0, rect.left()), max(0, rect.top()),
                      min(width, rect.right() + 1), min(height, rect.bottom() + 1))
            if box.width <= 0 or box.height <= 0:
                continue
            shape = _shape_predictor()(image, rect)
            chip = _chip(image, shape)
            found.append((self._face(box, shape, chip, score, label), chip))
        found.sort(key=lambda fc: (-fc[0].box.width * fc[0].box.height,
                                   -fc[0].quality.detector_score))
        return found

    def _detections(self, image: ImageArray) -> list[tuple[Any, float, str]]:
        if self.detector == "hog":
            upsample = self.upsample
            while upsample > 0 and image.shape[0] * image.shape[1] * 4**upsample > HOG_MAX_PIXELS:
                upsample -= 1
            with _hog_pool.detector() as hog:
                rects, scores, _ = hog.run(image, upsample, 0.0)
            found = [(r, float(s), "hog") for r, s in zip(rects, scores, strict=True)]
            if found or not self.cnn_fallback:
                return found
        return _cnn_detections(image)

    def _face(self, box: Box, shape: Any, chip: ImageArray, score: float, label: str) -> Face:
        points = tuple((float(p.x), float(p.y)) for p in shape.parts())
        # The face proper: the chip without its padding (its central 100 x 100 pixels).
        margin = round(CHIP_SIZE * CHIP_PADDING / (1 + 2 * CHIP_PADDING))
        grey = chip[margin:-margin, margin:-margin].astype(np.float32) @ _LUMA
        sharpness = laplacian_variance(grey)
        brightness = float(grey.mean())
        yaw, roll, pitch = estimate_pose(points)
        size = min(box.width, box.height)
        issues = quality_issues(size, score, sharpness, brightness, yaw, pitch,
                                self.quality_policy)
        quality = Quality(size=size, detector_score=score, sharpness=sharpness,
                          brightness=brightness, yaw=yaw, roll=roll, pitch=pitch, issues=issues)
        return Face(box=box, landmarks=points, quality=quality, detector=label)


def _checked(image: ImageArray) -> ImageArray:
    """``image`` as dlib needs it: C-contiguous RGB ``uint8`` (H, W, 3), with pixels."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError("the engine takes an RGB uint8 array of shape (H, W, 3)")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError("the engine takes an image with at least one pixel")
    return np.ascontiguousarray(image)


def _cnn_scan(image: ImageArray) -> tuple[ImageArray, float, int]:
    """What the CNN scans for ``image``, the scale from ``image`` to it, and its upsampling.

    Shrunk to ``CNN_MAX_PIXELS`` (and its long side to ``CNN_MAX_PIXELS / CNN_MIN_SIDE``, so
    that padding keeps within the budget), then padded at the bottom and right to
    ``CNN_MIN_SIDE`` on each side (coordinates are unchanged). Upsampled once when that still
    fits the budget (faces down to ~20 px).
    """
    height, width = image.shape[:2]
    scale = min(1.0, math.sqrt(CNN_MAX_PIXELS / (height * width)),
                CNN_MAX_PIXELS / CNN_MIN_SIDE / max(height, width))
    scanned = image
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        scanned = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR,
                                                           reducing_gap=2.0))
    pad_rows = max(0, CNN_MIN_SIDE - scanned.shape[0])
    pad_cols = max(0, CNN_MIN_SIDE - scanned.shape[1])
    if pad_rows or pad_cols:
        scanned = np.pad(scanned, ((0, pad_rows), (0, pad_cols), (0, 0)), mode="edge")
    upsample = 1 if scanned.shape[0] * scanned.shape[1] * 4 <= CNN_MAX_PIXELS else 0
    return np.ascontiguousarray(scanned, dtype=np.uint8), scale, upsample


def _cnn_detections(image: ImageArray) -> list[tuple[Any, float, str]]:
    """CNN (MMOD) detections within the ``CNN_MAX_PIXELS`` budget, in ``image`` coordinates
    (``_cnn_scan`` says what is scanned)."""
    scanned, scale, upsample = _cnn_scan(image)
    with _cnn_lock:
        detections = _cnn()(scanned, upsample)
    found = []
    for det in detections:
        r = det.rect
        rect = dlib.rectangle(round(r.left() / scale), round(r.top() / scale),
                              round(r.right() / scale), round(r.bottom() / scale))
        found.append((rect, _cnn_score(float(det.confidence)), "cnn"))
    return found


def _cnn_score(confidence: float) -> float:
    """MMOD confidence on the HOG-margin scale: ``CNN_SCORE_SCALE * confidence``."""
    return CNN_SCORE_SCALE * confidence


def _shape_of(image: ImageArray, face: Face) -> Any:
    """The landmarks of ``face`` as dlib wants them (recomputed if the face has none)."""
    b = face.box
    rect = dlib.rectangle(b.left, b.top, b.right - 1, b.bottom - 1)
    if len(face.landmarks) == 5:
        points = dlib.points([dlib.point(round(x), round(y)) for x, y in face.landmarks])
        return dlib.full_object_detection(rect, points)
    return _shape_predictor()(image, rect)


def _chip(image: ImageArray, shape: Any) -> ImageArray:
    chip: ImageArray = np.asarray(dlib.get_face_chip(image, shape, size=CHIP_SIZE,
                                                     padding=CHIP_PADDING), dtype=np.uint8)
    return chip


def _descriptor(chip: ImageArray) -> FloatArray:
    with _net_lock:
        raw = _recogniser().compute_face_descriptor(chip, 0)
    vector = np.asarray(raw, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    if norm > 0:
        vector = vector / norm
    out: FloatArray = vector.astype(np.float32, copy=False)
    return out
