"""Security findings, each checked so that removing its fix fails a test (``security.controls``):
sessions revoked at sign-out (kept in the store, across restarts), the Secure flag from
configuration, length limits on free text, an owner-only database file, no 500 for a query
parameter, an idempotent batch rerun after a crash, and failed authentications audited and
rate-limited."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import JOLIE, office_manifest, photo, running

from facegate.api.app import create_app
from facegate.engine import Engine
from facegate.errors import BadInput, NotFound
from facegate.service import Actor, Facegate, Settings
from facegate.service.batch import enrol_batch
from facegate.service.ratelimit import FAILURE_LIMIT
from facegate.web.security import SESSION_COOKIE, secure_cookie

ADMIN = Actor("test-admin", "admin")
HUGE = "x" * (1 << 20)


@pytest.fixture()
def api(service: Facegate) -> Iterator[tuple[str, dict[str, str]]]:
    keys = {role: service.keys.create(ADMIN, f"k-{role}", role)["key"]
            for role in ("officer", "operator", "auditor")}
    for base in running(create_app(service, housekeeping_every_s=0)):
        yield base, keys


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


# ---- 1. sign-out revokes the session --------------------------------------------------------

def sign_in(c: httpx.Client, key: str) -> str:
    form = c.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text
    r = c.post("/console/login", data={"api_key": key, "csrf": token.group(1)})
    assert r.status_code == 303 and r.headers["location"] == "/console"
    return str(r.cookies[SESSION_COOKIE])


def session_csrf(cookie: str) -> str:
    body = cookie.rsplit(".", 1)[0]
    return str(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["csrf"])


def test_a_copied_session_cookie_stops_working_at_sign_out(
        api: tuple[str, dict[str, str]]) -> None:
    base, keys = api
    with httpx.Client(base_url=base, timeout=120) as c:
        cookie = sign_in(c, keys["officer"])
    copied = {SESSION_COOKIE: cookie}
    form = {"csrf": session_csrf(cookie), "action": "apply", "manifest_text": ""}

    def replay() -> httpx.Response:
        with httpx.Client(base_url=base, timeout=120, cookies=copied) as other:
            return other.post("/console/deployments", data=form)

    before = replay()
    assert before.status_code == 422  # signed in: the (empty) manifest itself is refused
    with httpx.Client(base_url=base, timeout=120, cookies=copied) as c:
        assert c.post("/console/logout").status_code == 303
    after = replay()
    assert after.status_code == 303 and after.headers["location"] == "/console/login"
    with httpx.Client(base_url=base, timeout=120, cookies=copied) as other:
        assert other.get("/console").headers["location"] == "/console/login"
    with httpx.Client(base_url=base, timeout=120) as c:  # a new sign-in still works
        fresh = sign_in(c, keys["officer"])
    assert fresh != cookie


def test_a_signed_out_session_stays_out_after_a_restart(
        service: Facegate, engine: Engine) -> None:
    """The sign-out is kept in the store: another process on the same data (a restart, or
    another worker) refuses the copied cookie too."""
    key = service.keys.create(ADMIN, "k-officer", "officer")["key"]
    for base in running(create_app(service, housekeeping_every_s=0)):
        with httpx.Client(base_url=base, timeout=120) as c:
            cookie = sign_in(c, key)
            assert c.post("/console/logout").status_code == 303
    again = Facegate(service.settings, engine)  # the service started again
    try:
        for base in running(create_app(again, housekeeping_every_s=0)):
            with httpx.Client(base_url=base, timeout=120,
                              cookies={SESSION_COOKIE: cookie}) as other:
                r = other.post("/console/deployments", data={
                    "csrf": session_csrf(cookie), "action": "apply", "manifest_text": ""})
                assert r.status_code == 303 and r.headers["location"] == "/console/login"
            with httpx.Client(base_url=base, timeout=120) as c:
                assert sign_in(c, key) != cookie
    finally:
        again.close()


# ---- 2. Secure from the configured public URL, never from Host ------------------------------

def test_the_secure_flag_follows_the_public_url_not_the_host(service: Facegate) -> None:
    assert secure_cookie("https://gate.example.com")
    assert not secure_cookie("http://127.0.0.1:8000")
    for base in running(create_app(service, housekeeping_every_s=0)):
        service.settings.public_url = "https://gate.example.com"
        r = httpx.get(base + "/console/login", headers={"Host": "127.0.0.1"})
        assert "secure" in r.headers["set-cookie"].lower()
        service.settings.public_url = "http://127.0.0.1:8000"
        r = httpx.get(base + "/console/login", headers={"Host": "gate.example.com"})
        assert "secure" not in r.headers["set-cookie"].lower()


# ---- 3. free text has a length limit ----------------------------------------------------------

def test_free_text_is_bounded_at_the_api(api: tuple[str, dict[str, str]]) -> None:
    base, keys = api
    off = h(keys["officer"])
    for path, body in [
        ("/v1/consents", {"subject": "sub_x", "deployment": "d", "purpose": "access_control",
                          "guardian_ref": HUGE}),
        ("/v1/decline", {"deployment": "d", "transaction": HUGE}),
        ("/v1/transactions/review", {"deployment": "d", "transaction": "t", "staff": HUGE}),
    ]:
        r = httpx.post(base + path, json=body, headers=off, timeout=120)
        assert r.status_code == 422, (path, r.text)
        assert "at most" in r.json()["message"]


def test_free_text_is_bounded_in_the_use_cases(service: Facegate, door: str) -> None:
    sid = str(service.subjects.add(ADMIN, "P-1", None)["id"])
    with pytest.raises(BadInput, match="guardian_ref is longer than 200"):
        service.consents.grant(ADMIN, sid, door, "access_control", "written", HUGE, "mother")
    with pytest.raises(BadInput, match="guardian_relationship is longer"):
        service.consents.grant(ADMIN, sid, door, "access_control", "written", "G-1", HUGE)
    with pytest.raises(BadInput, match="transaction is longer than 100"):
        service.consents.decline(ADMIN, door, sid, HUGE)
    with pytest.raises(BadInput, match="transaction is longer"):
        service.reviews.review(ADMIN, door, HUGE, "Wang", "confirmed")
    with pytest.raises(BadInput, match="staff is longer"):
        service.reviews.review(ADMIN, door, "T-1", HUGE, "confirmed")
    with pytest.raises(BadInput, match="incident is longer"):
        service.assessments.incident(ADMIN, door, HUGE)
    with pytest.raises(BadInput, match="transaction is longer"):
        service.matching.verify(ADMIN, sid, door, b"", transaction=HUGE)
    assert not any(HUGE[:300] in json.dumps(r) for r in service.audit.search(ADMIN, 500))


# ---- 4. the database file is the owner's only -------------------------------------------------

def test_the_database_file_is_created_owner_only(tmp_path: Path, engine: object) -> None:
    old = os.umask(0o022)
    try:
        settings = Settings(data_dir=tmp_path / "data")
        Facegate.initialise(settings)
        db = settings.data_dir / "facegate.db"
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        db.chmod(0o644)  # an installation made before: brought to 0600 on the next start
        Facegate.initialise(settings)
        files = [p for p in settings.data_dir.iterdir() if p.name.startswith("facegate.db")]
    finally:
        os.umask(old)
    assert files
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {
        p.name: 0o600 for p in files}


# ---- 5. no 500 for a query or path parameter --------------------------------------------------

def test_bad_parameters_are_422_or_404_not_500(api: tuple[str, dict[str, str]],
                                               service: Facegate) -> None:
    base, keys = api
    off = h(keys["officer"])
    with httpx.Client(base_url=base, timeout=120, headers=off) as c:
        for pack in ("", "nope"):
            r = c.get("/v1/rules", params={"pack": pack})
            assert r.status_code == 422 and "unknown rule pack" in r.json()["message"], r.text
        assert c.get("/v1/rules", params={"pack": "cn-2025"}).status_code == 200
        r = c.post("/v1/deployments/check", params={"pack": "nope"}, json=office_manifest())
        assert r.status_code == 422 and "unknown rule pack" in r.json()["message"], r.text
        dep = c.post("/v1/deployments", json=office_manifest()).json()["id"]
        r = c.delete(f"/v1/deployments/{dep}/assessments/{'9' * 24}")
        assert r.status_code == 422 and "version" in r.json()["message"], r.text
        r = c.get(f"/v1/deployments/{dep}/notice", params={"version": "9" * 24})
        assert r.status_code == 422 and "version" in r.json()["message"], r.text
    with pytest.raises(NotFound):
        service.assessments.delete(ADMIN, dep, 10 ** 23)
    with pytest.raises(NotFound):
        service.deployments.notice(dep, 10 ** 23)


# ---- 6. a batch rerun after a crash between enrolment and journal -----------------------------

def test_a_batch_rerun_after_a_crash_does_not_enrol_twice(service: Facegate, door: str,
                                                          tmp_path: Path) -> None:
    root = tmp_path / "staff"
    (root / "E-1").mkdir(parents=True)
    (root / "E-1" / "0.jpg").write_bytes(photo(JOLIE[0]))
    consents = tmp_path / "consents.csv"
    consents.write_text("ref,birth_date,method\nE-1,1980-01-02,written\n")
    # the crash: the enrolment was committed, the journal entry never written
    sid = str(service.subjects.add(ADMIN, "E-1", None)["id"])
    service.consents.grant(ADMIN, sid, door, "access_control", "written")
    service.matching.enrol(ADMIN, sid, door, [photo(JOLIE[0])])
    held = len(service.subjects.show(ADMIN, sid)["templates"])
    out = enrol_batch(service, ADMIN, root, door, consents, workers=0)
    assert out["enrolled"] == 0 and out["already_enrolled"] == 1 and not out["refused"]
    assert len(service.subjects.show(ADMIN, sid)["templates"]) == held
    again = enrol_batch(service, ADMIN, root, door, consents, workers=0)
    assert again["skipped_done"] == 1 and again["enrolled"] == 0


# ---- 7. failed authentication: audited and rate-limited ---------------------------------------

def test_failed_authentication_is_audited_and_rate_limited(
        api: tuple[str, dict[str, str]], service: Facegate) -> None:
    base, keys = api
    bad = "fg_wrong_key_value_that_must_never_be_logged"
    with httpx.Client(base_url=base, timeout=120) as c:
        codes = [c.get("/v1/deployments", headers=h(bad)).status_code
                 for _ in range(FAILURE_LIMIT + 2)]
        assert codes[:FAILURE_LIMIT] == [401] * FAILURE_LIMIT
        assert codes[FAILURE_LIMIT:] == [429, 429]
        r = c.get("/v1/deployments", headers=h(bad))
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert r.json()["rules"] == ["security.controls"]
        # the lockout is per address: a valid key from it waits out the window too
        assert c.get("/v1/deployments", headers=h(keys["officer"])).status_code == 429
    records = service.audit.search(ADMIN, 500, operation="auth.failed")
    assert len(records) == FAILURE_LIMIT
    assert all(r["decision"] == "refused" for r in records)
    text = json.dumps(records)
    assert bad not in text and bad[3:20] not in text
    assert all(r["detail"]["client"] == "127.0.0.1" for r in records)
    assert [r["detail"]["locked_out"] for r in records].count(True) == 1


def test_failed_console_sign_ins_are_audited_and_share_the_lockout(
        api: tuple[str, dict[str, str]], service: Facegate) -> None:
    base, keys = api
    bad = "fg_guessed_console_key_never_logged"
    with httpx.Client(base_url=base, timeout=120) as c:
        form = c.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        codes = [c.post("/console/login", data={"api_key": bad, "csrf": token.group(1)})
                 .status_code for _ in range(FAILURE_LIMIT)]
        assert codes == [401] * FAILURE_LIMIT
        r = c.post("/console/login", data={"api_key": keys["officer"], "csrf": token.group(1)})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert "Too many failed sign-ins" in r.text
        # one count per address: the API is locked out for it as well
        assert c.get("/v1/deployments", headers=h(keys["officer"])).status_code == 429
    records = service.audit.search(ADMIN, 500, operation="auth.failed")
    assert len(records) == FAILURE_LIMIT
    assert {r["detail"]["path"] for r in records} == {"/console/login"}
    assert bad not in json.dumps(records)


# ---- 8. an unexpected error leaves the connection usable -------------------------------------

def test_the_connection_stays_usable_after_an_unexpected_error(service: Facegate) -> None:
    app = create_app(service, housekeeping_every_s=0)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a planted fault")

    for base in running(app):
        host, port = base.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            for _ in range(3):  # the same keep-alive connection, again and again
                conn.request("GET", "/boom")
                r = conn.getresponse()
                body = json.loads(r.read())
                assert r.status == 500 and body["error"] == "internal"
                assert "planted" not in json.dumps(body)
                conn.request("GET", "/v1/rules")
                ok = conn.getresponse()
                ok.read()
                assert ok.status in (200, 401)
        finally:
            conn.close()
