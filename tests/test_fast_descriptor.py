"""dlib's descriptor network read from its .dat file and run by onnxruntime, against dlib.

Real models, real photos from ../shared/data (see its README.md): tests that need photos are
skipped when it is absent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import face_recognition_models
import numpy as np
import pytest

from facegate.engine.base import ImageArray
from facegate.engine.dlib_engine import MODEL_VERSION, DlibEngine, _recogniser
from facegate.engine.dlib_onnx import (
    ONNX_MODEL_VERSION,
    DatFormatError,
    DlibNet,
    FastDlibEngine,
    OnnxDescriptor,
    build_onnx,
    parse_dat,
    read_dat,
)
from facegate.images import decode_image

PHOTOS = [
    "deepface/id01_angelina_jolie/img1.jpg", "deepface/id01_angelina_jolie/img2.jpg",
    "deepface/id01_angelina_jolie/img4.jpg", "deepface/id01_angelina_jolie/img5.jpg",
    "deepface/id01_angelina_jolie/img10.jpg", "deepface/id02/img3.jpg",
    "deepface/id02/img12.jpg", "deepface/id02/img53.jpg", "deepface/id03/img8.jpg",
    "deepface/id03/img9.jpg", "deepface/id09/img25.jpg", "deepface/id05/img16.jpg",
]
TOLERANCE = 1e-5
DAT = Path(face_recognition_models.face_recognition_model_location())


@pytest.fixture(scope="module")
def net() -> DlibNet:
    return read_dat()


@pytest.fixture(scope="module")
def images(photo_bytes: Callable[[str], bytes], shared_data: Path) -> list[ImageArray]:
    return [decode_image(photo_bytes(rel)) for rel in PHOTOS if (shared_data / rel).is_file()]


@pytest.fixture(scope="module")
def chips(images: list[ImageArray]) -> ImageArray:
    """The aligned chips of every face in the photos, made by DlibEngine's own code."""
    engine = DlibEngine()
    found = [chip for image in images for _, chip in engine._faces(image)]
    if len(found) < 10:
        pytest.skip(f"only {len(found)} faces in the test photos")
    return np.stack(found)


def dlib_raw(chips: ImageArray) -> np.ndarray:
    return np.stack([np.asarray(_recogniser().compute_face_descriptor(chip, 0),
                                dtype=np.float32) for chip in chips])


# ---- the parser -----------------------------------------------------------------------------


def test_parser_reads_the_resnet(net: DlibNet) -> None:
    assert net.loss == "loss_metric_2"
    assert net.size == 150
    assert np.allclose(net.means, (122.782, 117.001, 104.298), atol=1e-3)
    kinds = Counter(layer.kind for layer in net.layers)
    assert kinds == {"con": 29, "affine": 29, "relu": 29, "add_prev": 14, "avg_pool": 5,
                     "max_pool": 1, "fc": 1, "tag": 18, "skip": 4}
    assert len(net.layers) == 130 and len(net.computational) == 108

    first = net.layers[0]
    assert first.kind == "con" and first.params["weight"].shape == (32, 3, 7, 7)
    assert (first.attrs["stride_y"], first.attrs["padding_y"]) == (2, 0)
    convs = [layer for layer in net.layers if layer.kind == "con"]
    assert [c.attrs["num_filters"] for c in convs[1:]] == \
        [32] * 6 + [64] * 8 + [128] * 6 + [256] * 8
    for con in convs[1:]:
        down = con.attrs["stride_y"] == 2
        assert con.params["weight"].shape[2:] == (3, 3)
        assert con.attrs["padding_y"] == con.attrs["padding_x"] == (0 if down else 1)
        assert con.params["bias"].shape == (con.attrs["num_filters"],)
    assert sum(c.attrs["stride_y"] == 2 for c in convs) == 5
    for affine in (layer for layer in net.layers if layer.kind == "affine"):
        assert affine.params["gamma"].shape == affine.params["beta"].shape == \
            (affine.attrs["k"],)
    pools = [layer.attrs for layer in net.layers if layer.kind == "avg_pool"]
    assert [(p["nr"], p["stride_y"], p["padding_y"]) for p in pools] == \
        [(2, 2, 0)] * 4 + [(0, 1, 0)]
    fc = net.layers[-1]
    assert fc.kind == "fc" and fc.params["weight"].shape == (256, 128)
    assert "bias" not in fc.params  # fc_no_bias
    assert all(layer.params[k].dtype == np.float32 for layer in net.layers
               for k in layer.params)
    # residual_down blocks: tag2 then skip1 back to tag1; add_prev adds the nearest tag
    assert [layer.tag for layer in net.layers if layer.kind == "add_prev"].count(2) == 4


