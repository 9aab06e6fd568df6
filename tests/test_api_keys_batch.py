"""API keys managed over HTTP (listed without values, revoked with immediate effect, through
the gate and audited) and batch enrolment (``POST /v1/enrol/batch``: each subject decided and
audited on its own, errors per subject with their rule ids)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import ID02, JOLIE, OFFICER, photo, running

from facegate.api.app import create_app
from facegate.api.batch import MAX_IMAGES
from facegate.service import Actor, Facegate

ADMIN = Actor("kb-admin", "admin")
ROLES = ("officer", "operator", "auditor", "admin")


@pytest.fixture()
def api(service: Facegate) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    keys = {role: service.keys.create(ADMIN, f"kb-{role}", role)["key"] for role in ROLES}
    for base in running(create_app(service, housekeeping_every_s=0)):
        with httpx.Client(base_url=base, timeout=120) as client:
            yield client, keys


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def operations(service: Facegate, name: str) -> list[dict[str, Any]]:
    return service.audit.tail(ADMIN, 500, operation=name)


def test_keys_are_listed_without_secrets_and_revoked_at_once(
        service: Facegate, api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, keys = api
    listed = client.get("/v1/keys", headers=h(keys["admin"]))
    assert listed.status_code == 200
    rows = {k["name"]: k for k in listed.json()}
    assert set(rows) == {f"kb-{r}" for r in ROLES}
    assert all(set(k) == {"id", "name", "role", "created_at", "revoked", "revoked_at",
                          "deployment", "device", "last_used_at"} for k in rows.values())
    assert all(k["deployment"] is k["device"] is k["last_used_at"] is None
               for k in rows.values())  # no device key among them
    assert all(value not in listed.text for value in keys.values())
    assert "digest" not in listed.text
    assert not any(k["revoked"] for k in rows.values())

    target = rows["kb-operator"]["id"]
    assert client.get("/v1/whoami", headers=h(keys["operator"])).status_code == 200
    r = client.delete(f"/v1/keys/{target}", headers=h(keys["admin"]))
    assert r.status_code == 200 and r.json()["revoked"] is True
    gone = client.get("/v1/whoami", headers=h(keys["operator"]))
    assert gone.status_code == 401 and gone.json()["rules"] == ["security.controls"]
    again = client.delete(f"/v1/keys/{target}", headers=h(keys["admin"]))
    assert again.json()["revoked_at"] == r.json()["revoked_at"]  # revoked once
    after = {k["id"]: k for k in client.get("/v1/keys", headers=h(keys["admin"])).json()}
    assert after[target]["revoked"] and after[target]["revoked_at"] == r.json()["revoked_at"]

    missing = client.delete("/v1/keys/key_000000000000", headers=h(keys["admin"]))
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert [x["detail"]["key"] for x in operations(service, "key.revoke")] == [target, target]
    assert len(operations(service, "key.list")) == 2


@pytest.mark.parametrize("role", ["operator", "auditor"])
def test_only_the_gate_s_key_managers_list_or_revoke(
        role: str, service: Facegate, api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, keys = api
    other = service.keys.create(ADMIN, "victim", "auditor")
    for method, path in (("GET", "/v1/keys"), ("DELETE", f"/v1/keys/{other['id']}")):
        r = client.request(method, path, headers=h(keys[role]))
        assert r.status_code == 403 and r.json()["rules"] == ["security.controls"], r.text
    assert client.get("/v1/whoami", headers=h(other["key"])).status_code == 200
    refused = operations(service, "key.manage")
    assert [(x["role"], x["decision"]) for x in refused] == [(role, "refused")] * 2


def _consenting(service: Facegate, dep: str, ref: str) -> str:
    sid = str(service.subjects.add(OFFICER, ref)["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")
    return sid


def test_a_batch_enrols_each_subject_on_its_own(
        service: Facegate, door: str, api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, keys = api
    jolie = _consenting(service, door, "B-JOLIE")
    other = _consenting(service, door, "B-ID02")
    unconsented = str(service.subjects.add(OFFICER, "B-NONE")["id"])
    parts: list[tuple[str, bytes]] = [
        (jolie, photo(JOLIE[0])), (other, photo(ID02[0])), (unconsented, photo(ID02[1])),
        (jolie, photo(JOLIE[1])), ("sub_nobody", photo(JOLIE[2])), (other, b"not an image"),
    ]
    r = client.post("/v1/enrol/batch", headers=h(keys["operator"]),
                    data={"deployment": door, "subject": [s for s, _ in parts]},
                    files=[("images", (f"{i}.jpg", b, "image/jpeg"))
                           for i, (_, b) in enumerate(parts)])
    assert r.status_code == 200, r.text
    body = r.json()
    items = {i["subject"]: i for i in body["items"]}
    assert [i["subject"] for i in body["items"]] == [jolie, other, unconsented, "sub_nobody"]
    assert (body["enrolled"], body["failed"]) == (2, 2)

    assert items[jolie]["enrolled"] and items[jolie]["error"] is None
    assert len(items[jolie]["result"]["templates"]) == 2  # both of her images, grouped
    assert [t["image"] for t in items[jolie]["result"]["templates"]] == [0, 1]
    done = items[other]["result"]  # the photo enrolled, the bad image reported with why
    assert [t["image"] for t in done["templates"]] == [0]
    assert [(x["image"], x["error"]) for x in done["rejected"]] == [(1, "unsupported_image")]
    assert items[unconsented]["error"]["error"] == "refused"
    assert "consent.separate" in items[unconsented]["error"]["rules"]
    assert items["sub_nobody"]["error"]["error"] == "not_found"
    assert items[unconsented]["result"] is None and items["sub_nobody"]["result"] is None

    assert len(service.subjects.show(OFFICER, jolie)["templates"]) == 2
    assert len(service.subjects.show(OFFICER, other)["templates"]) == 1
    assert service.subjects.show(OFFICER, unconsented)["templates"] == []
    enrols = operations(service, "enrol")
    assert {(e["subject"], e["decision"]) for e in enrols} >= {
        (jolie, "allowed"), (unconsented, "refused")}


def test_a_batch_is_checked_before_anything_is_enrolled(
        service: Facegate, door: str, api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, keys = api
    sid = _consenting(service, door, "C-1")
    image = photo(JOLIE[0])

    def post(subjects: list[str], n: int, key: str) -> httpx.Response:
        return client.post("/v1/enrol/batch", headers=h(key),
                           data={"deployment": door, "subject": subjects},
                           files=[("images", (f"{i}.jpg", image, "image/jpeg"))
                                  for i in range(n)])

    uneven = post([sid, sid], 1, keys["operator"])
    assert uneven.status_code == 422 and uneven.json()["error"] == "bad_input"
    assert uneven.json()["problems"][0].startswith("body.subject")
    too_many = post([sid] * (MAX_IMAGES + 1), MAX_IMAGES + 1, keys["operator"])
    assert too_many.status_code in (413, 422), too_many.text
    officer = post([sid], 1, keys["officer"])
    assert officer.status_code == 403 and "security.controls" in officer.json()["rules"]
    assert service.subjects.show(OFFICER, sid)["templates"] == []
    as_json = client.post("/v1/enrol/batch", headers=h(keys["operator"]),
                          json={"deployment": door, "subject": [sid]})
    assert as_json.status_code == 422  # images come as multipart/form-data only


def test_an_officer_manages_operator_and_auditor_keys_only(
        service: Facegate, api: tuple[httpx.Client, dict[str, str]]) -> None:
    """An officer hands out and revokes door and auditor keys, never a key of the officer's
    own rank or above: that would let an officer grant more than the officer role holds."""
    client, keys = api
    off = h(keys["officer"])
    made = client.post("/v1/keys", headers=off, json={"name": "door-7", "role": "operator"})
    assert made.status_code == 201 and made.json()["role"] == "operator"
    assert client.get("/v1/whoami", headers=h(made.json()["key"])).status_code == 200
    for role in ("officer", "admin"):
        r = client.post("/v1/keys", headers=off, json={"name": f"up-{role}", "role": role})
        assert r.status_code == 403 and r.json()["rules"] == ["security.controls"], r.text
        assert "officer" in r.json()["message"] and r.json()["message_zh"]
    assert "up-admin" not in {k["name"] for k in client.get("/v1/keys", headers=off).json()}
    admin_key = service.keys.create(ADMIN, "root-2", "admin")
    r = client.delete(f"/v1/keys/{admin_key['id']}", headers=off)
    assert r.status_code == 403 and r.json()["rules"] == ["security.controls"]
    assert client.get("/v1/whoami", headers=h(admin_key["key"])).status_code == 200
    gone = client.delete(f"/v1/keys/{made.json()['id']}", headers=off)
    assert gone.status_code == 200 and gone.json()["revoked"]
    assert client.get("/v1/whoami", headers=h(made.json()["key"])).status_code == 401
    refused = [(x["role"], x["decision"]) for x in operations(service, "key.manage")]
    assert refused == [("officer", "refused")] * 3
