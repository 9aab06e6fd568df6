"""Manifests posted as YAML or JSON, and one content type per kind of operation: JSON bodies
for JSON operations, ``multipart/form-data`` for image uploads, as the OpenAPI document says
and the server holds to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from tests.conftest import JOLIE, SHARED, photo, running

from facegate.api.app import create_app
from facegate.service import Actor, Facegate

ADMIN = Actor("mf-admin", "admin")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
YAML_TYPES = {"application/json", "application/yaml", "text/yaml"}
IMAGE_OPERATIONS = {"/v1/enrol", "/v1/enrol/batch", "/v1/verify", "/v1/identify", "/v1/detect"}


@pytest.fixture()
def api(service: Facegate) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    keys = {role: service.keys.create(ADMIN, f"mf-{role}", role)["key"]
            for role in ("officer", "operator")}
    for base in running(create_app(service, housekeeping_every_s=0)):
        with httpx.Client(base_url=base, timeout=120) as client:
            yield client, {role: {"X-API-Key": k} for role, k in keys.items()}


def test_a_yaml_manifest_is_registered_as_written(
        service: Facegate, api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, keys = api
    text = (EXAMPLES / "office-door" / "deployment.yaml").read_bytes()
    assert b"security_tested_on: 2026-03-10" in text  # a date YAML reads as a date
    with pytest.raises(TypeError):
        json.dumps(yaml.safe_load(text))  # which JSON cannot carry as it is
    checked = client.post("/v1/deployments/check", content=text,
                          headers={**keys["officer"], "content-type": "text/yaml"})
    assert checked.status_code == 200 and checked.json()["allowed"] is True, checked.text
    r = client.post("/v1/deployments", content=text,
                    headers={**keys["officer"], "content-type": "application/yaml"})
    assert r.status_code == 201, r.text
    held = client.get(f"/v1/deployments/{r.json()['id']}", headers=keys["officer"]).json()
    assert held["manifest"]["devices"][0]["security_tested_on"] == "2026-03-10"
    assert held["manifest"]["name"] == {"zh": "总部办公楼三层入口",
                                        "en": "Headquarters office entrance, floor 3"}


def test_the_readme_session_runs_as_written(
        service: Facegate, api: tuple[httpx.Client, dict[str, str]]) -> None:
    """README "A session with the REST API": the manifest and the assessment converted by
    ``json.dumps(yaml.safe_load(...))``, the subject, consent, enrolment and verification."""
    client, keys = api
    off, op = keys["officer"], keys["operator"]
    manifest = json.dumps(yaml.safe_load((SHARED / "examples" / "office-door.yaml").read_text()))
    assert client.post("/v1/deployments", content=manifest,
                       headers={**off, "content-type": "application/json"}).status_code == 201
    sid = client.post("/v1/subjects", json={"ref": "E-2002"}, headers=off).json()["id"]
    assessment = json.dumps(yaml.safe_load(
        (EXAMPLES / "office-door" / "assessment.yaml").read_text()))
    a = client.post("/v1/deployments/hq-office-door/assessments", content=assessment,
                    headers={**off, "content-type": "application/json"})
    assert a.status_code == 201, a.text
    c = client.post("/v1/consents", headers=off, json={
        "subject": sid, "deployment": "hq-office-door", "purpose": "access_control"})
    assert c.status_code == 201, c.text
    e = client.post("/v1/enrol", headers=op, data={"subject": sid, "deployment": "hq-office-door"},
                    files=[("images", ("img1.jpg", photo(JOLIE[0]), "image/jpeg"))])
    assert e.status_code == 201, e.text
    v = client.post("/v1/verify", headers=op, data={"subject": sid, "deployment": "hq-office-door"},
                    files=[("image", ("img4.jpg", photo(JOLIE[2]), "image/jpeg"))])
    assert v.status_code == 200 and v.json()["match"] is True, v.text


@pytest.mark.parametrize(("body", "kind", "status", "says"), [
    (b"id: a\nname: &n x\nother: *n\n", "application/yaml", 422, "aliases"),
    (b"id: [unclosed\n", "application/yaml", 422, "not valid YAML"),
    (b"- just\n- a list\n", "text/yaml", 422, "a mapping"),
    (b"id: a\nx: .inf\n", "application/yaml", 422, "finite"),
    (b"id: a\nx: !!binary aGk=\n", "application/yaml", 422, "bytes"),
    (b'{"id": ', "application/json", 422, "not valid JSON"),
    (b"", "application/yaml", 422, "body: Field required"),
    (b"id=a", "application/x-www-form-urlencoded", 415, "JSON"),
    (b"id: a", "text/plain", 415, "YAML"),
])
def test_a_manifest_that_cannot_be_read_is_refused_clearly(
        body: bytes, kind: str, status: int, says: str,
        api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, keys = api
    for path in ("/v1/deployments", "/v1/deployments/check"):
        r = client.post(path, content=body, headers={**keys["officer"], "content-type": kind})
        assert r.status_code == status, (path, r.text)
        assert says in r.json()["message"] and r.json()["rules"] == [], r.text
        assert r.json()["error"] == ("bad_input" if status == 422 else "unsupported_media_type")


def test_each_operation_takes_one_kind_of_body_as_documented(
        service: Facegate, door: str, api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, keys = api
    doc = client.get("/openapi.json").json()
    kinds: dict[str, set[str]] = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                kinds[f"{method.upper()} {path}"] = set(op["requestBody"]["content"])
    manifests = {"POST /v1/deployments", "POST /v1/deployments/check"}
    assert {k: v for k, v in kinds.items() if k in manifests} == dict.fromkeys(manifests,
                                                                               YAML_TYPES)
    images = {k for k in kinds if k.split(" ")[1] in IMAGE_OPERATIONS}
    assert images == {f"POST {p}" for p in IMAGE_OPERATIONS}
    assert all(kinds[k] == {"multipart/form-data"} for k in images)
    others = set(kinds) - manifests - images
    assert others and all(kinds[k] == {"application/json"} for k in others), {
        k: kinds[k] for k in others if kinds[k] != {"application/json"}}

    # The server holds to it: a JSON operation given a form, an upload given JSON.
    form = client.post("/v1/subjects", data={"ref": "F-1"}, headers=keys["officer"])
    assert form.status_code == 422 and form.json()["error"] == "bad_input"
    sid = client.post("/v1/subjects", json={"ref": "F-2"}, headers=keys["officer"]).json()["id"]
    as_json = client.post("/v1/enrol", json={"subject": sid, "deployment": door},
                          headers=keys["operator"])
    assert as_json.status_code == 422 and as_json.json()["error"] == "bad_input"
