"""The REST API over real HTTP: a uvicorn server on loopback, real keys, real photos."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import ASSESSMENT, ID02, JOLIE, office_manifest, photo, running

from facegate.api.app import create_app
from facegate.policy.catalogue import rules_catalogue
from facegate.service import Actor, Facegate

ADMIN = Actor("test-admin", "admin")


@pytest.fixture()
def api(service: Facegate) -> Iterator[tuple[str, dict[str, str]]]:
    keys = {role: service.keys.create(ADMIN, f"k-{role}", role)["key"]
            for role in ("officer", "operator", "auditor")}
    for base in running(create_app(service)):
        yield base, keys


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_no_endpoint_works_without_a_key(api: tuple[str, dict[str, str]]) -> None:
    base, _ = api
    for method, path in [("GET", "/v1/deployments"), ("POST", "/v1/subjects"),
                         ("GET", "/v1/audit"), ("POST", "/v1/identify"),
                         ("GET", "/v1/audit/verify")]:
        r = httpx.request(method, base + path)
        assert r.status_code == 401, path
        assert r.json()["rules"] == ["security.controls"]
    r = httpx.get(base + "/v1/deployments", headers=h("fg_wrong"))
    assert r.status_code == 401
    assert httpx.get(base + "/openapi.json").json()["info"]["title"] == "facegate"
    assert httpx.get(base + "/docs").status_code == 200


def test_api_session(api: tuple[str, dict[str, str]]) -> None:
    base, keys = api
    off, op, aud = h(keys["officer"]), h(keys["operator"]), h(keys["auditor"])
    with httpx.Client(base_url=base, timeout=120) as c:
        m = office_manifest(mode="identify")
        r = c.post("/v1/deployments", json=m, headers=op)
        assert r.status_code == 403 and r.json()["rules"] == ["security.controls"]
        r = c.post("/v1/deployments", json=m, headers=off)
        assert r.status_code == 201, r.text
        dep = r.json()["id"]
        bad = office_manifest(id="sauna")
        bad["location"]["type"] = "public_bath"
        r = c.post("/v1/deployments", json=bad, headers=off)
        assert r.status_code == 403 and r.json()["rules"] == ["place.private-space"]
        assert r.json()["decision"]["findings"]
        nopurpose = office_manifest(id="np")
        del nopurpose["purpose"]
        r = c.post("/v1/deployments", json=nopurpose, headers=off)
        assert r.status_code == 422 and r.json()["rules"] == ["purpose.declared"]

        sid = c.post("/v1/subjects", json={"ref": "E-1"}, headers=off).json()["id"]
        files = [("images", ("a.jpg", photo(JOLIE[0]), "image/jpeg"))]
        r = c.post("/v1/enrol", data={"subject": sid, "deployment": dep}, files=files,
                   headers=op)
        assert r.status_code == 403
        assert {"consent.separate", "pia.before-use"} <= set(r.json()["rules"])
        r = c.post(f"/v1/deployments/{dep}/assessments", json=ASSESSMENT, headers=off)
        assert r.status_code == 201 and r.json()["version"] == 1
        r = c.post("/v1/enrol", data={"subject": sid, "deployment": dep}, files=files,
                   headers=op)
        assert r.json()["rules"] == ["consent.separate", "consent.lawful-basis"]
        r = c.post("/v1/consents", json={"subject": sid, "deployment": dep,
                                         "purpose": "access_control"}, headers=off)
        assert r.status_code == 201, r.text
        files = [("images", (p, photo(p), "image/jpeg")) for p in JOLIE[:2]]
        r = c.post("/v1/enrol", data={"subject": sid, "deployment": dep}, files=files,
                   headers=op)
        assert r.status_code == 201, r.text
        assert len(r.json()["templates"]) == 2

        probe = {"image": ("p.jpg", photo(JOLIE[2]), "image/jpeg")}
        r = c.post("/v1/verify", data={"subject": sid, "deployment": dep}, files=probe,
                   headers=op)
        assert r.status_code == 200 and r.json()["match"] is True
        r = c.post("/v1/verify", data={"subject": sid, "deployment": dep},
                   files={"image": ("o.jpg", photo(ID02[0]), "image/jpeg")}, headers=op)
        assert r.json()["match"] is False
        r = c.post("/v1/identify", data={"deployment": dep, "top": "3"}, files=probe,
                   headers=op)
        assert [x["subject"] for x in r.json()["candidates"]] == [sid]
        r = c.post("/v1/identify", data={"deployment": dep, "attributes": "religion"},
                   files=probe, headers=op)
        assert r.status_code == 403 and r.json()["rules"] == ["attributes.sensitive"]
        r = c.get("/v1/attributes", params={"names": "race"}, headers=op)
        assert r.status_code == 403 and r.json()["rules"] == ["attributes.sensitive"]

        # bad input: not an image (415), too large (413), no face (422)
        r = c.post("/v1/verify", data={"subject": sid, "deployment": dep},
                   files={"image": ("x.jpg", b"hello", "image/jpeg")}, headers=op)
        assert r.status_code == 415 and "not an image" in r.json()["message"]
        r = c.post("/v1/verify", data={"subject": sid, "deployment": dep},
                   files={"image": ("x.jpg", b"\xff" * (11 * 1024 * 1024), "image/jpeg")},
                   headers=op)
        assert r.status_code == 413
        from PIL import Image
        buf = io.BytesIO()
        Image.new("RGB", (300, 300), (90, 90, 90)).save(buf, "PNG")
        r = c.post("/v1/verify", data={"subject": sid, "deployment": dep},
                   files={"image": ("g.png", buf.getvalue(), "image/png")}, headers=op)
        assert r.status_code == 422 and r.json()["error"] == "no_face"

        r = c.post("/v1/decline", json={"deployment": dep}, headers=op)
        assert r.status_code == 200 and r.json()["alternative"]["method"]

        # the auditor reads the trail and nothing else
        assert c.get("/v1/audit/verify", headers=aud).json()["ok"] is True
        trail: list[dict[str, Any]] = c.get("/v1/audit", params={"n": 100},
                                            headers=aud).json()
        assert any(r["operation"] == "verify" and r["subject"] == sid for r in trail)
        assert c.get(f"/v1/subjects/{sid}", headers=aud).status_code == 403
        assert c.post("/v1/consents/withdraw", json={"subject": sid},
                      headers=aud).status_code == 403

        r = c.post("/v1/consents/withdraw", json={"subject": sid}, headers=off)
        assert r.status_code == 200 and len(r.json()["deleted"]["templates"]) == 2
        r = c.post("/v1/identify", data={"deployment": dep}, files=probe, headers=op)
        assert r.json()["candidates"] == []
        shown = c.get(f"/v1/subjects/{sid}", headers=off).json()
        assert shown["templates"] == [] and shown["consents"][0]["active"] is False


def test_compliance_endpoints(api: tuple[str, dict[str, str]]) -> None:
    base, keys = api
    off, op, aud = h(keys["officer"]), h(keys["operator"]), h(keys["auditor"])
    with httpx.Client(base_url=base, timeout=120) as c:
        dep = c.post("/v1/deployments", json=office_manifest(), headers=off).json()["id"]
        # the public notice needs no key and holds no personal data
        r = c.get(f"/notice/{dep}")
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert "Example Trading Co., Ltd." in r.text and "privacy@example.com" in r.text
        r = c.get(f"/v1/deployments/{dep}/documents/sign", params={"size": "A3"},
                  headers=off)  # no public address yet: the QR code would lead nowhere
        assert r.status_code == 409 and r.json()["rules"] == ["notice.required"]
        r = c.get(f"/v1/deployments/{dep}/documents/sign", params={"size": "A3",
                                                                  "draft": "true"},
                  headers=off)
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
        r = c.get(f"/v1/deployments/{dep}/documents/pia", headers=off)
        assert r.status_code == 404 and r.json()["rules"] == ["pia.before-use"]
        assert c.post(f"/v1/deployments/{dep}/assessments", json=ASSESSMENT,
                      headers=aud).status_code == 403
        r = c.post(f"/v1/deployments/{dep}/assessments",
                   json=ASSESSMENT | {"sections": {"lawfulness": "x"}}, headers=off)
        assert r.status_code == 422 and "impact" in r.json()["message"]
        assert c.post(f"/v1/deployments/{dep}/assessments", json=ASSESSMENT,
                      headers=off).status_code == 201
        r = c.delete(f"/v1/deployments/{dep}/assessments/1", headers=off)
        assert r.status_code == 403 and r.json()["rules"] == ["pia.before-use"]
        r = c.get("/v1/filing", headers=aud)
        (mine,) = r.json()["operators"]
        assert r.status_code == 200 and mine["threshold"] == 10_000
        assert mine["required"] is False and mine["deployments"] == [dep]
        r = c.post("/v1/housekeeping", headers=off)
        assert r.status_code == 200 and r.json()["expired_templates"] == 0
        r = c.get("/v1/rules", params={"pack": "cn-2025"}, headers=aud)
        ids = {x["id"] for x in r.json()}
        assert "storage.on-device" in ids and "devices.annual-test" not in ids
        sid = c.post("/v1/subjects", json={"ref": "E-9"}, headers=off).json()["id"]
        r = c.post("/v1/rights/access", json={"subject": sid}, headers=off)
        assert r.status_code == 403 and r.json()["rules"] == ["rights.access"]
        r = c.post("/v1/rights/access", json={"subject": sid, "requester_verified": True},
                   headers=off)
        assert r.status_code == 200 and r.json()["templates"] == []
        r = c.post("/v1/decline", json={"deployment": dep, "transaction": "t-1"}, headers=op)
        assert r.status_code == 200
        r = c.post("/v1/verify", data={"subject": sid, "deployment": dep,
                                       "transaction": "t-1"},
                   files={"image": ("p.jpg", photo(JOLIE[0]), "image/jpeg")}, headers=op)
        assert r.status_code == 403 and "coercion.prohibited" in r.json()["rules"]
        r = c.post(f"/v1/deployments/{dep}/terminate", headers=off)
        assert r.status_code == 200 and len(r.json()["sha256"]) == 64
        r = c.post("/v1/documents/receipt", json=r.json(), params={"format": "html"},
                   headers=off)
        assert r.status_code == 200 and "html" in r.text.lower()


# ---- response models: every field the service returns reaches the client --------------------


def plain(value: Any) -> Any:
    """``value`` as JSON gives it back (dates and tuples as the API sends them)."""
    return json.loads(json.dumps(value))


def shape(value: Any) -> Any:
    """The keys, in order, at every depth, and the type of every leaf."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def same_body(got: httpx.Response, expected: Any) -> None:
    """The API sent exactly what the service returned: every key, in order, and each value."""
    assert got.status_code in (200, 201), got.text
    assert json.dumps(got.json()) == json.dumps(plain(expected))


