"""The authorisation matrix, read from the OpenAPI document: every operation under ``/v1/``
is called over real HTTP with no key, with a wrong key and with a key of each role.

``MATRIX`` names the roles that may call each operation (from ``ROLE_PERMISSIONS`` in
``facegate.policy.checks.keeping`` and the use case each route calls). An operation the
OpenAPI document lists but the matrix does not, or the reverse, fails the suite: a new
endpoint needs its row here.

The key is checked by a dependency, before the body is validated, so a missing or wrong key
is 401 whatever the fields say; a body that cannot be parsed at all (not JSON, a broken
multipart) is answered 400 or 422 first, which tells the caller nothing but that. The role is
checked by the use case, after the body is validated, so each request carries a valid body:
a refused role must get 403 with ``security.controls``; an allowed role anything but 401, 500,
or a 403 naming ``security.controls``.

The ``device`` key (a kiosk) belongs to the shared deployment and to the device its manifest
lists: it may verify, identify and record a decline there, and call what every key may.

``pytest -q tests/test_authorisation_matrix.py -s`` prints the counts."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.conftest import (
    ASSESSMENT,
    JOLIE,
    OFFICER,
    assessed,
    office_manifest,
    photo,
    running,
)

from facegate.api.app import create_app
from facegate.service import Actor, Facegate

ROLES = ("operator", "officer", "auditor", "admin", "device")
ADMIN = Actor("matrix-admin", "admin")
# The kiosk every deployment of the world lists; the device key belongs to the shared one.
DEVICE = "mx-kiosk"

ALL = frozenset(ROLES)
OFFICE = frozenset({"officer", "admin"})
FACES = frozenset({"operator", "admin"})
READERS = frozenset({"operator", "officer", "auditor", "admin"})
AUDIT = frozenset({"officer", "auditor", "admin"})
FACES_OFFICE = frozenset({"operator", "officer", "admin"})
KIOSK = FACES | {"device"}
KIOSK_OFFICE = FACES_OFFICE | {"device"}

_ids = itertools.count()


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def kiosk_manifest(**over: Any) -> dict[str, Any]:
    """The office door in 1:N, listing the world's kiosk (tested today)."""
    devices = [{"id": DEVICE, "capture_area": "The 1 m in front of the tablet",
                "security_tested_on": date.today().isoformat()}]
    return office_manifest(mode="identify", devices=devices, **over)


@dataclass
class World:
    """What the requests refer to: a shared deployment and subject, and fresh ones for the
    operations that delete or change them."""

    service: Facegate
    dep: str
    sid: str
    image: bytes

    def fresh_dep(self) -> str:
        return assessed(self.service, kiosk_manifest(id=_unique("mx-d")))

    def fresh_sid(self) -> str:
        return str(self.service.subjects.add(OFFICER, _unique("MX-S-"))["id"])

    def consenting_sid(self) -> str:
        sid = self.fresh_sid()
        self.service.consents.grant(OFFICER, sid, self.dep, "access_control")
        return sid


@dataclass
class Call:
    """The request for one operation: path parameters, query, JSON body or form and files."""

    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None


def _image(w: World) -> tuple[str, tuple[str, bytes, str]]:
    return ("image", ("a.jpg", w.image, "image/jpeg"))


Maker = Callable[[World], Call]

