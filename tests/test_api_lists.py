"""Lists over real HTTP: subjects listed and found by their external reference (through the
gate, audited), cursor pagination (``limit``, ``cursor``, ``X-Next-Cursor``) on every list,
and unknown query parameters refused in the house's error shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import OFFICER, assessed, office_manifest, running

from facegate.api.app import create_app
from facegate.service import Actor, Facegate

ADMIN = Actor("lists-admin", "admin")
ROLES = ("officer", "operator", "auditor", "admin")


@pytest.fixture()
def api(service: Facegate) -> Iterator[tuple[httpx.Client, dict[str, dict[str, str]]]]:
    keys = {role: {"X-API-Key": service.keys.create(ADMIN, f"l-{role}", role)["key"]}
            for role in ROLES}
    for base in running(create_app(service, housekeeping_every_s=0)):
        with httpx.Client(base_url=base, timeout=60) as client:
            yield client, keys


def walk(client: httpx.Client, path: str, headers: dict[str, str], limit: int,
         **params: Any) -> list[list[dict[str, Any]]]:
    """Every page of a list, following ``X-Next-Cursor`` until it is absent."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = client.get(path, params=query, headers=headers)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        cursor = r.headers.get("x-next-cursor")
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor never ended"


def trail(service: Facegate, operation: str) -> list[dict[str, Any]]:
    return service.audit.tail(ADMIN, 500, operation=operation)


