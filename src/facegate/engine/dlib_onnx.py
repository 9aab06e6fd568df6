"""dlib's face descriptor network, read from its ``.dat`` file and run by onnxruntime.

dlib computes the 128-d descriptor on one thread (the ``dlib-bin`` wheel has no BLAS): about
0.1 s a face. The same network, with the same weights, runs several times faster as an ONNX
graph in onnxruntime, and in batches. This module

- reads ``dlib_face_recognition_resnet_model_v1.dat`` (dlib's own serialisation, see
  ``dlib/serialize.h`` and the ``serialize`` functions of ``dlib/dnn/core.h``, ``layers.h`` and
  ``input.h``) into a list of layers with their parameters (``parse_dat``);
- builds an ONNX model of that network (``build_onnx``, opset 17, NCHW, dynamic batch), in
  memory, at first use: nothing is downloaded and nothing is written;
- runs it (``OnnxDescriptor``) and plugs it into the dlib engine (``FastDlibEngine``), whose
  detection, landmarks, alignment (``dlib.get_face_chip``, 150 px, padding 0.25) and quality
  are dlib's own.

The network (dlib's ``dnn_face_recognition_ex.cpp``): ``input_rgb_image_sized<150>`` (pixel
minus the per-channel mean stored in the file, over 256), a 7 x 7 stride-2 convolution, affine
(batch norm folded into a per-channel scale and shift), relu, 3 x 3 stride-2 max pooling, 29
residual blocks of 32 to 256 channels, global average pooling and a 256 -> 128 fully connected
layer without bias. Paddings and strides are read from the file: dlib's stride-2 convolutions
and poolings have no padding, so a downsampling block's two branches can differ in size (3 x 3
against 4 x 4); dlib's ``add_prev`` then adds them zero-padded to the larger shape, and so does
the graph.

dlib's file does not record which tag a ``tag``/``skip``/``add_prev`` layer refers to; they are
resolved from the layout of dlib's ResNet blocks (``residual``: ``add_prev1<block<tag1<x>>>``;
``residual_down``: ``add_prev2<avg_pool<skip1<tag2<block<tag1<x>>>>>>``): two tag-like layers in
a row are ``tag2`` then ``skip1``, a lone one is ``tag1``, ``add_prev`` adds the nearest tag
below it and ``skip1`` goes back to the nearest ``tag1``. Every shape is checked while the
graph is built, and the tests compare the result with dlib's own descriptor.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import face_recognition_models
import numpy as np
import onnx
import onnxruntime as ort
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

from facegate.engine.base import FloatArray, ImageArray, QualityPolicy
from facegate.engine.dlib_engine import (
    CHIP_SIZE,
    MODEL_VERSION,
    DlibEngine,
)

ONNX_MODEL_VERSION = f"{MODEL_VERSION}+onnx"
OPSET = 17
DEFAULT_BATCH = 32
INPUT_NAME = "chips"
OUTPUT_NAME = "descriptor"

Float32Array = NDArray[np.float32]


class DatFormatError(ValueError):
    """The ``.dat`` file is not a dlib face descriptor network this module can read."""


# ---- the network as read from the file -----------------------------------------------------


@dataclass
class Layer:
    """One layer of the network, in forward order (input first).

    ``kind``: ``con``, ``affine``, ``relu``, ``max_pool``, ``avg_pool``, ``add_prev``, ``fc``,
    ``tag`` or ``skip``. ``attrs``: integers such as ``stride_y`` or ``padding_x`` (pools with
    ``nr == 0`` cover the whole input); ``tag`` is the tag id of ``tag``/``skip``/``add_prev``
    layers. ``params``: float32 arrays: ``con``: ``weight`` (out, in, nr, nc) and ``bias``
    (out,); ``affine``: ``gamma`` and ``beta`` (channels,); ``fc``: ``weight`` (inputs,
    outputs) and ``bias`` (outputs,) when it has one.
    """

    kind: str
    attrs: dict[str, int] = field(default_factory=dict)
    params: dict[str, Float32Array] = field(default_factory=dict)
    tag: int = 0


@dataclass
class DlibNet:
    """The descriptor network: its input (``size`` x ``size`` RGB, minus ``means``, over 256),
    its layers in forward order and its loss layer's name."""

    means: tuple[float, float, float]
    size: int
    layers: list[Layer]
    loss: str

    @property
    def computational(self) -> list[Layer]:
        """The layers that compute something (no ``tag``/``skip`` markers)."""
        return [layer for layer in self.layers if layer.kind not in ("tag", "skip")]


