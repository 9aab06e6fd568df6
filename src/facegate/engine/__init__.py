"""Face engines behind one interface (``Engine``); dlib is the default and reference."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path

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


def engine_factory(config: str | Path | None = None) -> Callable[[], Engine]:
    """How to build the configured engine, in this process or a worker ("spawn"-picklable):
    the operator's ONNX model when ``config`` names one, else dlib or, with
    ``FACEGATE_ENGINE=fast``, the same network run by onnxruntime, or with
    ``FACEGATE_ENGINE=sface`` YuNet + SFace."""
    if config is not None:
        from facegate.engine.onnx_engine import engine_from_config

        return functools.partial(engine_from_config, config)
    kind = os.environ.get("FACEGATE_ENGINE", "dlib")
    if kind == "fast":
        from facegate.engine.dlib_onnx import FastDlibEngine

        return FastDlibEngine
    if kind == "sface":
        from facegate.engine.sface_engine import SfaceEngine

        return SfaceEngine
    if kind == "dlib":
        from facegate.engine.dlib_engine import DlibEngine

        return DlibEngine
    raise ValueError(f"FACEGATE_ENGINE must be dlib, fast or sface, not {kind!r}")


def default_engine() -> Engine:
    """The process-wide engine (models load once): dlib, the reference, or with
    ``FACEGATE_ENGINE=fast`` the same network run by onnxruntime (3x faster end to end)."""
    global _default
    with _lock:
        if _default is None:
            _default = engine_factory()()
        return _default


def similarity(a: FloatArray, b: FloatArray) -> float:
    """Cosine similarity of two normalised templates."""
    return float(np.dot(a, b))


__all__ = ["QUALITY_ISSUES", "Box", "Engine", "Face", "FloatArray", "ImageArray", "Quality",
           "QualityPolicy", "default_engine", "engine_factory", "similarity"]