def test_subjects_are_listed_page_by_page_and_found_by_reference(
        service: Facegate, api: tuple[httpx.Client, dict[str, dict[str, str]]]) -> None:
    client, keys = api
    made = {service.subjects.add(OFFICER, f"E-{i:03}")["id"] for i in range(7)}
    gone = service.subjects.add(OFFICER, "E-GONE")["id"]
    service.subjects.delete(OFFICER, gone)

    pages = walk(client, "/v1/subjects", keys["officer"], 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    ids = [s["id"] for p in pages for s in p]
    assert ids == sorted(made)  # each once, by id, the deleted one absent
    assert all(set(s) == {"id", "created_at"} for p in pages for s in p)  # no identity data
    assert len(trail(service, "subject.list")) == 3

    one = service.subjects.find(OFFICER, "E-004")
    r = client.get("/v1/subjects", params={"reference": "E-004"}, headers=keys["admin"])
    assert r.status_code == 200 and [s["id"] for s in r.json()] == [one]
    assert "x-next-cursor" not in r.headers
    none = client.get("/v1/subjects", params={"reference": "E-404"}, headers=keys["officer"])
    deleted = client.get("/v1/subjects", params={"reference": "E-GONE"},
                         headers=keys["officer"])
    assert (none.status_code, none.json()) == (200, [])
    assert (deleted.status_code, deleted.json()) == (200, [])
    finds = trail(service, "subject.find")
    assert [f["subject"] for f in finds][-3:] == [one, None, None]  # deletion forgot it
    assert "E-004" not in str(finds)  # the reference itself is never written in the trail


@pytest.mark.parametrize("role", ["operator", "auditor"])
def test_only_the_officer_and_admin_list_subjects(
        role: str, service: Facegate,
        api: tuple[httpx.Client, dict[str, dict[str, str]]]) -> None:
    client, keys = api
    service.subjects.add(OFFICER, "E-1")
    for params in ({}, {"reference": "E-1"}):
        r = client.get("/v1/subjects", params=params, headers=keys[role])
        assert r.status_code == 403 and r.json()["rules"] == ["security.controls"], r.text
    refused = trail(service, "subject.read")
    assert [(x["role"], x["decision"]) for x in refused] == [(role, "refused")] * 2


def test_every_list_pages_with_the_same_cursor(
        service: Facegate, api: tuple[httpx.Client, dict[str, dict[str, str]]]) -> None:
    client, keys = api
    deps = [assessed(service, office_manifest(id=f"door-{i}")) for i in range(3)]
    for i in range(2, 5):  # assessment versions 2..4 at the first door
        service.assessments.record(OFFICER, deps[0], {
            "assessor": f"A{i}", "sections": {"lawfulness": "x", "impact": "x", "risks": "x",
                                              "protections": "x"}, "conclusion": "ok"})
    for i in range(5):
        sid = service.subjects.add(OFFICER, f"C-{i}")["id"]
        service.consents.grant(OFFICER, sid, deps[i % 3], "access_control")
    for _ in range(3):
        service.audit.checkpoint(ADMIN)
    for i in range(3):
        service.keys.create(ADMIN, f"extra-{i}", "auditor")

    lists = {
        "/v1/deployments": (keys["operator"], 2, "id", 3),
        "/v1/consents": (keys["officer"], 2, "id", 5),
        f"/v1/deployments/{deps[0]}/assessments": (keys["auditor"], 3, "version", 4),
        "/v1/audit/checkpoints": (keys["auditor"], 2, "signature", 3),
        "/v1/keys": (keys["admin"], 3, "id", 7),
    }
    for path, (headers, limit, field, total) in lists.items():
        pages = walk(client, path, headers, limit)
        items = [x[field] for p in pages for x in p]
        assert len(items) == total == len(set(items)), path
        assert all(len(p) == limit for p in pages[:-1]) and 0 < len(pages[-1]) <= limit, path
        whole = client.get(path, headers=headers).json()  # one page of the default 50
        assert [x[field] for x in whole] == items, path
    versions = [a["version"] for p in walk(client, lists_path(deps[0]), keys["officer"], 1)
                for a in p]
    assert versions == [1, 2, 3, 4]


def lists_path(dep: str) -> str:
    return f"/v1/deployments/{dep}/assessments"


def test_the_audit_trail_honours_limit_and_pages_backwards(
        service: Facegate, api: tuple[httpx.Client, dict[str, dict[str, str]]]) -> None:
    client, keys = api
    for i in range(6):
        service.subjects.add(OFFICER, f"A-{i}")
    head = client.get("/v1/audit", params={"limit": 4}, headers=keys["auditor"])
    seqs = [r["seq"] for r in head.json()]
    newest = service.audit.tail(ADMIN, 1)[0]["seq"]
    assert seqs == list(range(newest - 3, newest + 1))  # the latest four, oldest first
    pages = walk(client, "/v1/audit", keys["auditor"], 5, operation="subject.add")
    assert [len(p) for p in pages] == [5, 1]
    flat = [r["seq"] for p in reversed(pages) for r in p]  # each page oldest first
    assert flat == sorted(flat) and len(set(flat)) == 6
    assert {r["operation"] for p in pages for r in p} == {"subject.add"}
    # ``n``, the old name of the page size, still works
    assert len(client.get("/v1/audit", params={"n": 2}, headers=keys["officer"]).json()) == 2


def test_limits_and_cursors_are_checked(
        service: Facegate, api: tuple[httpx.Client, dict[str, dict[str, str]]]) -> None:
    client, keys = api
    for i in range(3):
        service.subjects.add(OFFICER, f"B-{i}")
    off = keys["officer"]
    for bad in ("0", "501", "-1", "many"):
        r = client.get("/v1/subjects", params={"limit": bad}, headers=off)
        assert r.status_code == 422 and r.json()["error"] == "bad_input", bad
        assert any(p.startswith("query.limit") for p in r.json()["problems"])
    assert client.get("/v1/subjects", params={"limit": 500}, headers=off).status_code == 200
    deps_cursor = None
    for i in range(2):
        assessed(service, office_manifest(id=f"cur-{i}"))
    deps_cursor = client.get("/v1/deployments", params={"limit": 1},
                             headers=off).headers["x-next-cursor"]
    for cursor in ("not-a-cursor", "e30", deps_cursor, "W10"):
        r = client.get("/v1/subjects", params={"cursor": cursor}, headers=off)
        body = r.json()
        assert r.status_code == 422, (cursor, r.text)
        assert body["error"] == "bad_input" and body["problems"][0].startswith("query.cursor")


def test_unknown_query_parameters_are_refused_everywhere(
        service: Facegate, api: tuple[httpx.Client, dict[str, dict[str, str]]]) -> None:
    client, keys = api
    off, op = keys["officer"], keys["operator"]
    cases = [
        ("GET", "/v1/audit", {"limt": "5"}, off),
        ("GET", "/v1/subjects", {"ref": "E-1"}, off),
        ("GET", "/v1/deployments", {"page": "2"}, op),
        ("POST", "/v1/subjects", {"debug": "1"}, off),
        ("GET", "/v1/whoami", {"x": ""}, op),
    ]
    for method, path, params, headers in cases:
        r = client.request(method, path, params=params, headers=headers,
                           json={"ref": "Q-1"} if method == "POST" else None)
        name = next(iter(params))
        assert r.status_code == 422, (path, r.text)
        assert r.json() == {"error": "bad_input",
                            "message": f"query.{name}: not a parameter of this operation",
                            "problems": [f"query.{name}: not a parameter of this operation"],
                            "rules": []} | ({"message_zh": r.json()["message_zh"]}
                                            if "message_zh" in r.json() else {})
    # nothing was done: the subject of the refused POST does not exist
    assert client.get("/v1/subjects", params={"reference": "Q-1"}, headers=off).json() == []
    # the key is checked first: without one, 401 whatever the query says
    anon = client.get("/v1/audit", params={"limt": "5"})
    assert anon.status_code == 401 and anon.json()["rules"] == ["security.controls"]
    # declared parameters still pass
    assert client.get("/v1/audit", params={"limit": 1, "operation": "x"},
                      headers=off).status_code == 200