class _Reader:
    """dlib's ``serialize.h`` encodings over a byte buffer."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def _take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise DatFormatError(f"the file ends inside {what} (byte {self.pos} of "
                                 f"{len(self.data)}): it is truncated or not a dlib network")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int_(self, what: str = "an integer") -> int:
        control = self._take(1, what)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise DatFormatError(f"bad integer encoding at byte {self.pos - 1} ({what})")
        value = int.from_bytes(self._take(size, what), "little")
        return -value if control & 0x80 else value

    def float_(self, what: str = "a number") -> float:
        mantissa = self.int_(what)
        exponent = self.int_(what)
        specials = {32000: math.inf, 32001: -math.inf, 32002: math.nan}
        if exponent in specials:
            return specials[exponent]
        return math.ldexp(mantissa, exponent)

    def string(self, what: str = "a name", limit: int = 1 << 16) -> str:
        n = self.int_(what)
        if not 0 <= n <= limit:
            raise DatFormatError(f"implausible string length {n} at byte {self.pos} ({what})")
        try:
            return bytes(self._take(n, what)).decode("ascii")
        except UnicodeDecodeError as exc:
            raise DatFormatError(f"not a dlib layer name at byte {self.pos - n}") from exc

    def peek_string(self, expected: str) -> bool:
        """Whether ``expected`` (a serialised string) is next; nothing is consumed."""
        encoded = bytes([1, len(expected)]) + expected.encode("ascii")  # len < 256
        ahead = bytes(self.data[self.pos:self.pos + len(encoded)])
        if len(ahead) < len(encoded) and encoded.startswith(ahead):
            self._take(len(encoded), expected)  # raises: the file ends here
        return ahead == encoded

    def bool_(self, what: str = "a flag") -> bool:
        char = bytes(self._take(1, what))
        if char not in (b"0", b"1"):
            raise DatFormatError(f"bad flag {char!r} at byte {self.pos - 1} ({what})")
        return char == b"1"

    def tensor(self, what: str) -> Float32Array:
        version = self.int_(what)
        if version != 2:
            raise DatFormatError(f"unknown tensor version {version} ({what})")
        dims = [self.int_(what) for _ in range(4)]
        if any(d < 0 for d in dims):
            raise DatFormatError(f"negative tensor dimension {dims} ({what})")
        count = math.prod(dims)
        raw = self._take(4 * count, what)
        values: Float32Array = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        return values

    def alias(self, what: str) -> tuple[int, int, int, int]:
        version = self.int_(what)
        if version != 1:
            raise DatFormatError(f"unknown alias_tensor version {version} ({what})")
        n, k, nr, nc = (self.int_(what) for _ in range(4))
        return n, k, nr, nc


def _details(r: _Reader) -> Layer:
    """One layer's own serialisation (the ``serialize`` of its ``*_`` class in layers.h)."""
    at = r.pos
    name = r.string("a layer name")
    if name == "con_4":
        params = r.tensor("con_ params")
        num_filters, nr, nc = r.int_(), r.int_(), r.int_()
        stride_y, stride_x, padding_y, padding_x = (r.int_() for _ in range(4))
        filters, biases = r.alias("con_ filters"), r.alias("con_ biases")
        for _ in range(4):  # learning-rate and weight-decay multipliers
            r.float_()
        out, k, fr, fc = filters
        if (out, fr, fc) != (num_filters, nr, nc) or biases[:2] != (1, num_filters) \
                or params.size != out * k * fr * fc + num_filters:
            raise DatFormatError(f"inconsistent con_ layer at byte {at}")
        if min(stride_y, stride_x) < 1 or min(padding_y, padding_x) < 0:
            raise DatFormatError(f"bad con_ stride or padding at byte {at}")
        weight = params[:out * k * fr * fc].reshape(out, k, fr, fc)
        return Layer("con", {"num_filters": out, "k": k, "nr": nr, "nc": nc,
                             "stride_y": stride_y, "stride_x": stride_x,
                             "padding_y": padding_y, "padding_x": padding_x},
                     {"weight": weight, "bias": params[out * k * fr * fc:]})
    if name == "affine_":
        params = r.tensor("affine_ params")
        gamma, beta = r.alias("affine_ gamma"), r.alias("affine_ beta")
        mode = r.int_("affine_ mode")
        channels = math.prod(gamma)
        if mode != 0 or gamma != beta or gamma[0] != 1 or gamma[2:] != (1, 1) \
                or params.size != 2 * channels:
            raise DatFormatError(f"unsupported affine_ layer at byte {at} (only the "
                                 "convolutional mode, one scale per channel, is read)")
        return Layer("affine", {"k": channels},
                     {"gamma": params[:channels], "beta": params[channels:]})
    if name == "relu_":
        return Layer("relu")
    if name == "add_prev_":
        return Layer("add_prev")
    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc, stride_y, stride_x, padding_y, padding_x = (r.int_() for _ in range(6))
        if min(nr, nc, padding_y, padding_x) < 0 or min(stride_y, stride_x) < 1:
            raise DatFormatError(f"bad pooling parameters at byte {at}")
        return Layer(name[:-2], {"nr": nr, "nc": nc, "stride_y": stride_y,
                                 "stride_x": stride_x, "padding_y": padding_y,
                                 "padding_x": padding_x})
    if name == "fc_2":
        outputs, inputs = r.int_(), r.int_()
        params = r.tensor("fc_ params")
        weights = r.alias("fc_ weights")
        r.alias("fc_ biases")
        bias_mode = r.int_("fc_ bias mode")  # FC_HAS_BIAS = 0, FC_NO_BIAS = 1
        for _ in range(4):
            r.float_()
        has_bias = bias_mode == 0
        if weights[:2] != (inputs, outputs) or bias_mode not in (0, 1) \
                or params.size != inputs * outputs + (outputs if has_bias else 0):
            raise DatFormatError(f"inconsistent fc_ layer at byte {at}")
        found = {"weight": params[:inputs * outputs].reshape(inputs, outputs)}
        if has_bias:
            found["bias"] = params[inputs * outputs:]
        return Layer("fc", {"inputs": inputs, "outputs": outputs}, found)
    raise DatFormatError(f"unsupported dlib layer {name!r} at byte {at}")


