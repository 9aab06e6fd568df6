"""Guessing birth dates on the public rights page, over real HTTP against a real uvicorn
server (``rights.delete``, ``rights.access``, ``consent.withdraw``, ``security.controls``):
nothing is carried out at once, right and wrong guesses get the same answer, the limits
answer 429 and are audited; the officer completes a genuine request."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import ASSESSMENT, JOLIE, OFFICER, office_manifest, photo, running

from facegate.api.app import create_app
from facegate.engine import Engine
from facegate.errors import NotFound
from facegate.service import Actor, Facegate, Settings
from facegate.service.ratelimit import Limit, RateLimiter
from facegate.web.public import ANSWER_FLOOR_S

ADMIN = Actor("test-admin", "admin")
AUDITOR = Actor("test-auditor", "auditor")
DEP = "hq-office-door"
REF, BORN = "E-42", "1990-05-01"


class Site:
    def __init__(self, base: str, keys: dict[str, str], service: Facegate, sid: str) -> None:
        self.base, self.keys, self.service, self.sid = base, keys, service, sid

    def api(self, method: str, path: str, role: str = "officer", **kw: Any) -> httpx.Response:
        return httpx.request(method, self.base + path, headers={"X-API-Key": self.keys[role]},
                             timeout=120, **kw)


@pytest.fixture()
def site(data_dir: Path, engine: Engine) -> Iterator[Site]:
    """A served deployment with one enrolled subject (reference E-42, born 1990-05-01)."""
    image = photo(JOLIE[0])
    settings = Settings(data_dir=data_dir)
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    keys = {role: service.keys.create(ADMIN, f"k-{role}", role)["key"]
            for role in ("officer", "operator")}
    for base in running(create_app(service, housekeeping_every_s=0)):
        s = Site(base, keys, service, "")
        assert s.api("POST", "/v1/deployments", json=office_manifest()).status_code == 201
        assert s.api("POST", f"/v1/deployments/{DEP}/assessments",
                     json=ASSESSMENT).status_code == 201
        s.sid = s.api("POST", "/v1/subjects", json={"ref": REF, "birth_date": BORN}
                      ).json()["id"]
        assert s.api("POST", "/v1/consents", json={"subject": s.sid, "deployment": DEP,
                                                   "purpose": "access_control"}
                     ).status_code == 201
        r = s.api("POST", "/v1/enrol", role="operator", data={"subject": s.sid,
                                                               "deployment": DEP},
                  files=[("images", ("a.jpg", image, "image/jpeg"))])
        assert r.status_code == 201, r.text
        yield s
    service.close()


def send(client: httpx.Client, base: str, kind: str, ref: str, born: str) -> httpx.Response:
    """Fill in the form as a browser would: the page issues the CSRF cookie and field."""
    form = client.get(f"{base}/rights/{DEP}")
    assert form.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found
    return client.post(f"{base}/rights/{DEP}", data={
        "csrf": found.group(1), "kind": kind, "ref": ref, "birth_date": born,
        "contact": "someone@example.com"})


def shape(r: httpx.Response) -> tuple[int, str]:
    """The answer with its random request number blanked out."""
    return r.status_code, re.sub(r"req_[0-9a-f]{20}", "req_X", r.text)


def templates_of(site: Site) -> int:
    return len(site.service.subjects.show(ADMIN, site.sid)["templates"])


def test_guessing_birth_dates_learns_nothing_and_is_stopped(site: Site) -> None:
    held = templates_of(site)
    assert held >= 1
    answers = []
    with httpx.Client(timeout=60) as c:
        for born in ("1990-05-02", BORN, "1989-12-31"):  # the right date among wrong ones
            start = time.monotonic()
            r = send(c, site.base, "delete", REF, born)
            assert time.monotonic() - start >= ANSWER_FLOOR_S
            answers.append(shape(r))
        answers.append(shape(send(c, site.base, "delete", "E-404", BORN)))  # no such person
        assert answers[0][0] == 200 and all(a == answers[0] for a in answers)
        text = answers[0][1]
        assert "received" in text or "已收到" in text
        assert "template" not in text.lower() and "模板" not in text
        # the fourth try on one reference within the hour: refused
        refused = send(c, site.base, "delete", REF, "1991-01-01")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Too many requests" in refused.text and "请求过于频繁" in refused.text
        # other references from the same address: the fifth request passes, the sixth not
        assert send(c, site.base, "access", "E-405", BORN).status_code == 200
        over = send(c, site.base, "withdraw", "E-406", BORN)
        assert over.status_code == 429 and "请求过于频繁" in over.text
    # the subject is untouched, templates and consent
    assert templates_of(site) == held
    assert any(c["active"] for c in site.service.consents.all(ADMIN, site.sid))
    # the refusals are audited, with neither the reference nor the birth date in them
    records = site.service.audit.search(AUDITOR, operation="rights.request")
    refusals = [r for r in records if r["decision"] == "refused"]
    assert len(refusals) == 2
    assert all(r["rules"] == ["security.controls"] for r in refusals)
    assert {r["detail"]["limit"] for r in refusals} == {"reference", "address"}
    dumped = json.dumps(records)
    for secret in (REF, BORN, "1990-05-02", "1991-01-01", "E-406"):
        assert secret not in dumped
    # every accepted guess waits for the officer
    pending = site.service.rights.all(OFFICER, "pending")
    assert len(pending) == 5 and {r["status"] for r in site.service.rights.all(OFFICER)} == {
        "pending"}


def test_a_genuine_deletion_waits_for_the_officer(site: Site) -> None:
    with httpx.Client(timeout=60) as c:
        r = send(c, site.base, "delete", REF, BORN)
    assert r.status_code == 200 and ("received" in r.text or "已收到" in r.text)
    assert templates_of(site) >= 1  # not deleted on reference and birth date alone
    [req] = site.service.rights.all(OFFICER, "pending")
    assert req["kind"] == "delete" and req["subject"] == site.sid
    assert req["contact"] == "someone@example.com"
    done = site.service.rights.handle(OFFICER, req["id"], True)  # identity checked
    assert done["status"] == "done" and done["outcome"].startswith("deleted")
    with pytest.raises(NotFound):
        site.service.subjects.show(ADMIN, site.sid)


def test_a_request_for_a_subject_deleted_since_is_closed_truthfully(site: Site) -> None:
    """Two requests of the same person; the first deletes the subject. The second is carried
    out as 'already deleted', not left pending or rejected as unverified."""
    with httpx.Client(timeout=60) as c:
        assert send(c, site.base, "delete", REF, BORN).status_code == 200
        assert send(c, site.base, "access", REF, BORN).status_code == 200
    first, second = sorted(site.service.rights.all(OFFICER, "pending"),
                           key=lambda r: r["kind"] != "delete")
    assert site.service.rights.handle(OFFICER, first["id"], True)["status"] == "done"
    late = site.service.rights.handle(OFFICER, second["id"], True)
    assert late["status"] == "done" and "deleted" in late["outcome"], late
    assert site.service.rights.all(OFFICER, "pending") == []


def test_limiter_locks_out_until_the_window_passes() -> None:
    now = [0.0]
    limiter = RateLimiter([Limit("address", 2, 60.0), Limit("reference", 1, 600.0)],
                          clock=lambda: now[0])
    assert limiter.hit({"address": "a", "reference": "r1"}).allowed
    refused = limiter.hit({"address": "a", "reference": "r1"})
    assert not refused.allowed and refused.scope == "reference"
    assert refused.retry_after_s == 600
    assert limiter.hit({"address": "a", "reference": "r2"}).allowed  # refusals do not count
    locked = limiter.hit({"address": "a", "reference": "r3"})
    assert not locked.allowed and locked.scope == "address"
    now[0] = 59.0
    assert not limiter.hit({"address": "a", "reference": "r3"}).allowed
    now[0] = 61.0
    assert limiter.hit({"address": "a", "reference": "r3"}).allowed
    assert limiter.hit({"address": "b", "reference": "r4"}).allowed  # other keys apart
