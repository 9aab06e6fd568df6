"""Building dlib's face descriptor network, as read by :mod:`facegate.engine.dlib_dat`, as an
ONNX graph (``build_onnx``: opset 17, NCHW, dynamic batch), in memory.

The network (dlib's ``dnn_face_recognition_ex.cpp``): ``input_rgb_image_sized<150>`` (pixel
minus the per-channel mean stored in the file, over 256), a 7 x 7 stride-2 convolution, affine
(batch norm folded into a per-channel scale and shift), relu, 3 x 3 stride-2 max pooling, 29
residual blocks of 32 to 256 channels, global average pooling and a 256 -> 128 fully connected
layer without bias. Paddings and strides are read from the file: dlib's stride-2 convolutions
and poolings have no padding, so a downsampling block's two branches can differ in size (3 x 3
against 4 x 4); dlib's ``add_prev`` then adds them zero-padded to the larger shape, and so does
the graph.

Every shape is checked while the graph is built, and the tests compare the result with dlib's
own descriptor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from facegate.engine.dlib_dat import DatFormatError, DlibNet

OPSET = 17
INPUT_NAME = "chips"
OUTPUT_NAME = "descriptor"


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint: str, value: NDArray[Any]) -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], hint: str, **attrs: Any) -> str:
        out = self.name(hint)
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out


Shape = tuple[int, int, int]  # channels, rows, columns


def _pool_size(size: int, window: int, stride: int, padding: int) -> int:
    return 1 + (size + 2 * padding - window) // stride


def build_onnx(net: DlibNet) -> onnx.ModelProto:
    """An ONNX model of ``net``: input ``chips`` uint8 (N, size, size, 3) RGB, output
    ``descriptor`` float32 (N, 128): dlib's raw descriptor, not normalised."""
    g = _Graph()
    x = g.op("Cast", [INPUT_NAME], "float", to=TensorProto.FLOAT)
    x = g.op("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    means = np.asarray(net.means, dtype=np.float32).reshape(1, 3, 1, 1)
    x = g.op("Sub", [x, g.const("means", means)], "centred")
    # dlib divides by 256.0; a power of two, so this product is exact.
    x = g.op("Mul", [x, g.const("scale", np.array(1 / 256, dtype=np.float32))], "input")
    shape: Shape = (3, net.size, net.size)
    flat = False
    tags: dict[int, tuple[str, Shape]] = {}
    for layer in net.layers:
        a, p = layer.attrs, layer.params
        if flat and layer.kind != "relu":
            raise DatFormatError(f"unsupported {layer.kind} layer after the fc layer")
        if layer.kind == "tag":
            tags[layer.tag] = (x, shape)
        elif layer.kind == "skip":
            if layer.tag not in tags:
                raise DatFormatError(f"skip to the missing tag{layer.tag}")
            x, shape = tags[layer.tag]
        elif layer.kind == "con":
            if a["k"] != shape[0]:
                raise DatFormatError(f"con_ expects {a['k']} channels, gets {shape[0]}")
            x = g.op("Conv", [x, g.const("w", p["weight"]), g.const("b", p["bias"])], "con",
                     kernel_shape=[a["nr"], a["nc"]], strides=[a["stride_y"], a["stride_x"]],
                     pads=[a["padding_y"], a["padding_x"], a["padding_y"], a["padding_x"]])
            shape = (a["num_filters"],
                     _pool_size(shape[1], a["nr"], a["stride_y"], a["padding_y"]),
                     _pool_size(shape[2], a["nc"], a["stride_x"], a["padding_x"]))
        elif layer.kind == "affine":
            if a["k"] != shape[0]:
                raise DatFormatError(f"affine_ expects {a['k']} channels, gets {shape[0]}")
            x = g.op("Mul", [x, g.const("gamma", p["gamma"].reshape(1, -1, 1, 1))], "scaled")
            x = g.op("Add", [x, g.const("beta", p["beta"].reshape(1, -1, 1, 1))], "affine")
        elif layer.kind == "relu":
            x = g.op("Relu", [x], "relu")
        elif layer.kind in ("max_pool", "avg_pool"):
            nr = a["nr"] or shape[1]
            nc = a["nc"] or shape[2]
            op = "MaxPool" if layer.kind == "max_pool" else "AveragePool"
            # dlib averages the part of the window inside the image (padding excluded)
            extra = {} if op == "MaxPool" else {"count_include_pad": 0}
            x = g.op(op, [x], layer.kind, kernel_shape=[nr, nc],
                     strides=[a["stride_y"], a["stride_x"]],
                     pads=[a["padding_y"], a["padding_x"], a["padding_y"], a["padding_x"]],
                     **extra)
            shape = (shape[0], _pool_size(shape[1], nr, a["stride_y"], a["padding_y"]),
                     _pool_size(shape[2], nc, a["stride_x"], a["padding_x"]))
        elif layer.kind == "add_prev":
            if layer.tag not in tags:
                raise DatFormatError(f"add_prev of the missing tag{layer.tag}")
            other, other_shape = tags[layer.tag]
            joined: Shape = (max(shape[0], other_shape[0]), max(shape[1], other_shape[1]),
                             max(shape[2], other_shape[2]))
            x = g.op("Add", [_zero_pad(g, x, shape, joined),
                             _zero_pad(g, other, other_shape, joined)], "add")
            shape = joined
        elif layer.kind == "fc":
            if math.prod(shape) != a["inputs"]:
                raise DatFormatError(f"fc_ expects {a['inputs']} inputs, gets {shape}")
            x = g.op("Flatten", [x], "flat", axis=1)
            x = g.op("MatMul", [x, g.const("fc_w", p["weight"])], "fc")
            if "bias" in p:
                x = g.op("Add", [x, g.const("fc_b", p["bias"])], "fc_bias")
            flat, shape = True, (a["outputs"], 1, 1)
        else:
            raise DatFormatError(f"unknown layer kind {layer.kind!r}")
    if not flat:
        raise DatFormatError("the network does not end with an fc layer")
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT_NAME], name=OUTPUT_NAME))
    graph = helper.make_graph(
        g.nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8,
                                       ["batch", net.size, net.size, 3])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", shape[0]])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="facegate")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _zero_pad(g: _Graph, x: str, shape: Shape, to: Shape) -> str:
    """``x`` zero-padded at the end of each axis to ``to`` (dlib's ``add_prev`` semantics)."""
    if shape == to:
        return x
    extra = [to[i] - shape[i] for i in range(3)]
    pads = np.array([0, 0, 0, 0, 0, *extra], dtype=np.int64)
    return g.op("Pad", [x, g.const("pads", pads)], "padded", mode="constant")


__all__ = ["INPUT_NAME", "OPSET", "OUTPUT_NAME", "build_onnx"]
