"""The console's devices section in a real browser (Debian's Chromium, a real uvicorn server,
the real store): each registered device with its security test and when the next is due
(``devices.annual-test``), its keys with their last activity, and the forms that create and
revoke a device key (``security.controls``).

With ``FACEGATE_SCREENSHOTS`` naming a directory, the officer's test saves the section there as
``console-devices.png``."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.browser import chromium, needs_chromium
from tests.conftest import ASSESSMENT, office_manifest, running
from tests.test_web import axe_serious, sign_in

from facegate.api.app import create_app
from facegate.engine import Engine
from facegate.service import Actor, Facegate, Settings

ADMIN = Actor("test-admin", "admin")
DEP = "hq-office-door"
RECENT = {"id": "door-3f-tablet", "capture_area": "The 2 m x 2 m area in front of the "
          "floor-3 door", "security_tested_on": "2026-02-20"}
OLD = {"id": "door-3f-side", "capture_area": "The side entrance of floor 3",
       "security_tested_on": "2025-06-10"}  # next test due 2026-06-10

pytestmark = needs_chromium


class Clock:
    """The service's clock, moved by the test (the manifest is registered while both devices
    are within their 12 months; later one of them is not)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Site:
    def __init__(self, base: str, keys: dict[str, str], service: Facegate,
                 clock: Clock) -> None:
        self.base, self.keys, self.service, self.clock = base, keys, service, clock

    def decline(self, key: str) -> httpx.Response:
        """What a kiosk does when a person chooses the alternative: a request with its key."""
        return httpx.post(self.base + "/v1/decline", headers={"X-API-Key": key},
                          json={"deployment": DEP}, timeout=60)


@pytest.fixture()
def site(data_dir: Path, engine: Engine) -> Iterator[Site]:
    clock = Clock()
    settings = Settings(data_dir=data_dir, clock=clock)
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    keys = {role: service.keys.create(ADMIN, f"k-{role}", role)["key"]
            for role in ("officer", "auditor")}
    service.deployments.apply(ADMIN, office_manifest(devices=[RECENT, OLD]))
    service.assessments.record(ADMIN, DEP, ASSESSMENT)
    clock.now = datetime(2026, 7, 1, 1, 30, tzinfo=UTC)  # OLD is now past its 12 months
    for base in running(create_app(service, housekeeping_every_s=0)):
        yield Site(base, keys, service, clock)
    service.close()


@pytest.fixture()
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def officer_page(site: Site, browser: Any, locale: str = "en-GB") -> Any:
    page = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900}
                               ).new_page()
    sign_in(page, site.base, site.keys["officer"])
    page.goto(site.base + f"/console/deployments/{DEP}")
    return page


def row(page: Any, device: str) -> str:
    return str(page.inner_text(f"[data-testid=device-table] tr[data-device='{device}']"))


def test_officer_creates_watches_and_revokes_a_device_key(site: Site, browser: Any) -> None:
    page = officer_page(site, browser)
    section = page.inner_text("[data-testid=devices]")
    assert "Devices" in section and "every 12 months" in section
    assert "2026-02-20" in row(page, RECENT["id"]) and "on time" in row(page, RECENT["id"])
    assert "2027-02-20" in row(page, RECENT["id"])
    assert "2025-06-10" in row(page, OLD["id"]) and "2026-06-10" in row(page, OLD["id"])
    assert "overdue" in row(page, OLD["id"]) and "overdue" not in row(page, RECENT["id"])
    assert "This device has no key yet." in section

    # create a key for the recently tested device: its value is shown once
    page.fill("#key-name-1", "Tablet at the floor-3 door")
    with page.expect_navigation() as made_page:
        page.click("[data-testid=key-new] >> nth=0 >> button")
    assert made_page.value.headers["cache-control"] == "no-store"
    value = page.inner_text("[data-testid=key-value]").strip()
    assert value.startswith("fg_") and len(value) > 30
    assert "shown only this once" in page.inner_text("[role=alert]")
    assert page.get_attribute("[data-testid=kiosk]", "href") == f"/kiosk/{DEP}"
    made = [k for k in site.service.keys.all(ADMIN, DEP) if k["role"] == "device"]
    assert [(k["name"], k["device"]) for k in made] == [("Tablet at the floor-3 door",
                                                         RECENT["id"])]

    # back on the deployment's page the value is gone; the key has not been used
    page.goto(site.base + f"/console/deployments/{DEP}")
    assert value not in page.content()
    keys = page.locator("[data-testid=keys-1]")
    assert "Tablet at the floor-3 door" in keys.inner_text()
    assert keys.locator("[data-testid=last-used]").inner_text() == "never"
    assert keys.locator("[data-testid=key-status]").inner_text() == "active"
    page.reload()
    assert value not in page.content()

    # the kiosk uses it: the last activity is then a time
    site.clock.now = datetime(2026, 7, 1, 1, 42, tzinfo=UTC)
    assert site.decline(value).status_code == 200
    page.reload()
    last = keys.locator("[data-testid=last-used]").inner_text()
    assert last != "never" and re.search(r"2026-07-01.*09:42", last), last
    shots = os.environ.get("FACEGATE_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        page.locator("[data-testid=devices]").screenshot(
            path=str(Path(shots) / "console-devices.png"))

    # revoked from the page: the key is refused from then on
    keys.locator("button.danger").click()
    assert page.url.endswith(f"/console/deployments/{DEP}?revoked={made[0]['id']}#devices")
    assert made[0]["id"] in page.inner_text("[data-testid=key-flash]")
    assert "revoked" in keys.locator("[data-testid=key-status]").inner_text()
    assert keys.locator("button.danger").count() == 0
    assert site.decline(value).status_code == 401