def _layer_state(r: _Reader, input_version: int | None = None) -> None:
    """What ``add_layer`` writes after its layer: flags and (normally empty) work tensors."""
    for flag in ("setup_called", "gradient_input_is_stale", "output_disabled"):
        r.bool_(flag)
    for what in ("x_grad", "cached_output", "params_grad" if input_version is None
                 else "grad_final"):
        r.tensor(what)
    if input_version is not None and input_version >= 3:
        r.int_("sample_expansion_factor")


def parse_dat(data: bytes) -> DlibNet:
    """The network in dlib's serialisation of ``loss_metric<... input_rgb_image_sized<N>>``."""
    r = _Reader(data)
    if r.int_("the loss layer version") != 1:
        raise DatFormatError("not a dlib network: unknown loss layer version")
    loss = r.string("the loss layer name")
    if loss == "loss_metric_2":
        r.float_("margin")
        r.float_("distance threshold")
    elif loss != "loss_metric_":
        raise DatFormatError(f"not a metric-learning network (loss layer {loss!r})")
    # Each layer writes its version, then its sub-network, then itself: the versions of all
    # layers come first, top down, then the input and each layer's details, bottom up.
    versions: list[int] = []
    while True:
        version = r.int_("a layer version")
        if r.peek_string("input_rgb_image_sized"):  # the add_layer on top of the input
            if version not in (2, 3):
                raise DatFormatError(f"unknown input add_layer version {version}")
            input_version = version
            break
        # add_layer (2), add_tag_layer and add_skip_layer (1)
        if version not in (1, 2) or len(versions) > 10_000:
            raise DatFormatError(f"unknown layer version {version} at byte {r.pos}")
        versions.append(version)
    r.string("the input layer name")
    means = (r.float_("mean red"), r.float_("mean green"), r.float_("mean blue"))
    size, cols = r.int_("input rows"), r.int_("input columns")
    if size != cols or size <= 0:
        raise DatFormatError(f"unsupported input size {size} x {cols}")
    layers = [_details(r)]
    _layer_state(r, input_version)
    for version in reversed(versions):
        if version == 1:  # add_tag_layer or add_skip_layer: nothing but the version
            layers.append(Layer("tag"))
            continue
        layers.append(_details(r))
        _layer_state(r)
    if r.pos != len(r.data):
        raise DatFormatError(f"{len(r.data) - r.pos} unexpected bytes after the network")
    _resolve_tags(layers)
    return DlibNet(means=means, size=size, layers=layers, loss=loss)


