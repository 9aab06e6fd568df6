"""Face engines behind one interface (``Engine``); dlib is the default and reference."""

from __future__ import annotations

import threading

import numpy as np

from facegate.engine.base import (
    QUALITY_ISSUES,
    Box,
    Engine,
    Face,
    FloatArray,
    ImageArray,
    Quality,
    QualityPolicy,
)

_default: Engine | None = None
_lock = threading.Lock()


def default_engine() -> Engine:
    """The process-wide dlib engine (models load once)."""
    global _default
    with _lock:
        if _default is None:
            from facegate.engine.dlib_engine import DlibEngine

            _default = DlibEngine()
        return _default


def similarity(a: FloatArray, b: FloatArray) -> float:
    """Cosine similarity of two normalised templates."""
    return float(np.dot(a, b))


__all__ = ["QUALITY_ISSUES", "Box", "Engine", "Face", "FloatArray", "ImageArray", "Quality",
           "QualityPolicy", "default_engine", "similarity"]