def same_shape(got: httpx.Response, expected: Any) -> None:
    """For calls that make something new (ids, times differ): the same keys at every depth."""
    assert got.status_code in (200, 201), got.text
    assert shape(got.json()) == shape(plain(expected))


def test_responses_carry_every_field_the_service_returns(
        api: tuple[str, dict[str, str]], service: Facegate) -> None:
    base, keys = api
    off, op = h(keys["officer"]), h(keys["operator"])
    officer, operator = Actor("key:k-officer", "officer"), Actor("key:k-operator", "operator")
    with httpx.Client(base_url=base, timeout=120) as c:
        manifest = office_manifest(mode="identify")
        r = c.post("/v1/deployments", json=manifest, headers=off)
        same_shape(r, service.deployments.apply(officer, manifest))
        dep = r.json()["id"]
        r = c.post("/v1/deployments/check", json=manifest, headers=off)
        same_body(r, service.deployments.check(manifest, None, officer).to_dict())
        same_body(c.get("/v1/deployments", headers=off), service.deployments.all(officer))
        same_body(c.get(f"/v1/deployments/{dep}", headers=off),
                  service.deployments.get(officer, dep))
        same_body(c.get(f"/v1/deployments/{dep}/notice", headers=off),
                  service.deployments.notice(dep))
        r = c.post(f"/v1/deployments/{dep}/assessments", json=ASSESSMENT, headers=off)
        same_body(c.get(f"/v1/deployments/{dep}/assessments", headers=off),
                  service.assessments.all(officer, dep))

        mine = c.post("/v1/subjects", json={"ref": "E-1", "birth_date": "1990-05-01"},
                      headers=off)
        same_shape(mine, service.subjects.add(officer, "E-0", None))
        sid = mine.json()["id"]
        other = service.subjects.add(officer, "E-2")["id"]
        r = c.post("/v1/consents", json={"subject": sid, "deployment": dep,
                                         "purpose": "access_control"}, headers=off)
        same_shape(r, service.consents.grant(officer, other, dep, "access_control"))
        same_body(c.get("/v1/consents", params={"deployment": dep}, headers=off),
                  service.consents.all(officer, None, dep))

        r = c.post("/v1/enrol", data={"subject": sid, "deployment": dep},
                   files=[("images", ("a.jpg", photo(JOLIE[0]), "image/jpeg"))], headers=op)
        same_shape(r, service.matching.enrol(operator, other, dep, [photo(ID02[0])]))
        same_body(c.get(f"/v1/subjects/{sid}", headers=off), service.subjects.show(officer, sid))

        probe = photo(JOLIE[2])
        r = c.post("/v1/verify", data={"subject": sid, "deployment": dep},
                   files={"image": ("p.jpg", probe, "image/jpeg")}, headers=op)
        assert r.json()["match"] is True
        same_body(r, service.matching.verify(operator, sid, dep, probe))
        r = c.post("/v1/identify", data={"deployment": dep, "top": "3"},
                   files={"image": ("p.jpg", probe, "image/jpeg")}, headers=op)
        assert [x["subject"] for x in r.json()["candidates"]] == [sid]
        same_body(r, service.matching.identify(operator, dep, probe, 3))
        r = c.post("/v1/detect", files={"image": ("p.jpg", probe, "image/jpeg")}, headers=op)
        assert r.json()["faces"]
        same_body(r, service.matching.detect(operator, probe))
        same_shape(c.post("/v1/decline", json={"deployment": dep}, headers=op),
                   service.consents.decline(operator, dep))

        r = c.post("/v1/rights/access", json={"subject": sid, "requester_verified": True},
                   headers=off)
        assert r.json()["templates"] and r.json()["deployments"]
        same_body(r, service.rights.access(officer, sid, True))
        r = c.post(f"/v1/subjects/{sid}/export", json={"basis": "PIPL Art. 13"}, headers=off)
        same_body(r, service.exports.templates(officer, sid, "PIPL Art. 13"))
        same_body(c.get("/v1/filing", headers=off),
                  {"operators": service.filing.statuses(officer)})
        same_shape(c.post("/v1/housekeeping", headers=off), service.housekeeping.run(officer))
        same_body(c.get("/v1/audit/verify", headers=off), service.audit.verify(officer))
        same_body(c.get("/v1/audit", params={"n": 5}, headers=off),
                  service.audit.tail(officer, 5))
        same_body(c.get("/v1/rules", headers=off), rules_catalogue(None))

        admin = h(service.keys.create(ADMIN, "k-admin", "admin")["key"])
        r = c.post("/v1/keys", json={"name": "n", "role": "auditor"}, headers=admin)
        same_shape(r, service.keys.create(ADMIN, "m", "auditor"))
        made = r.json()["id"]
        assert any(k["id"] == made and k["role"] == "auditor" for k in service.keys.all(ADMIN))
        same_body(c.get("/v1/whoami", headers=admin), {"name": "key:k-admin", "role": "admin",
                                                        "deployment": None, "device": None})

        r = c.post("/v1/consents/withdraw", json={"subject": sid}, headers=off)
        assert r.json()["deleted"]["templates"]
        same_shape(r, service.consents.withdraw(officer, other))
        third = service.subjects.add(officer, "E-3")["id"]
        r = c.post("/v1/rights/delete", json={"subject": third, "requester_verified": True},
                   headers=off)
        fourth = service.subjects.add(officer, "E-4")["id"]
        same_shape(r, service.rights.delete(officer, fourth, True))
        same_shape(c.delete(f"/v1/subjects/{sid}", headers=off),
                   service.subjects.delete(officer, other))
        ended = service.deployments.apply(officer, office_manifest(id="side-door"))["id"]
        same_shape(c.post(f"/v1/deployments/{dep}/terminate", headers=off),
                   service.deployments.terminate(officer, ended))

        # each of these documents a named schema as its answer, not a bare object
        spec = c.get("/openapi.json").json()
    named = [("post", "/v1/deployments", "201"), ("post", "/v1/deployments/check", "200"),
             ("get", "/v1/deployments", "200"), ("get", "/v1/deployments/{deployment_id}", "200"),
             ("get", "/v1/deployments/{deployment_id}/notice", "200"),
             ("post", "/v1/deployments/{deployment_id}/terminate", "200"),
             ("get", "/v1/deployments/{deployment_id}/assessments", "200"),
             ("post", "/v1/subjects", "201"), ("get", "/v1/subjects/{subject_id}", "200"),
             ("delete", "/v1/subjects/{subject_id}", "200"), ("post", "/v1/consents", "201"),
             ("get", "/v1/consents", "200"), ("post", "/v1/consents/withdraw", "200"),
             ("post", "/v1/enrol", "201"), ("post", "/v1/verify", "200"),
             ("post", "/v1/identify", "200"), ("post", "/v1/detect", "200"),
             ("post", "/v1/decline", "200"), ("post", "/v1/rights/access", "200"),
             ("post", "/v1/rights/delete", "200"), ("get", "/v1/filing", "200"),
             ("post", "/v1/housekeeping", "200"), ("get", "/v1/audit", "200"),
             ("get", "/v1/audit/verify", "200"), ("post", "/v1/keys", "201"),
             ("get", "/v1/whoami", "200"), ("get", "/v1/rules", "200")]
    for method, path, status in named:
        schema = spec["paths"][path][method]["responses"][status]["content"][
            "application/json"]["schema"]
        if schema.get("type") == "array":
            schema = schema["items"]
        ref = schema.get("$ref", "")
        assert ref.startswith("#/components/schemas/"), (method, path, schema)
        model = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert model["properties"], (method, path)
