"""An engine for the operator's own ONNX recognition model (ArcFace, SFace, ...).

Detection, landmarks and quality are dlib's (``DlibEngine``); the face is aligned with dlib's
``get_face_chip`` at the model's input size, normalised as the configuration says, and the
model's output is the template (L2-normalised). Nothing is downloaded: the model file is the
operator's. Its ``model_version`` is the file's SHA-256, so templates of another model (or of
another version of the same model) are never compared with its own.

Configuration (YAML or JSON, ``FACEGATE_ENGINE_CONFIG``)::

    kind: onnx
    model: /models/arcface-r100.onnx
    name: arcface            # engine name in templates and audit records
    input_size: 112          # square input, pixels
    padding: 0.0             # margin around the aligned face square (0 to 0.25)
    layout: NCHW             # or NHWC
    channels: RGB            # or BGR
    mean: [127.5, 127.5, 127.5]
    std: [127.5, 127.5, 127.5]
    thresholds: {0.001: 0.30, 0.0001: 0.36}   # from `facegate engine calibrate`, optional
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import yaml
from PIL import Image

from facegate.engine.base import FloatArray, ImageArray, QualityPolicy
from facegate.engine.dlib_engine import CHIP_PADDING, CHIP_SIZE, DlibEngine
from facegate.errors import BadInput


class OnnxModelEngine(DlibEngine):
    def __init__(self, model: str | Path, *, name: str = "onnx", input_size: int = 112,
                 padding: float = 0.0, layout: str = "NCHW", channels: str = "RGB",
                 mean: tuple[float, float, float] = (127.5, 127.5, 127.5),
                 std: tuple[float, float, float] = (127.5, 127.5, 127.5),
                 thresholds: Mapping[float, float] | None = None, threads: int = 1,
                 quality: QualityPolicy | None = None) -> None:
        super().__init__(quality=quality)
        path = Path(model)
        if not path.is_file():
            raise BadInput(f"ONNX model not found: {path}")
        if layout not in ("NCHW", "NHWC") or channels not in ("RGB", "BGR"):
            raise BadInput("layout must be NCHW or NHWC, channels RGB or BGR")
        if not 16 <= input_size <= 512:
            raise BadInput("input_size must be between 16 and 512 pixels")
        if not 0 <= padding <= CHIP_PADDING:
            raise BadInput(f"padding must be between 0 and {CHIP_PADDING}")
        data = path.read_bytes()
        self.name = name
        self.model_version = "sha256:" + hashlib.sha256(data).hexdigest()[:16]
        self.input_size, self.padding = input_size, padding
        self.layout, self.channels = layout, channels
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.thresholds = {float(k): float(v) for k, v in (thresholds or {}).items()}
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        try:
            self._session = ort.InferenceSession(data, sess_options=opts,
                                                 providers=["CPUExecutionProvider"])
        except Exception as e:
            raise BadInput(f"{path} is not a usable ONNX model: {e}") from None
        self._input = self._session.get_inputs()[0].name
        probe = self._run(np.zeros((1, input_size, input_size, 3), np.uint8))
        if probe.ndim != 2 or probe.shape[1] < 2:
            raise BadInput(f"{path}: the model's output is not one vector per face")
        self.dim = int(probe.shape[1])

    def _load_descriptor(self) -> None:
        pass  # the session is built in __init__

    def _run(self, chips: ImageArray) -> FloatArray:
        x = chips.astype(np.float32)
        if self.channels == "BGR":
            x = x[..., ::-1]
        x = (x - self.mean) / self.std
        if self.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        out = np.asarray(self._session.run(None, {self._input: np.ascontiguousarray(x)})[0],
                         np.float32)
        return out.reshape(len(chips), -1)

    def describe_batch(self, chips: ImageArray) -> FloatArray:
        """The model's templates (L2-normalised) of chips aligned at its input size."""
        raw = self._run(self._reframe(chips))
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        out: FloatArray = (raw / np.where(norms > 0, norms, 1)).astype(np.float32)
        return out

    def _reframe(self, chips: ImageArray) -> ImageArray:
        """dlib's 150 px chips (padding 0.25) re-cut to the model's padding and size: the
        aligned face square spans pixels 25-125 of a chip; ``padding`` widens it."""
        face = CHIP_SIZE / (1 + 2 * CHIP_PADDING)
        margin = face * CHIP_PADDING - face * self.padding
        lo, hi = margin, CHIP_SIZE - margin
        out = [np.asarray(Image.fromarray(c).resize(
            (self.input_size, self.input_size), Image.Resampling.BILINEAR,
            box=(lo, lo, hi, hi)), np.uint8) for c in chips]
        return np.stack(out)


def engine_from_config(path: str | Path) -> OnnxModelEngine:
    """Build the engine an operator configured in a YAML/JSON file."""
    p = Path(path)
    try:
        cfg = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise BadInput(f"cannot read the engine configuration {p}: {e}") from None
    if not isinstance(cfg, dict) or cfg.get("kind") != "onnx" or "model" not in cfg:
        raise BadInput(f"{p}: expected kind: onnx and model: <file.onnx>")
    model = Path(str(cfg["model"]))
    if not model.is_absolute():
        model = p.parent / model
    known = {"name", "input_size", "padding", "layout", "channels", "mean", "std",
             "thresholds", "threads"}
    extra = sorted(set(cfg) - known - {"kind", "model"})
    if extra:
        raise BadInput(f"{p}: unknown settings: {', '.join(extra)}")
    kw: dict[str, Any] = {k: cfg[k] for k in known if k in cfg}
    for k in ("mean", "std"):
        if k in kw:
            kw[k] = tuple(float(v) for v in kw[k])
    return OnnxModelEngine(model, **kw)
