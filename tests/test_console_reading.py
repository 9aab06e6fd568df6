"""What people read on the console and the public pages, over real HTTP: the audit page says
how many records it verified, the rights page's footer names the rule pack, purposes read as
names rather than codes, the audit table fits a 1280 px window in Chromium, and the site has
a favicon."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.browser import chromium, needs_chromium
from tests.conftest import ASSESSMENT, office_manifest, running
from tests.console_session import signed_in

from facegate.api.app import create_app
from facegate.engine import Engine
from facegate.service import Actor, Facegate, Settings

ADMIN = Actor("test-admin", "admin")


class Site:
    def __init__(self, base: str, keys: dict[str, str], dep: str, sid: str) -> None:
        self.base, self.keys, self.dep, self.sid = base, keys, dep, sid


@pytest.fixture()
def site(data_dir: Path, engine: Engine) -> Iterator[Site]:
    """A served installation under the cn-2025 pack: the office door, assessed, and a subject
    with a consent; a refusal with several rules in the trail."""
    settings = Settings(data_dir=data_dir, rule_pack="cn-2025")
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    keys = {role: service.keys.create(ADMIN, f"k-{role}", role)["key"]
            for role in ("officer", "operator")}
    for base in running(create_app(service, housekeeping_every_s=0)):
        with httpx.Client(base_url=base, headers={"X-API-Key": keys["officer"]},
                          timeout=120) as c:
            dep = c.post("/v1/deployments", json=office_manifest(
                least_impact="1:1 only, nothing else")).json()["id"]
            assert c.post(f"/v1/deployments/{dep}/assessments", json=ASSESSMENT
                          ).status_code == 201
            sid = c.post("/v1/subjects", json={"ref": "E-31"}).json()["id"]
            assert c.post("/v1/consents", json={"subject": sid, "deployment": dep,
                                                "purpose": "access_control"}
                          ).status_code == 201
            c.post("/v1/enrol", headers={"X-API-Key": keys["operator"]},
                   data={"subject": "sub_" + "0" * 20, "deployment": dep},
                   files=[("images", ("a.jpg", b"x", "image/jpeg"))])
        yield Site(base, keys, dep, sid)
    service.close()


def test_the_audit_page_says_how_many_records_it_verified(site: Site) -> None:
    for lang, expected in (("en", r"The chain is intact: (\d+) records verified"),
                           ("zh", r"哈希链完整：已校验 (\d+) 条记录")):
        with signed_in(site.base, site.keys["officer"], lang) as c:
            page = c.get("/console/audit", params={"verify": "1"}).text
            chain = re.search(r'data-testid="chain">(.*?)</div>', page)
            assert chain, page
            found = re.fullmatch(expected, chain.group(1))
            assert found, chain.group(1)
            api = httpx.get(site.base + "/v1/audit/verify", timeout=60,
                            headers={"X-API-Key": site.keys["officer"]}).json()
            assert int(found.group(1)) >= 5 and abs(int(found.group(1)) - api["count"]) <= 1


def test_the_rights_page_footer_names_the_rule_pack(site: Site) -> None:
    for path in (f"/rights/{site.dep}", f"/notice/{site.dep}"):
        page = httpx.get(site.base + path, params={"lang": "en"}, timeout=60).text
        footer = re.search(r'<footer class="foot">(.*?)</footer>', page, re.S)
        assert footer and "cn-2025" in footer.group(1), (path, footer)


def test_purposes_read_as_names(site: Site) -> None:
    names = {"en": "Access control", "zh": "门禁通行"}
    with httpx.Client(base_url=site.base, timeout=60) as public:
        for lang, name in names.items():
            page = public.get(f"/notice/{site.dep}", params={"lang": lang}).text
            assert name in page and ">access_control<" not in page
    for lang, name in names.items():
        with signed_in(site.base, site.keys["officer"], lang) as c:
            for path in ("/console", "/console/deployments", f"/console/deployments/{site.dep}",
                         f"/console/subjects/{site.sid}"):
                page = c.get(path).text
                assert name in page, (lang, path)
                # Read as a person does: not the form values, not the manifest's own text.
                page = re.sub(r'value="[^"]*"|<pre.*?</pre>|<textarea.*?</textarea>', "", page,
                              flags=re.S)
                shown = re.sub(r"<[^>]+>", " ", page)
                assert "access_control" not in shown, (lang, path)


def test_the_favicon_is_linked_and_served(site: Site) -> None:
    with httpx.Client(base_url=site.base, timeout=60) as c:
        page = c.get(f"/notice/{site.dep}").text
        link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
        assert link, page
        svg = c.get(link.group(1))
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg")
        assert svg.text.lstrip().startswith("<svg")
        ico = c.get("/favicon.ico", follow_redirects=True)
        assert ico.status_code == 200 and ico.content == svg.content
        assert ico.url.path == link.group(1)


@needs_chromium
def test_the_audit_table_fits_a_1280_px_window(site: Site) -> None:
    # Long values of the kind the trail holds: several rule ids, long actor names.
    with httpx.Client(base_url=site.base, headers={"X-API-Key": site.keys["officer"]},
                      timeout=120) as c:
        for i in range(3):
            c.post("/v1/consents", json={"subject": site.sid, "deployment": site.dep,
                                         "purpose": "payment"})
            c.post("/v1/deployments", json=office_manifest(
                id=("EastGateFaceCameraOfTheNorthernBuilding" * 2)[:62] + f"{i:02d}",
                location={"type": "public_bath"}))
    widths: dict[str, Any] = {}
    with chromium() as browser:
        for lang in ("en", "zh"):
            ctx = browser.new_context(viewport={"width": 1280, "height": 900},
                                      locale="en-GB" if lang == "en" else "zh-CN")
            page = ctx.new_page()
            page.goto(site.base + "/console")
            page.fill("#api_key", site.keys["officer"])
            page.click("button[type=submit] >> text=/Sign in|登录/")
            page.goto(site.base + "/console/audit")
            rows = page.locator("[data-testid=records] tr").count()
            assert rows >= 8
            widths[lang] = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]")
            ctx.close()
    for lang, (scroll, inner) in widths.items():
        assert inner == 1280 and scroll <= inner, (lang, scroll, inner)


def test_every_purpose_of_every_pack_has_a_name_in_both_languages() -> None:
    from facegate.policy import PACKS
    from facegate.policy.packs import PURPOSE_NAMES

    for name, pack in PACKS.items():
        for code in pack.params["purposes"]:
            zh, en = PURPOSE_NAMES[code]
            assert re.search(r"[\u4e00-\u9fff]", zh) and en and en != code, (name, code)
