"""Every error body the API returns tells people what went wrong in English (``message``) and
in Chinese (``message_zh``), over real HTTP, without saying any clause twice: schema
validation (422), an unknown key (401), a role (403), the gate's refusals (403, 409, 422), bad
images (422, 413, 415) and something unknown (404); also the 413 of a request too large and
the 500 of an unexpected error, which no handler writes, the OpenAPI error schema, and the
console's error page, in the page's language."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from PIL import Image
from tests.conftest import JOLIE, photo, running
from tests.console_session import signed_in

from facegate.api.app import create_app
from facegate.errors import NotFound, Refused
from facegate.policy import decide
from facegate.service import Actor, Facegate

ADMIN = Actor("test-admin", "admin")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Clauses are what lies between these marks; a rule id before a colon counts as one.
CLAUSE_MARKS = re.compile(r"[;；。，：]|: |, ")


def clauses(text: str) -> list[str]:
    return [c.strip() for c in CLAUSE_MARKS.split(text) if c.strip()]


def repeated(text: str) -> list[str]:
    """The clauses of ``text`` said more than once."""
    found = clauses(text)
    return sorted({c for c in found if found.count(c) > 1})


def told_in_both(body: dict[str, Any]) -> None:
    en, zh = body.get("message"), body.get("message_zh")
    assert isinstance(en, str) and en.strip(), body
    assert isinstance(zh, str) and zh.strip(), body
    assert CJK.search(zh), body
    assert repeated(en) == [], (en, repeated(en))
    assert repeated(zh) == [], (zh, repeated(zh))


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def api(service: Facegate, door: str) -> Iterator[tuple[httpx.Client, dict[str, str], str]]:
    keys = {role: service.keys.create(ADMIN, f"k-{role}", role)["key"]
            for role in ("officer", "operator")}
    for base in running(create_app(service, housekeeping_every_s=0)):
        with httpx.Client(base_url=base, timeout=120) as client:
            yield client, keys, door


def test_every_kind_of_error_is_told_in_english_and_chinese(
        api: tuple[httpx.Client, dict[str, str], str]) -> None:
    c, keys, door = api
    off, op = {"X-API-Key": keys["officer"]}, {"X-API-Key": keys["operator"]}
    sid = c.post("/v1/subjects", json={"ref": "E-77"}, headers=off).json()["id"]
    seen: dict[str, int] = {}

    def check(name: str, r: httpx.Response, status: int, error: str | None = None) -> None:
        assert r.status_code == status, (name, r.status_code, r.text)
        body = r.json()
        if error is not None:
            assert body["error"] == error, (name, body)
        told_in_both(body)
        seen[name] = r.status_code

    # Schema validation (422): the consent names no purpose.
    check("validation", c.post("/v1/consents", json={"subject": sid, "deployment": door},
                               headers=off), 422, "bad_input")
    # An unknown key (401), and none at all.
    check("unknown key", c.get("/v1/deployments", headers={"X-API-Key": "fg_wrong"}), 401)
    check("no key", c.get("/v1/deployments"), 401)
    # A role (403): operators do not register deployments.
    check("role", c.post("/v1/deployments", json={"id": "x"}, headers=op), 403, "refused")
    # The gate: a private space (403), a deployment with no purpose (422), a sign for an
    # address only this machine reaches (409), a purpose the deployment does not serve (403,
    # two reasons under one rule).
    bath = {"id": "sauna", "name": "Sauna", "purpose": "access_control",
            "operator": {"name": "Example Co.", "contact": "privacy@example.com"},
            "necessity": "n", "mode": "verify", "retention_days": 30,
            "location": {"type": "public_bath", "venue": "other", "public_place": False,
                         "capture_area": "the door"},
            "alternative": {"method": "badge_at_guard_desk", "description": "the guard"}}
    check("private space", c.post("/v1/deployments", json=bath, headers=off), 403, "refused")
    nopurpose = {k: v for k, v in bath.items() if k != "purpose"} | {
        "id": "np", "location": {**bath["location"], "type": "office_entrance"}}
    r = c.post("/v1/deployments", json=nopurpose, headers=off)
    check("no purpose", r, 422, "refused")
    assert "purpose.declared" in r.json()["rules"]
    check("sign", c.get(f"/v1/deployments/{door}/documents/sign", headers=off), 409)
    r = c.post("/v1/consents", json={"subject": sid, "deployment": door,
                                     "purpose": "payment"}, headers=off)
    check("other purpose", r, 403, "refused")
    assert r.json()["message"].count("purpose.bound") == 1, r.json()["message"]
    assert r.json()["message_zh"].count("purpose.bound") == 1, r.json()["message_zh"]
    # The gate refuses enrolment before any consent (403), naming each rule once.
    files = [("images", ("a.jpg", photo(JOLIE[0]), "image/jpeg"))]
    check("no consent", c.post("/v1/enrol", data={"subject": sid, "deployment": door},
                               files=files, headers=op), 403, "refused")
    # Bad images: too small (422), too many pixels (413), not an image (415).
    r = c.post("/v1/consents", json={"subject": sid, "deployment": door,
                                     "purpose": "access_control"}, headers=off)
    assert r.status_code == 201, r.text
    form = {"subject": sid, "deployment": door}
    check("too small", c.post("/v1/verify", data=form, headers=op,
                              files=[("image", ("a.png", png(10, 10), "image/png"))]),
          422, "image_too_small")
    check("too many pixels", c.post("/v1/verify", data=form, headers=op,
                                    files=[("image", ("a.png", png(12000, 10000, "1"),
                                                      "image/png"))]),
          413, "image_too_large")
    check("not an image", c.post("/v1/verify", data=form, headers=op,
                                 files=[("image", ("a.jpg", b"not an image", "image/jpeg"))]),
          415, "unsupported_image")
    # Something unknown (404): a subject, and a path under /v1.
    check("unknown subject", c.get("/v1/subjects/sub_nobody", headers=off), 404, "not_found")
    check("unknown path", c.get("/v1/nowhere", headers=off), 404, "not_found")
    assert set(seen.values()) >= {401, 403, 404, 409, 413, 415, 422}


def test_a_reason_given_twice_is_told_once() -> None:
    """Two findings of one rule with the same reason (as two checks may give) make one clause
    in each language, not two."""
    from tests.test_rules import CASES

    _, unlawful = CASES["place.private-space"]()
    decision = decide(unlawful)
    failed = [f for f in decision.findings if not f.passed]
    assert failed
    doubled = replace(decision, findings=(*decision.findings, *failed))
    body = Refused(doubled.message(), rules=doubled.refused_by,
                   details={"decision": doubled.to_dict()}).to_dict()
    assert doubled.message().count(failed[0].reason_en) == 2  # what the gate itself says
    told_in_both(body)
    assert body["message"].count(failed[0].reason_en) == 1
    assert body["message_zh"].count(failed[0].reason_zh) == 1


def test_the_bodies_outside_the_handlers_are_told_in_both(service: Facegate) -> None:
    """The 413 a request too large gets before any parsing (``BodyLimit``) and the 500 of an
    unexpected error (``ContainErrors``) carry ``message_zh`` too; the OpenAPI document's
    error schema declares it."""
    service.settings.image_limits = replace(service.settings.image_limits,
                                            max_request_bytes=4096)
    app = create_app(service, housekeeping_every_s=0)

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("a planted fault")

    key = service.keys.create(ADMIN, "k-officer", "officer")["key"]
    for base in running(app):
        with httpx.Client(base_url=base, timeout=120, headers={"X-API-Key": key}) as c:
            big = c.post("/v1/subjects", content=b"{" + b" " * 8192 + b"}",
                         headers={"content-type": "application/json"})
            assert big.status_code == 413, big.text
            assert big.json()["error"] == "image_too_large"
            assert big.json()["rules"] == ["images.no-retention"]
            told_in_both(big.json())
            assert "4096" in big.json()["message"] and "4096" in big.json()["message_zh"]
            failed = c.get("/v1/boom")
            assert failed.status_code == 500 and failed.json()["error"] == "internal"
            told_in_both(failed.json())
            assert "planted" not in failed.text
            schema = c.get("/openapi.json").json()["components"]["schemas"]["ErrorOut"]
    assert {"message", "message_zh"} <= set(schema["properties"])
    assert {"error", "message", "message_zh"} <= set(schema["required"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_console_tells_an_error_in_the_page_language(service: Facegate, lang: str) -> None:
    officer = Actor("k-officer", "officer")
    with pytest.raises(NotFound) as missing:
        service.subjects.show(officer, "sub_nobody")
    with pytest.raises(NotFound) as unknown:
        service.subjects.find(officer, "nobody-ref")
    key = service.keys.create(ADMIN, "k-officer", "officer")["key"]
    for base in running(create_app(service, housekeeping_every_s=0)):
        with signed_in(base, key, lang) as console:
            for path, error in (("/console/subjects/sub_nobody", missing.value),
                                ("/console/subjects?ref=nobody-ref", unknown.value)):
                r = console.get(path)
                assert r.status_code == 404, r.text
                text = html.unescape(r.text)
                en, zh = error.messages()
                assert CJK.search(zh) and en != zh
                assert (zh in text, en in text) == ((True, False) if lang == "zh"
                                                    else (False, True)), (path, text)