def test_graph_has_a_dynamic_batch(net: DlibNet) -> None:
    model = build_onnx(net)
    (inp,), (out,) = model.graph.input, model.graph.output
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 150, 150, 3]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == \
        ["batch", 128]


@pytest.mark.parametrize("cut", [0, 1, 10, 300, 5_000, 1_000_000, -300, -1])
def test_truncated_file_is_refused(cut: int) -> None:
    data = DAT.read_bytes()
    with pytest.raises(DatFormatError, match="the file ends inside"):
        parse_dat(data[:cut])


def test_corrupted_file_is_refused(tmp_path: Path) -> None:
    data = bytearray(DAT.read_bytes())
    at = data.index(b"relu_")
    data[at:at + 5] = b"rulu_"
    with pytest.raises(DatFormatError, match="unsupported dlib layer 'rulu_'"):
        parse_dat(bytes(data))
    with pytest.raises(DatFormatError, match="unexpected bytes"):
        parse_dat(DAT.read_bytes() + b"\x00")
    bad = tmp_path / "model.dat"
    bad.write_bytes(b"not a dlib file at all")
    with pytest.raises(DatFormatError, match=str(bad)):
        read_dat(bad)
    with pytest.raises(DatFormatError, match="cannot read"):
        read_dat(tmp_path / "missing.dat")
    with pytest.raises(DatFormatError):
        OnnxDescriptor(model=bad).describe(np.zeros((1, 150, 150, 3), np.uint8))


# ---- the descriptor -------------------------------------------------------------------------


def test_descriptor_equals_dlib(chips: ImageArray) -> None:
    ours = OnnxDescriptor(threads=1).describe(chips)
    theirs = dlib_raw(chips)
    assert ours.shape == (len(chips), 128) and ours.dtype == np.float32
    assert float(np.abs(ours - theirs).max()) <= TOLERANCE


def test_batched_equals_one_by_one(chips: ImageArray) -> None:
    batched = OnnxDescriptor(threads=2, batch_size=8).describe(chips)
    single = np.concatenate([OnnxDescriptor(threads=1).describe(chip[np.newaxis])
                             for chip in chips])
    assert float(np.abs(batched - single).max()) <= 1e-6


def test_describe_checks_its_input() -> None:
    descriptor = OnnxDescriptor()
    assert descriptor.describe(np.zeros((0, 150, 150, 3), np.uint8)).shape == (0, 128)
    with pytest.raises(ValueError, match="uint8"):
        descriptor.describe(np.zeros((1, 150, 150, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        descriptor.describe(np.zeros((150, 150, 3), np.uint8))
    with pytest.raises(ValueError, match="threads"):
        OnnxDescriptor(threads=0)


# ---- the engine -----------------------------------------------------------------------------


def test_fast_engine_matches_dlib_engine(images: list[ImageArray]) -> None:
    slow, fast = DlibEngine(), FastDlibEngine(threads=2)
    assert fast.name == slow.name == "dlib"
    assert fast.model_version == ONNX_MODEL_VERSION != MODEL_VERSION
    compared = 0
    for image in images:
        expected, got = slow.analyse(image), fast.analyse(image)
        assert got == expected  # boxes, landmarks, quality, detector (not the embedding)
        for a, b in zip(expected, got, strict=True):
            assert a.embedding is not None and b.embedding is not None
            assert b.embedding.dtype == np.float32 and b.embedding.shape == (128,)
            assert abs(float(np.linalg.norm(b.embedding)) - 1) < 1e-6
            assert float(np.abs(a.embedding - b.embedding).max()) <= TOLERANCE
            assert float(np.abs(slow.embed(image, a) - fast.embed(image, a)).max()) \
                <= TOLERANCE
            compared += 1
    assert compared >= 10


def test_describe_batch_is_normalised(chips: ImageArray) -> None:
    fast = FastDlibEngine()
    templates = fast.describe_batch(chips)
    assert np.allclose(np.linalg.norm(templates, axis=1), 1, atol=1e-6)
    raw = dlib_raw(chips)
    expected = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    assert float(np.abs(templates - expected).max()) <= TOLERANCE