# (method, path) -> (roles allowed, how to build a valid request)
MATRIX: dict[tuple[str, str], tuple[frozenset[str], Maker]] = {
    ("GET", "/v1/deployments"): (READERS, lambda w: Call()),
    ("POST", "/v1/deployments"): (OFFICE, lambda w: Call(
        json=office_manifest(id=_unique("mx-a")))),
    ("POST", "/v1/deployments/check"): (READERS, lambda w: Call(json=office_manifest())),
    ("GET", "/v1/deployments/{deployment_id}"): (READERS, lambda w: Call(
        path={"deployment_id": w.dep})),
    ("POST", "/v1/deployments/{deployment_id}/terminate"): (OFFICE, lambda w: Call(
        path={"deployment_id": w.fresh_dep()})),
    ("GET", "/v1/deployments/{deployment_id}/notice"): (READERS, lambda w: Call(
        path={"deployment_id": w.dep})),
    ("GET", "/v1/engine"): (OFFICE, lambda w: Call()),
    ("POST", "/v1/deployments/{deployment_id}/engine"): (OFFICE, lambda w: Call(
        path={"deployment_id": w.fresh_dep()}, json={})),
    ("POST", "/v1/deployments/{deployment_id}/rekey"): (OFFICE, lambda w: Call(
        path={"deployment_id": w.dep})),
    ("POST", "/v1/deployments/{deployment_id}/assessments"): (OFFICE, lambda w: Call(
        path={"deployment_id": w.dep}, json=ASSESSMENT)),
    ("GET", "/v1/deployments/{deployment_id}/assessments"): (AUDIT, lambda w: Call(
        path={"deployment_id": w.dep})),
    ("DELETE", "/v1/deployments/{deployment_id}/assessments/{version}"): (OFFICE, lambda w: Call(
        path={"deployment_id": w.fresh_dep(), "version": "1"})),
    ("POST", "/v1/deployments/{deployment_id}/incidents"): (OFFICE, lambda w: Call(
        path={"deployment_id": w.fresh_dep()}, json={"what": "a door left open"})),
    ("POST", "/v1/transactions/review"): (FACES, lambda w: Call(
        json={"deployment": w.dep, "transaction": "tx-1", "staff": "guard",
              "outcome": "confirmed"})),
    ("GET", "/v1/filing"): (AUDIT, lambda w: Call()),
    ("POST", "/v1/filing"): (OFFICE, lambda w: Call(
        json={"kind": "filing", "filed_on": "2026-01-05", "reference": "R-1"})),
    ("POST", "/v1/housekeeping"): (OFFICE, lambda w: Call()),
    ("POST", "/v1/rights/access"): (OFFICE, lambda w: Call(
        json={"subject": w.sid, "requester_verified": True})),
    ("POST", "/v1/rights/delete"): (OFFICE, lambda w: Call(
        json={"subject": w.fresh_sid(), "requester_verified": True})),
    ("POST", "/v1/subjects/{subject_id}/export"): (OFFICE, lambda w: Call(
        path={"subject_id": w.sid}, json={"basis": "the person asked"})),
    ("GET", "/v1/deployments/{deployment_id}/documents/{kind}"): (READERS, lambda w: Call(
        path={"deployment_id": w.dep, "kind": "notice"}, query={"format": "html"})),
    ("POST", "/v1/documents/receipt"): (OFFICE, lambda w: Call(
        query={"format": "html"}, json={"sha256": "0" * 64})),
    ("GET", "/v1/filing/dossier"): (OFFICE, lambda w: Call(query={"format": "html"})),
    ("POST", "/v1/subjects"): (OFFICE, lambda w: Call(json={"ref": _unique("MX-R-")})),
    ("GET", "/v1/subjects"): (OFFICE, lambda w: Call(query={"limit": "5"})),
    ("GET", "/v1/subjects/{subject_id}"): (OFFICE, lambda w: Call(path={"subject_id": w.sid})),
    ("DELETE", "/v1/subjects/{subject_id}"): (OFFICE, lambda w: Call(
        path={"subject_id": w.fresh_sid()})),
    ("POST", "/v1/consents"): (OFFICE, lambda w: Call(
        json={"subject": w.fresh_sid(), "deployment": w.dep, "purpose": "access_control"})),
    ("GET", "/v1/consents"): (OFFICE, lambda w: Call()),
    ("POST", "/v1/consents/withdraw"): (OFFICE, lambda w: Call(
        json={"subject": w.consenting_sid()})),
    ("POST", "/v1/decline"): (KIOSK_OFFICE, lambda w: Call(json={"deployment": w.dep})),
    ("POST", "/v1/enrol"): (FACES, lambda w: Call(
        data={"subject": w.sid, "deployment": w.dep},
        files=[("images", ("a.jpg", w.image, "image/jpeg"))])),
    ("POST", "/v1/enrol/batch"): (FACES, lambda w: Call(
        data={"deployment": w.dep, "subject": w.sid},
        files=[("images", ("a.jpg", w.image, "image/jpeg"))])),
    ("POST", "/v1/verify"): (KIOSK, lambda w: Call(
        data={"subject": w.sid, "deployment": w.dep}, files=[_image(w)])),
    ("POST", "/v1/identify"): (KIOSK, lambda w: Call(
        data={"deployment": w.dep}, files=[_image(w)])),
    ("POST", "/v1/detect"): (FACES, lambda w: Call(files=[_image(w)])),
    # No attribute analysis exists: every caller is refused (422, attributes.sensitive)
    # without the role being consulted, so no role is refused by security.controls.
    ("GET", "/v1/attributes"): (ALL, lambda w: Call(query={"names": "age"})),
    ("GET", "/v1/rules"): (ALL, lambda w: Call()),
    ("GET", "/v1/audit"): (AUDIT, lambda w: Call()),
    ("GET", "/v1/audit/verify"): (AUDIT, lambda w: Call()),
    ("POST", "/v1/audit/checkpoints"): (AUDIT, lambda w: Call()),
    ("GET", "/v1/audit/checkpoints"): (AUDIT, lambda w: Call()),
    ("GET", "/v1/audit/proof/{seq}"): (AUDIT, lambda w: Call(path={"seq": "1"})),
    ("GET", "/v1/audit/trail"): (AUDIT, lambda w: Call()),
    ("POST", "/v1/keys"): (OFFICE, lambda w: Call(
        json={"name": _unique("mx-k"), "role": "auditor"})),
    ("GET", "/v1/keys"): (OFFICE, lambda w: Call()),
    ("DELETE", "/v1/keys/{key_id}"): (OFFICE, lambda w: Call(path={
        "key_id": w.service.keys.create(ADMIN, _unique("mx-r"), "auditor")["id"]})),
    ("GET", "/v1/whoami"): (ALL, lambda w: Call()),
}