def _resolve_tags(layers: list[Layer]) -> None:
    """Give ``tag``/``skip``/``add_prev`` layers their tag ids (see the module docstring)."""
    i = 0
    while i < len(layers):
        if layers[i].kind == "tag":
            if i + 1 < len(layers) and layers[i + 1].kind == "tag":
                layers[i].tag = 2
                layers[i + 1].kind, layers[i + 1].tag = "skip", 1
                i += 2
                continue
            layers[i].tag = 1
        i += 1
    last_tag = 0
    for layer in layers:
        if layer.kind == "tag":
            last_tag = layer.tag
        elif layer.kind == "add_prev":
            if not last_tag:
                raise DatFormatError("add_prev layer without a tag below it")
            layer.tag = last_tag


def read_dat(path: str | os.PathLike[str] | None = None) -> DlibNet:
    """Parse the installed ``dlib_face_recognition_resnet_model_v1.dat`` (or ``path``)."""
    where = Path(path) if path is not None else Path(
        face_recognition_models.face_recognition_model_location())
    try:
        data = where.read_bytes()
    except OSError as exc:
        raise DatFormatError(f"cannot read {where}: {exc}") from exc
    try:
        return parse_dat(data)
    except DatFormatError as exc:
        raise DatFormatError(f"{where}: {exc}") from exc


# ---- the ONNX graph -------------------------------------------------------------------------


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


# ---- running it -----------------------------------------------------------------------------

_cache_lock = threading.Lock()
_models: dict[tuple[str, int, int], bytes] = {}
_sessions: dict[tuple[str, int, int, int], ort.InferenceSession] = {}


def _model_key(path: str | os.PathLike[str] | None) -> tuple[str, int, int]:
    where = Path(path) if path is not None else Path(
        face_recognition_models.face_recognition_model_location())
    try:
        st = where.stat()
    except OSError as exc:
        raise DatFormatError(f"cannot read {where}: {exc}") from exc
    return str(where.resolve()), st.st_size, st.st_mtime_ns


def onnx_bytes(path: str | os.PathLike[str] | None = None) -> bytes:
    """The serialised ONNX model of the installed network (built once per process)."""
    key = _model_key(path)
    with _cache_lock:
        model = _models.get(key)
        if model is None:
            model = _models[key] = build_onnx(read_dat(key[0])).SerializeToString()
        return model


def _session(path: str | os.PathLike[str] | None, threads: int) -> ort.InferenceSession:
    key = _model_key(path)
    model = onnx_bytes(key[0])
    with _cache_lock:
        session = _sessions.get((*key, threads))
        if session is None:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.log_severity_level = 3
            session = _sessions[(*key, threads)] = ort.InferenceSession(
                model, options, providers=["CPUExecutionProvider"])
        return session


