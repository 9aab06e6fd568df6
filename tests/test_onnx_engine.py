"""The operator's own ONNX model as the engine: a tiny model built here (a random projection of
the aligned face), configured from YAML, used through the service; templates of the two engines
are never compared and the subjects needing re-enrolment are listed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper
from tests.conftest import JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo

from facegate.engine.onnx_engine import OnnxModelEngine, engine_from_config
from facegate.errors import BadInput
from facegate.service import Facegate, Settings


def tiny_model(path: Path, size: int = 32, dim: int = 24) -> Path:
    """NCHW (N, 3, size, size) -> flatten -> matmul -> (N, dim)."""
    rng = np.random.default_rng(5)
    w = numpy_helper.from_array(rng.normal(size=(3 * size * size, dim)).astype(np.float32),
                                "w")
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["flat"], axis=1),
         helper.make_node("MatMul", ["flat", "w"], ["y"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", dim])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def config(tmp: Path, **over: object) -> Path:
    model = tiny_model(tmp / "tiny.onnx")
    cfg = {"kind": "onnx", "model": model.name, "name": "tiny", "input_size": 32,
           "padding": 0.1, "mean": [127.5] * 3, "std": [64.0] * 3,
           "thresholds": {0.001: 0.8}} | over
    path = tmp / "engine.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_engine_from_config(tmp_path: Path) -> None:
    engine = engine_from_config(config(tmp_path))
    assert engine.name == "tiny" and engine.dim == 24
    assert engine.model_version.startswith("sha256:")
    from facegate.images import decode_image
    faces = engine.analyse(decode_image(photo(JOLIE[0])))
    assert len(faces) == 1 and faces[0].embedding is not None
    assert faces[0].embedding.shape == (24,)
    assert abs(float(np.linalg.norm(faces[0].embedding)) - 1) < 1e-5
    with pytest.raises(BadInput, match="unknown settings"):
        engine_from_config(config(tmp_path, colour="RGB"))
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(BadInput, match="not a usable ONNX model"):
        OnnxModelEngine(tmp_path / "bad.onnx")
    with pytest.raises(BadInput, match="not found"):
        OnnxModelEngine(tmp_path / "missing.onnx")


def test_a_deployment_keeps_its_engine_when_the_installations_changes(
        service: Facegate, tmp_path: Path) -> None:
    door = assessed(service, office_manifest())
    sid = service.subjects.add(OFFICER, "E-1")["id"]
    service.consents.grant(OFFICER, sid, door, "access_control")
    service.matching.enrol(OPERATOR, sid, door, [photo(JOLIE[0])])
    assert service.engines.status(OFFICER)["needs_reenrolment"] == []

    settings = Settings(data_dir=service.settings.data_dir,
                        database_url=service.settings.database_url,
                        engine_config=config(tmp_path))
    onnx_service = Facegate(settings)
    try:
        status = onnx_service.engines.status(OFFICER)
        assert status["engine"].startswith("tiny/sha256:") and status["threshold"] == 0.8
        assert status["needs_reenrolment"] == []
        (at_door,) = status["deployments"]
        before = service.recogniser.key  # the engine the door was registered under
        assert at_door["engine"] == before and at_door["migrating_to"] is None
        # the door's templates are matched by the engine that made them, never by the new one
        same = onnx_service.matching.verify(OPERATOR, sid, door, photo(JOLIE[1]))
        assert same["match"] and same["engine"] == before
        # a deployment registered now uses the installation's engine
        side = assessed(onnx_service, office_manifest(id="side-door"))
        assert onnx_service.deployments.get(OFFICER, side)["engine"].startswith("tiny/")
        onnx_service.consents.grant(OFFICER, sid, side, "access_control")
        onnx_service.matching.enrol(OPERATOR, sid, side, [photo(JOLIE[0])])
        there = onnx_service.matching.verify(OPERATOR, sid, side, photo(JOLIE[0]))
        assert there["match"] and there["score"] > 0.999 and there["engine"].startswith("tiny/")
    finally:
        onnx_service.close()


def test_batch_workers_build_the_configured_model(service: Facegate, tmp_path: Path) -> None:
    """Worker processes rebuild the operator's model from its configuration, not dlib."""
    from facegate.service import Actor
    from facegate.service.batch import enrol_batch

    settings = Settings(data_dir=service.settings.data_dir,
                        database_url=service.settings.database_url,
                        engine_config=config(tmp_path))
    onnx_service = Facegate(settings)
    try:
        door = assessed(onnx_service, office_manifest())  # registered with the model in use
        folder = tmp_path / "people" / "E-5"
        folder.mkdir(parents=True)
        (folder / "a.jpg").write_bytes(photo(JOLIE[0]))
        consents = tmp_path / "consents.csv"
        consents.write_text("ref\nE-5\n")
        admin = Actor("batch", "admin")
        out = enrol_batch(onnx_service, admin, tmp_path / "people", door, consents, workers=1)
        assert out["templates"] == 1
        sid = onnx_service.subjects.find(admin, "E-5")
        (tpl,) = onnx_service.subjects.show(admin, sid)["templates"]
        assert tpl["engine"] == "tiny" and tpl["model_version"].startswith("sha256:")
    finally:
        onnx_service.close()
