"""dlib's face descriptor network, read from its ``.dat`` file and run by onnxruntime.

dlib computes the 128-d descriptor on one thread (the ``dlib-bin`` wheel has no BLAS): about
0.1 s a face. The same network, with the same weights, runs several times faster as an ONNX
graph in onnxruntime, and in batches. The fast engine

- reads ``dlib_face_recognition_resnet_model_v1.dat`` (dlib's own serialisation) into a list of
  layers with their parameters (``parse_dat``, in :mod:`facegate.engine.dlib_dat`);
- builds an ONNX model of that network (``build_onnx``, in :mod:`facegate.engine.onnx_graph`),
  in memory, at first use: nothing is downloaded and nothing is written;
- runs it (``OnnxDescriptor``, here) and plugs it into the dlib engine (``FastDlibEngine``,
  here), whose detection, landmarks, alignment (``dlib.get_face_chip``, 150 px, padding 0.25)
  and quality are dlib's own.

The names of the reading and building modules that callers use are re-exported here.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import face_recognition_models
import numpy as np
import onnxruntime as ort

from facegate.engine.base import FloatArray, ImageArray, QualityPolicy
from facegate.engine.dlib_dat import DatFormatError, DlibNet, Layer, parse_dat, read_dat
from facegate.engine.dlib_engine import (
    CHIP_SIZE,
    MODEL_VERSION,
    DlibEngine,
)
from facegate.engine.onnx_graph import INPUT_NAME, OUTPUT_NAME, build_onnx

ONNX_MODEL_VERSION = f"{MODEL_VERSION}+onnx"
DEFAULT_BATCH = 32


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