class OnnxDescriptor:
    """dlib's face descriptor network run by onnxruntime.

    ``describe`` takes aligned 150 x 150 RGB chips (``dlib.get_face_chip``, as dlib's
    ``compute_face_descriptor`` does) and returns dlib's raw 128-d descriptors, equal to dlib's
    to float32 rounding (below 1e-6 on LFW chips). ``threads``: onnxruntime's intra-op threads
    (one session per thread count, shared by the process; ``run`` is thread-safe).
    ``batch_size``: chips per run (32 chips add about 70 MB to the peak memory).
    ``model``: another copy of the ``.dat`` file (default: the installed
    ``face_recognition_models`` one).
    """

    def __init__(self, threads: int = 1, batch_size: int = DEFAULT_BATCH,
                 model: str | os.PathLike[str] | None = None) -> None:
        if threads < 1:
            raise ValueError("threads must be >= 1")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.threads = threads
        self.batch_size = batch_size
        self.model = model
        self._session: ort.InferenceSession | None = None
        self._lock = threading.Lock()

    @property
    def session(self) -> ort.InferenceSession:
        with self._lock:
            if self._session is None:
                self._session = _session(self.model, self.threads)
            return self._session

    def warm_up(self) -> None:
        """Build the graph and the session now rather than at the first call."""
        self.describe(np.zeros((1, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8))

    def describe(self, chips: ImageArray) -> FloatArray:
        """Raw descriptors (N, 128) float32 of ``chips``: uint8 RGB (N, 150, 150, 3)."""
        chips = np.asarray(chips)
        if chips.dtype != np.uint8 or chips.ndim != 4 or chips.shape[1:] != (
                CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"chips must be uint8 of shape (N, {CHIP_SIZE}, {CHIP_SIZE}, 3), "
                             f"not {chips.dtype} {chips.shape}")
        session = self.session
        if len(chips) == 0:
            dim = session.get_outputs()[0].shape[1]
            return np.zeros((0, int(dim)), dtype=np.float32)
        parts = []
        for start in range(0, len(chips), self.batch_size):
            batch = np.ascontiguousarray(chips[start:start + self.batch_size])
            parts.append(session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0])
        out: FloatArray = np.concatenate(parts).astype(np.float32, copy=False)
        return out


def normalise(raw: FloatArray) -> FloatArray:
    """Rows of ``raw`` L2-normalised as ``DlibEngine`` does it (zero rows stay zero)."""
    out = np.empty_like(raw, dtype=np.float32)
    for i, vector in enumerate(raw.astype(np.float32, copy=False)):
        norm = float(np.linalg.norm(vector))
        out[i] = vector / norm if norm > 0 else vector
    return out


class FastDlibEngine(DlibEngine):
    """``DlibEngine`` with the descriptor network run by onnxruntime, in batches.

    Detection, landmarks, the aligned chips and quality are ``DlibEngine``'s own code; only
    ``compute_face_descriptor`` is replaced, by the same network and weights read from the same
    ``.dat`` file. Its templates equal ``DlibEngine``'s to float32 rounding (max abs difference
    below 1e-6, far below any decision margin), so they could be compared. Yet
    ``model_version`` is ``"dlib_face_recognition_resnet_model_v1+onnx"``, not dlib's: the
    store keeps templates of the two apart, so switching engines is a visible, deliberate step
    (re-enrolment, or relabelling stored templates after checking agreement on one's own data)
    and never a silent mix. The service's calibration table needs an entry for this key; the
    thresholds are dlib's. ``name`` stays ``"dlib"``: the same model, run by onnxruntime.

    ``threads``: onnxruntime threads for the descriptor (dlib's detector keeps its own).
    """

    name = "dlib"
    model_version = ONNX_MODEL_VERSION
    dim = 128

    def __init__(self, detector: str = "hog", upsample: int = 1, cnn_fallback: bool = True,
                 quality: QualityPolicy | None = None, threads: int = 1,
                 batch_size: int = DEFAULT_BATCH) -> None:
        super().__init__(detector=detector, upsample=upsample, cnn_fallback=cnn_fallback,
                         quality=quality)
        self.descriptor = OnnxDescriptor(threads=threads, batch_size=batch_size)

    def _load_descriptor(self) -> None:
        self.descriptor.warm_up()

    def describe_batch(self, chips: ImageArray) -> FloatArray:
        """Normalised templates (N, 128) of aligned chips: uint8 RGB (N, 150, 150, 3)."""
        return normalise(self.descriptor.describe(chips))


__all__ = ["ONNX_MODEL_VERSION", "DatFormatError", "DlibNet", "FastDlibEngine", "Layer",
           "OnnxDescriptor", "build_onnx", "normalise", "onnx_bytes", "parse_dat", "read_dat"]