def test_an_auditor_sees_the_devices_but_no_keys_or_forms(site: Site, browser: Any) -> None:
    site.service.keys.create(ADMIN, "Secret tablet name", "device", DEP, RECENT["id"])
    page = browser.new_context(locale="en-GB").new_page()
    sign_in(page, site.base, site.keys["auditor"])
    resp = page.goto(site.base + f"/console/deployments/{DEP}")
    assert resp.status == 200
    assert "overdue" in row(page, OLD["id"]) and "on time" in row(page, RECENT["id"])
    section = page.inner_text("[data-testid=devices]")
    assert "shown to officers and admins only" in section
    assert "Secret tablet name" not in page.content()
    assert page.locator("[data-testid=devices] form").count() == 0
    assert page.locator("form[action*='/keys']").count() == 0
    # the auditor's visit asked for no key listing: nothing refused in the trail for it
    assert site.service.audit.search(ADMIN, 50, decision="refused") == []


def test_the_section_is_accessible_in_english_and_chinese(site: Site, browser: Any) -> None:
    site.service.keys.create(ADMIN, "Tablet at the floor-3 door", "device", DEP,
                             RECENT["id"])
    page = officer_page(site, browser)
    assert page.locator("[data-testid=key-new]").count() == 2
    assert axe_serious(page) == []
    page.click("text=中文")
    assert "采集设备" in page.inner_text("[data-testid=devices]")
    assert "已逾期" in row(page, OLD["id"])
    assert "从未使用" in page.inner_text("[data-testid=keys-1]")
    assert axe_serious(page) == []
    # a deployment without devices says so, and where they are declared
    site.service.deployments.apply(ADMIN, office_manifest(id="lobby", devices=[]))
    page.goto(site.base + "/console/deployments/lobby?lang=en")
    told = page.inner_text("[data-testid=no-devices]")
    assert "devices field" in told and "devices.annual-test" in told
    assert axe_serious(page) == []


def test_the_forms_need_the_session_token(site: Site, browser: Any) -> None:
    made = site.service.keys.create(ADMIN, "Tablet", "device", DEP, RECENT["id"])
    page = officer_page(site, browser)
    create = site.base + f"/console/deployments/{DEP}/devices/{RECENT['id']}/keys"
    revoke = site.base + f"/console/deployments/{DEP}/keys/{made['id']}/revoke"
    for url, form in ((create, {"name": "forged"}), (revoke, {})):
        assert page.request.post(url, form=form).status == 403
        assert page.request.post(url, form={**form, "csrf": "forged"}).status == 403
    keys = [k for k in site.service.keys.all(ADMIN, DEP) if k["role"] == "device"]
    assert [(k["name"], k["revoked"]) for k in keys] == [("Tablet", False)]
    assert site.decline(made["key"]).status_code == 200
    # with the token, the service's refusals are shown as the console's error page
    csrf = page.get_attribute("[data-testid=key-new] input[name=csrf] >> nth=0", "value")
    r = page.request.post(site.base + f"/console/deployments/{DEP}/devices/nope/keys",
                          form={"csrf": csrf, "name": "x"})
    assert r.status == 422 and "is not registered" in r.text()
    r = page.request.post(site.base + f"/console/deployments/{DEP}/devices/nope/keys?lang=zh",
                          form={"csrf": csrf, "name": "x"})
    assert r.status == 422 and "无法完成" in r.text()
    # without a session nothing is changed
    r = httpx.post(revoke, data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert site.decline(made["key"]).status_code == 200
