"""Face engines behind one interface (``Engine``): YuNet + SFace by default; dlib (the
earlier default) and its network run by onnxruntime stay selectable; an operator's ONNX model
plugs in."""

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

DEFAULT_KIND = "sface"  # FACEGATE_ENGINE when unset: YuNet + SFace
_default: Engine | None = None
_lock = threading.Lock()


def engine_factory(config: str | Path | None = None) -> Callable[[], Engine]:
    """How to build the configured engine, in this process or a worker ("spawn"-picklable):
    the operator's ONNX model when ``config`` names one, else ``FACEGATE_ENGINE``: ``sface``
    (YuNet + SFace, the default), ``dlib``, or ``fast`` (dlib's network run by
    onnxruntime)."""
    if config is not None:
        from facegate.engine.onnx_engine import engine_from_config

        return functools.partial(engine_from_config, config)
    return _builtin(os.environ.get("FACEGATE_ENGINE", DEFAULT_KIND))


# The built-in engines by the key their templates carry (name/model_version), so that a
# deployment's templates are matched by the engine that made them whatever the default is.
BUILTIN_KEYS = {
    "sface/face_recognition_sface_2021dec_int8bq": "sface",
    "dlib/dlib_face_recognition_resnet_model_v1": "dlib",
    "dlib/dlib_face_recognition_resnet_model_v1+onnx": "fast",
}


def builtin_factory(key: str) -> Callable[[], Engine] | None:
    """How to build the built-in engine whose templates carry ``key``, if there is one."""
    kind = BUILTIN_KEYS.get(key)
    if kind is None:
        return None
    return _builtin(kind)


def _builtin(kind: str) -> Callable[[], Engine]:
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
    """The process-wide installation engine (models load once), as ``engine_factory``."""
    global _default
    with _lock:
        if _default is None:
            _default = engine_factory()()
        return _default


def similarity(a: FloatArray, b: FloatArray) -> float:
    """Cosine similarity of two normalised templates."""
    return float(np.dot(a, b))


__all__ = ["BUILTIN_KEYS", "QUALITY_ISSUES", "Box", "Engine", "Face", "FloatArray", "ImageArray",
           "Quality", "QualityPolicy", "builtin_factory", "default_engine", "engine_factory",
           "similarity"]
