"""dlib engine: HOG detector (CNN fallback), 5-point alignment, 128-d ResNet descriptor.

Model files come from the installed ``face_recognition_models`` package; nothing is downloaded.
The 5-point model's points: 0-1 the corners of the eye on the image's left side... in dlib's
order (outer, inner) for one eye, 2-3 for the other, 4 the bottom of the nose.
"""

from __future__ import annotations

import math
import threading
from functools import cache
from typing import Any

import dlib
import face_recognition_models as frm
import numpy as np

from facegate.engine.base import (
    Box,
    Face,
    FloatArray,
    ImageArray,
    Quality,
    QualityPolicy,
)

_LOCK = threading.Lock()


@cache
def _models() -> dict[str, Any]:
    with _LOCK:
        return {
            "hog": dlib.get_frontal_face_detector(),
            "cnn": dlib.cnn_face_detection_model_v1(frm.cnn_face_detector_model_location()),
            "shape": dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
            "net": dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
        }


def _laplacian_var(grey: np.ndarray) -> float:
    g = grey.astype(np.float32)
    lap = (g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1])
    return float(lap.var())


def _pose(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(yaw, roll, pitch) in degrees, estimated from the 5 landmarks."""
    eye_a = np.mean(points[0:2], axis=0)
    eye_b = np.mean(points[2:4], axis=0)
    nose = np.asarray(points[4])
    left, right = (eye_a, eye_b) if eye_a[0] < eye_b[0] else (eye_b, eye_a)
    d = right - left
    iod = float(np.hypot(*d)) or 1.0
    roll = math.degrees(math.atan2(d[1], d[0]))
    # Put the nose into the eye-line frame.
    u = d / iod
    v = np.array([-u[1], u[0]])
    rel = nose - (left + right) / 2
    x, y = float(rel @ u) / iod, float(rel @ v) / iod
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, 2 * x))))
    # A frontal face has the nose bottom about 0.6-0.9 inter-ocular distances below the eyes.
    pitch = math.degrees(math.atan2(y - 0.75, 1.0)) * 2
    return yaw, roll, pitch


class DlibEngine:
    name = "dlib"
    model_version = "dlib_face_recognition_resnet_model_v1"
    dim = 128

    def __init__(self, detector: str = "hog", upsample: int = 1, cnn_fallback: bool = True,
                 quality: QualityPolicy | None = None) -> None:
        if detector not in ("hog", "cnn"):
            raise ValueError("detector must be 'hog' or 'cnn'")
        self.detector = detector
        self.upsample = upsample
        self.cnn_fallback = cnn_fallback
        self.quality_policy = quality or QualityPolicy()

    @property
    def detector_label(self) -> str:
        if self.detector == "cnn":
            return "cnn"
        return "hog+cnn-fallback" if self.cnn_fallback else "hog"

    def _detect_boxes(self, image: ImageArray) -> list[tuple[Any, float, str]]:
        m = _models()
        out: list[tuple[Any, float, str]] = []
        if self.detector == "hog":
            up = self.upsample if max(image.shape[:2]) <= 1000 else 0
            rects, scores, _ = m["hog"].run(image, up, 0.0)
            out = [(r, float(s), "hog") for r, s in zip(rects, scores, strict=True)]
            if out or not self.cnn_fallback:
                return out
        scale = 1.0
        img = image
        if max(image.shape[:2]) > 800:
            scale = 800 / max(image.shape[:2])
            from PIL import Image
            pil = Image.fromarray(image)
            pil = pil.resize((round(image.shape[1] * scale), round(image.shape[0] * scale)))
            img = np.asarray(pil)
        up = 1 if max(img.shape[:2]) <= 400 else 0
        for det in m["cnn"](img, up):
            r = det.rect
            rect = dlib.rectangle(int(r.left() / scale), int(r.top() / scale),
                                  int(r.right() / scale), int(r.bottom() / scale))
            # MMOD confidence (~0..1.5 for true faces) maps onto the HOG margin scale.
            out.append((rect, float(det.confidence) - 0.3, "cnn"))
        return out

    def _face(self, image: ImageArray, rect: Any, score: float, label: str
              ) -> tuple[Face, Any]:
        m = _models()
        h, w = image.shape[:2]
        box = Box(max(0, rect.left()), max(0, rect.top()), min(w, rect.right() + 1),
                  min(h, rect.bottom() + 1))
        shape = m["shape"](image, rect)
        points = [(float(p.x), float(p.y)) for p in shape.parts()]
        chip = np.asarray(dlib.get_face_chip(image, shape, size=150, padding=0.25))
        grey = chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        yaw, roll, pitch = _pose(points)
        size = min(box.width, box.height)
        sharp = _laplacian_var(grey)
        bright = float(grey.mean())
        p = self.quality_policy
        issues = []
        if size < p.min_face_size:
            issues.append("small_face")
        if score < p.min_detector_score:
            issues.append("low_confidence")
        if sharp < p.min_sharpness:
            issues.append("low_sharpness")
        if bright < p.min_brightness:
            issues.append("too_dark")
        if bright > p.max_brightness:
            issues.append("too_bright")
        if abs(yaw) > p.max_yaw or abs(pitch) > p.max_pitch:
            issues.append("extreme_pose")
        q = Quality(size=size, detector_score=score, sharpness=sharp, brightness=bright,
                    yaw=yaw, roll=roll, pitch=pitch, issues=tuple(issues))
        return Face(box=box, landmarks=tuple(points), quality=q, detector=label), chip

    def _all(self, image: ImageArray) -> list[tuple[Face, Any]]:
        found = [self._face(image, r, s, lab) for r, s, lab in self._detect_boxes(image)]
        found.sort(key=lambda fc: -(fc[0].box.width * fc[0].box.height))
        return found

    def detect(self, image: ImageArray) -> list[Face]:
        return [f for f, _ in self._all(image)]

    def _descriptor(self, chip: Any) -> FloatArray:
        v = np.asarray(_models()["net"].compute_face_descriptor(chip), dtype=np.float32)
        return (v / np.linalg.norm(v)).astype(np.float32)

    def embed(self, image: ImageArray, face: Face) -> FloatArray:
        m = _models()
        b = face.box
        shape = m["shape"](image, dlib.rectangle(b.left, b.top, b.right - 1, b.bottom - 1))
        return self._descriptor(dlib.get_face_chip(image, shape, size=150, padding=0.25))

    def analyse(self, image: ImageArray) -> list[Face]:
        out = []
        for face, chip in self._all(image):
            out.append(Face(box=face.box, landmarks=face.landmarks, quality=face.quality,
                            detector=face.detector, embedding=self._descriptor(chip)))
        return out
