"""Reading dlib's face descriptor network from its ``.dat`` file into layers and arrays.

``dlib_face_recognition_resnet_model_v1.dat`` is dlib's own serialisation (see
``dlib/serialize.h`` and the ``serialize`` functions of ``dlib/dnn/core.h``, ``layers.h`` and
``input.h``). ``parse_dat`` reads it into a :class:`DlibNet`: the input's size and means and a
list of :class:`Layer` objects with their parameters as float32 arrays; ``read_dat`` reads the
installed file (or another copy). Nothing here runs the network: see
:mod:`facegate.engine.onnx_graph` and :mod:`facegate.engine.dlib_onnx`.

dlib's file does not record which tag a ``tag``/``skip``/``add_prev`` layer refers to; they are
resolved from the layout of dlib's ResNet blocks (``residual``: ``add_prev1<block<tag1<x>>>``;
``residual_down``: ``add_prev2<avg_pool<skip1<tag2<block<tag1<x>>>>>>``): two tag-like layers in
a row are ``tag2`` then ``skip1``, a lone one is ``tag1``, ``add_prev`` adds the nearest tag
below it and ``skip1`` goes back to the nearest ``tag1``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import face_recognition_models
import numpy as np
from numpy.typing import NDArray

Float32Array = NDArray[np.float32]


class DatFormatError(ValueError):
    """The ``.dat`` file is not a dlib face descriptor network this module can read."""


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


__all__ = ["DatFormatError", "DlibNet", "Float32Array", "Layer", "parse_dat", "read_dat"]
