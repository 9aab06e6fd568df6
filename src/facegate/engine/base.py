"""The ``Engine`` interface: detection, landmarks, quality and templates.

An engine turns an RGB ``uint8`` array (H, W, 3) into faces. It never sees bytes or files and
never keeps what it is given (``images.no-retention``). Every template records which engine and
model version produced it, so templates of different engines are never compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from facegate.images import ImageArray as ImageArray

FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class Box:
    """Face rectangle in image pixels: left, top, right, bottom (exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class Quality:
    """Quality report of one detected face.

    ``size``: the smaller side of the face box in pixels. ``detector_score``: the detector's
    confidence (HOG: SVM margin; CNN: MMOD confidence). ``sharpness``: variance of the Laplacian
    of the grey aligned face chip (higher is sharper). ``brightness``: mean grey level of the
    chip, 0..255. ``yaw``/``roll``/``pitch``: pose estimates in degrees from the 5 landmarks.
    ``issues``: reasons this face is unfit for enrolment (empty when fit), from
    ``QUALITY_ISSUES``.
    """

    size: int
    detector_score: float
    sharpness: float
    brightness: float
    yaw: float
    roll: float
    pitch: float
    issues: tuple[str, ...] = ()

    @property
    def acceptable(self) -> bool:
        return not self.issues


# Reasons an image yields no template (cf. a cloud service's "unindexed faces").
QUALITY_ISSUES = {
    "small_face": "the face is too small",
    "low_confidence": "the detector is not confident this is a face",
    "low_sharpness": "the face is blurred",
    "too_dark": "the face is too dark",
    "too_bright": "the face is over-exposed",
    "extreme_pose": "the head is turned too far from the camera",
}


@dataclass(frozen=True)
class Face:
    """One detected face: where, how good, and (when computed) its template vector."""

    box: Box
    landmarks: tuple[tuple[float, float], ...]
    quality: Quality
    detector: str
    embedding: FloatArray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class QualityPolicy:
    """Thresholds for enrolment quality; the defaults accept ordinary photos."""

    min_face_size: int = 60
    min_detector_score: float = 0.0
    min_sharpness: float = 8.0
    min_brightness: float = 40.0
    max_brightness: float = 225.0
    max_yaw: float = 45.0
    max_pitch: float = 40.0


@runtime_checkable
class Engine(Protocol):
    """A face recognition engine.

    ``name``: e.g. ``"dlib"``. ``model_version``: identifies the weights, e.g.
    ``"dlib_face_recognition_resnet_model_v1"``. ``dim``: template length. Templates returned are
    float32 and L2-normalised; ``similarity`` is the cosine (dot product) of two templates.
    """

    name: str
    model_version: str
    dim: int

    def detect(self, image: ImageArray) -> list[Face]:
        """All faces in the image, largest first, with landmarks and quality (no embedding)."""
        ...

    def embed(self, image: ImageArray, face: Face) -> FloatArray:
        """The normalised template of ``face`` (found in ``image`` by ``detect``)."""
        ...

    def analyse(self, image: ImageArray) -> list[Face]:
        """``detect`` then ``embed`` every face; faces carry their ``embedding``."""
        ...
