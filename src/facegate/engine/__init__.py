"""Face engines behind one interface (``Engine``); dlib is the default and reference."""

from __future__ import annotations

import os
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
    """The process-wide engine (models load once): dlib, the reference, or with
    ``FACEGATE_ENGINE=fast`` the same network run by onnxruntime (3x faster end to end)."""
    global _default
    with _lock:
        if _default is None:
            kind = os.environ.get("FACEGATE_ENGINE", "dlib")
            if kind == "fast":
                from facegate.engine.dlib_onnx import FastDlibEngine

                _default = FastDlibEngine()
            elif kind == "dlib":
                from facegate.engine.dlib_engine import DlibEngine

                _default = DlibEngine()
            else:
                raise ValueError(f"FACEGATE_ENGINE must be dlib or fast, not {kind!r}")
        return _default


def similarity(a: FloatArray, b: FloatArray) -> float:
    """Cosine similarity of two normalised templates."""
    return float(np.dot(a, b))


__all__ = ["QUALITY_ISSUES", "Box", "Engine", "Face", "FloatArray", "ImageArray", "Quality",
           "QualityPolicy", "default_engine", "similarity"]