@pytest.fixture()
def served(sqlite_service: Facegate) -> Iterator[tuple[str, FastAPI]]:
    app = create_app(sqlite_service, housekeeping_every_s=0)
    for base in running(app):
        yield base, app


def operations(base: str) -> set[tuple[str, str]]:
    """Every (method, path) under ``/v1/`` in the served OpenAPI document."""
    doc = httpx.get(base + "/openapi.json", timeout=30).json()
    return {(method.upper(), path) for path, ops in doc["paths"].items()
            if path.startswith("/v1/") for method in ops}


def test_matrix_and_openapi_name_the_same_operations(served: tuple[str, FastAPI]) -> None:
    base, _ = served
    listed = operations(base)
    missing = sorted(listed - MATRIX.keys())
    stale = sorted(MATRIX.keys() - listed)
    problems = []
    if missing:
        problems.append("operations without a role rule; add it to the authorisation matrix "
                        f"in {__name__}: " + ", ".join(f"{m} {p}" for m, p in missing))
    if stale:
        problems.append("authorisation matrix entries with no operation in the OpenAPI "
                        "document: " + ", ".join(f"{m} {p}" for m, p in stale))
    assert not problems, "\n".join(problems)


def _send(client: httpx.Client, method: str, path: str, call: Call,
          key: str | None) -> httpx.Response:
    headers = {} if key is None else {"X-API-Key": key}
    return client.request(method, path.format(**call.path), params=call.query or None,
                          json=call.json, data=call.data, files=call.files, headers=headers)


def _rules(r: httpx.Response) -> list[str]:
    try:
        body = r.json()
    except ValueError:
        return []
    return list(body.get("rules") or []) if isinstance(body, dict) else []


def test_every_operation_answers_each_role_as_the_matrix_says(
        served: tuple[str, FastAPI], sqlite_service: Facegate) -> None:
    base, _ = served
    service = sqlite_service
    dep = assessed(service, kiosk_manifest())
    keys = {role: service.keys.create(ADMIN, f"mx-{role}", role)["key"]
            for role in ROLES if role != "device"}
    keys["device"] = service.keys.create(ADMIN, "mx-device", "device", deployment=dep,
                                         device=DEVICE)["key"]
    sid = service.subjects.add(OFFICER, "MX-SUBJECT")["id"]
    service.consents.grant(OFFICER, sid, dep, "access_control")
    world = World(service, dep, sid, photo(JOLIE[0]))
    service.matching.enrol(Actor("mx-op", "operator"), sid, dep, [world.image])

    problems: list[str] = []
    statuses: Counter[str] = Counter()
    checked = 0
    rows: list[str] = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for (method, path), (allowed, make) in sorted(MATRIX.items()):
            name = f"{method} {path}"
            # Two failed authentications per operation, well under the lockout limit.
            service.keys.failures.forget()
            for label, key in (("no key", None), ("wrong key", "fg_wrong_key")):
                r = _send(client, method, path, make(world), key)
                statuses[f"{label}:{r.status_code}"] += 1
                if r.status_code != 401 or _rules(r) != ["security.controls"]:
                    problems.append(f"{name} with {label}: {r.status_code} {r.text[:200]}")
            row = []
            for role in ROLES:
                r = _send(client, method, path, make(world), keys[role])
                checked += 1
                row.append(f"{role}={r.status_code}")
                statuses[f"{role}:{r.status_code}"] += 1
                refused = r.status_code == 403 and "security.controls" in _rules(r)
                if r.status_code >= 500 or r.status_code in (401, 429):
                    problems.append(f"{name} as {role}: {r.status_code} {r.text[:200]}")
                elif role in allowed and refused:
                    problems.append(f"{name} as {role}: refused by role, matrix allows it")
                elif role not in allowed and not refused:
                    problems.append(f"{name} as {role}: {r.status_code} {r.text[:200]}, "
                                    "expected 403 security.controls")
            rows.append(f"  {name}: {' '.join(row)}")

    by_status = Counter(s.split(":")[1] for s in statuses.elements() if ":" in s)
    print(f"\nauthorisation matrix: {len(MATRIX)} operations x {len(ROLES)} roles = {checked} "
          f"role checks, plus {2 * len(MATRIX)} without a valid key")
    print("statuses:", dict(sorted(by_status.items())))
    for role in ("no key", "wrong key", *ROLES):
        seen = {k.split(":")[1]: v for k, v in statuses.items() if k.startswith(role + ":")}
        print(f"  {role:>9}: {dict(sorted(seen.items()))}")
    print("\n".join(rows))
    assert not problems, "\n".join(problems)
