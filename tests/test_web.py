"""The console and the public pages in a real browser: Debian's Chromium driven by Playwright,
against a real uvicorn server on loopback, the real store and the real dlib engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.browser import chromium, needs_chromium
from tests.conftest import ASSESSMENT, JOLIE, SHARED, photo, running

from facegate.api.app import create_app
from facegate.engine import Engine
from facegate.service import Actor, Facegate, Settings

ADMIN = Actor("test-admin", "admin")

pytestmark = needs_chromium


class Site:
    def __init__(self, base: str, keys: dict[str, str], service: Facegate) -> None:
        self.base, self.keys, self.service = base, keys, service

    def api(self, method: str, path: str, role: str = "officer", **kw: Any) -> httpx.Response:
        return httpx.request(method, self.base + path, headers={"X-API-Key": self.keys[role]},
                             timeout=120, **kw)


@pytest.fixture()
def site(data_dir: Path, engine: Engine) -> Iterator[Site]:
    settings = Settings(data_dir=data_dir)
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    keys = {role: service.keys.create(ADMIN, f"k-{role}", role)["key"]
            for role in ("officer", "operator", "auditor")}
    for base in running(create_app(service, housekeeping_every_s=0)):
        yield Site(base, keys, service)
    service.close()


@pytest.fixture()
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def sign_in(page: Any, base: str, key: str) -> None:
    page.goto(base + "/console")
    assert page.url.endswith("/console/login")
    page.fill("#api_key", key)
    page.click("button[type=submit] >> text=/Sign in|登录/")


def manifest_text(**over: Any) -> str:
    raw = yaml.safe_load((SHARED / "examples" / "office-door.yaml").read_text())
    raw.update(over)
    return yaml.safe_dump(raw, allow_unicode=True)


def axe_serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']}" for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")]


def test_officer_session_end_to_end(site: Site, browser: Any, tmp_path: Path) -> None:
    ctx = browser.new_context(locale="en-GB")
    page = ctx.new_page()
    # an operator key cannot sign in to the console
    sign_in(page, site.base, site.keys["operator"])
    assert page.url.endswith("/console/login")
    assert "may not sign in" in page.inner_text("[role=alert]")
    sign_in(page, site.base, site.keys["officer"])
    assert page.url.endswith("/console")
    assert page.inner_text("[data-testid=persons]") == "0"
    cookie = next(c for c in ctx.cookies() if c["name"] == "fg_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # a manifest that is refused, then one that is accepted
    page.goto(site.base + "/console/deployments")
    bad = manifest_text(id="hotel-cam")
    bad = bad.replace("type: office_entrance", "type: hotel_room")
    page.fill("#manifest_text", bad)
    page.click("button[value=apply]")
    decision = page.inner_text("[data-testid=decision]")
    assert "refused" in decision and "place.private-space" in decision
    page.fill("#manifest_text", manifest_text(mode="identify"))
    page.click("button[value=apply]")
    assert "hq-office-door" in page.inner_text("[data-testid=applied]")
    page.goto(site.base + "/console")
    assert "blocked" in page.inner_text("main")  # no impact assessment yet: pia.before-use
    assert "pia.before-use" in page.inner_text("main")

    # the operator's side, through the REST API: assessment, subject, consent, enrolment
    assert site.api("POST", "/v1/deployments/hq-office-door/assessments",
                    json=ASSESSMENT).status_code == 201
    sid = site.api("POST", "/v1/subjects", json={"ref": "E-7001"}).json()["id"]
    assert site.api("POST", "/v1/consents", json={
        "subject": sid, "deployment": "hq-office-door",
        "purpose": "access_control"}).status_code == 201
    r = site.api("POST", "/v1/enrol", role="operator",
                 data={"subject": sid, "deployment": "hq-office-door"},
                 files=[("images", ("a.jpg", photo(JOLIE[0]), "image/jpeg"))])
    assert r.status_code == 201, r.text
    page.goto(site.base + "/console")
    assert page.inner_text("[data-testid=persons]") == "1"
    assert "live" in page.inner_text("main")
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

    # withdraw consent from the subject page
    page.goto(site.base + "/console/subjects")
    page.fill("#ref", "E-7001")
    page.click("button[type=submit] >> text=Find")
    assert page.url.endswith(f"/console/subjects/{sid}")
    assert "tpl_" in page.inner_text("[data-testid=templates]")
    page.click("button.danger >> text=Withdraw consent")
    assert sid[:8] in page.url or "withdraw" in page.url
    assert len(page.inner_text("[data-testid=receipt]")) > 64
    assert "tpl_" not in page.inner_text("[data-testid=templates]")

    # the audit record, the chain, the export
    page.goto(site.base + "/console/audit?operation=consent.withdraw")
    assert sid in page.inner_text("[data-testid=records]")
    page.click("button[name=verify]")
    assert "intact" in page.inner_text("[data-testid=chain]")
    with page.expect_download() as dl:
        page.click("text=Export CSV")
    csv_text = Path(dl.value.path()).read_text()
    assert csv_text.startswith("seq,at,actor") and "consent.withdraw" in csv_text
    page.goto(site.base + "/console/rules")
    assert "place.private-space" in page.inner_text("#place\\.private-space")

    # the dashboard counts the withdrawal and the person is gone
    page.goto(site.base + "/console")
    assert page.inner_text("[data-testid=persons]") == "0"
    assert page.inner_text("[data-testid=withdrawals]") == "1"
    ctx.close()


def test_public_pages_rights_request_and_accessibility(site: Site, browser: Any) -> None:
    assert site.api("POST", "/v1/deployments", json=yaml.safe_load(manifest_text())
                    ).status_code == 201
    site.api("POST", "/v1/deployments/hq-office-door/assessments", json=ASSESSMENT)
    sid = site.api("POST", "/v1/subjects", json={"ref": "E-42", "birth_date": "1990-05-01"}
                   ).json()["id"]
    site.api("POST", "/v1/consents", json={"subject": sid, "deployment": "hq-office-door",
                                           "purpose": "access_control"})
    ctx = browser.new_context(locale="zh-CN")  # Chinese is the default for Chinese browsers
    page = ctx.new_page()
    resp = page.goto(site.base + "/notice/hq-office-door")
    assert resp.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.get_attribute("html", "lang") == "zh-CN"
    body = page.inner_text("main")
    assert "Example Trading Co., Ltd." in body and "门禁通行" in body and "365" in body
    assert axe_serious(page) == []
    page.click("text=English")
    assert "Face recognition notice" in page.inner_text("h1")
    assert axe_serious(page) == []

    # a request the officer must handle (no proof of control)
    page.click("text=Make a rights request")
    assert axe_serious(page) == []
    page.check("#kind-access")
    page.fill("#ref", "E-42")
    page.fill("#contact", "e42@example.com")
    page.click("button[type=submit] >> text=Send")
    assert "recorded" in page.inner_text("[role=status]")
    # reference and birth date are no proof of control: this one waits for the officer too
    page.goto(site.base + "/rights/hq-office-door")
    page.check("#kind-withdraw")
    page.fill("#ref", "E-42")
    page.fill("#birth_date", "1990-05-01")
    page.click("button[type=submit] >> text=Send")
    assert "recorded" in page.inner_text("[role=status]")
    assert "template" not in page.inner_text("main").lower()
    consents = site.service.consents.all(ADMIN, sid)
    assert consents and consents[0]["active"]
    # the officer sees both requests, checks the person out of band, carries out the newest
    officer = browser.new_context(locale="en-GB").new_page()
    sign_in(officer, site.base, site.keys["officer"])
    officer.goto(site.base + "/console/requests")
    rows = officer.inner_text("[data-testid=requests]")
    assert "e42@example.com" in rows and rows.count("pending") == 2
    officer.locator("button[value=yes]").first.click()
    assert "done" in officer.inner_text("[role=status]")
    assert not site.service.consents.all(ADMIN, sid)[0]["active"]
    ctx.close()


def test_auditor_reads_only_and_forms_need_csrf(site: Site, browser: Any) -> None:
    site.api("POST", "/v1/deployments", json=yaml.safe_load(manifest_text()))
    sid = site.api("POST", "/v1/subjects", json={"ref": "E-9"}).json()["id"]
    ctx = browser.new_context(locale="en-GB")
    page = ctx.new_page()
    sign_in(page, site.base, site.keys["auditor"])
    page.goto(site.base + f"/console/subjects/{sid}")  # identity data: not for auditors
    assert "security.controls" in page.inner_text("main")
    assert page.locator("form[action$='/withdraw']").count() == 0
    page.goto(site.base + "/console/deployments")
    assert "Auditors read only" in page.inner_text("main")
    assert page.locator("#manifest_text").count() == 0
    r = page.request.post(site.base + f"/console/subjects/{sid}/delete",
                          form={"csrf": "forged"})
    assert r.status == 403
    page.goto(site.base + "/console/audit?decision=refused")
    assert "subject.read" in page.inner_text("[data-testid=records]")
    ctx.close()
    # without a session nothing of the console is served
    r = httpx.post(site.base + f"/console/subjects/{sid}/delete", data={"csrf": "x"},
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert site.service.subjects.show(ADMIN, sid)["id"] == sid
