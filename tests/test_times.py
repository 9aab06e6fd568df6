"""Times people read are in the installation's zone with its offset: one event, stored in UTC,
falls on the same day in the API, on the console and in the documents. The installation's
clock is fixed at 2026-12-01T20:00Z, which is 2026-12-02 04:00 in Asia/Shanghai."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import ASSESSMENT, office_manifest, running
from tests.console_session import signed_in

from facegate.api.app import create_app
from facegate.engine import Engine
from facegate.localtime import iso_local, shown
from facegate.service import Actor, Facegate, Settings

ADMIN = Actor("test-admin", "admin")
EVENT = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
API_TIME = "2026-12-02T04:00:00+08:00"
PAGE_TIME = "2026-12-02 04:00 +08:00"


@pytest.fixture()
def fixed(data_dir: Path, engine: Engine) -> Iterator[tuple[str, dict[str, str], str]]:
    """A served installation whose clock stands at ``EVENT``, a deployment and a subject with
    a consent granted then."""
    settings = Settings(data_dir=data_dir, clock=lambda: EVENT)
    assert settings.timezone == "Asia/Shanghai"
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    keys = {role: service.keys.create(ADMIN, f"k-{role}", role)["key"]
            for role in ("officer", "operator")}
    for base in running(create_app(service, housekeeping_every_s=0)):
        off = {"X-API-Key": keys["officer"]}
        with httpx.Client(base_url=base, headers=off, timeout=120) as c:
            dep = c.post("/v1/deployments", json=office_manifest()).json()["id"]
            assert c.post(f"/v1/deployments/{dep}/assessments", json=ASSESSMENT
                          ).status_code == 201
            sid = c.post("/v1/subjects", json={"ref": "E-9"}).json()["id"]
            r = c.post("/v1/consents", json={"subject": sid, "deployment": dep,
                                             "purpose": "access_control"})
            assert r.status_code == 201, r.text
        yield base, keys, sid
    service.close()


def test_the_helpers_convert_at_the_edge() -> None:
    assert iso_local(EVENT) == API_TIME
    assert iso_local("2026-12-01T20:00:00") == API_TIME  # naive, as SQLite returns: UTC
    assert shown("2026-12-01T20:00:00+00:00") == PAGE_TIME
    assert shown(EVENT, seconds=True) == "2026-12-02 04:00:00 +08:00"
    assert iso_local(None) is None and shown(None) == ""


def test_an_event_at_2000z_is_on_the_2nd_everywhere(
        fixed: tuple[str, dict[str, str], str]) -> None:
    base, keys, sid = fixed
    off = {"X-API-Key": keys["officer"]}
    with httpx.Client(base_url=base, headers=off, timeout=120) as c:
        consent = c.get("/v1/consents", params={"subject": sid}).json()
        items: list[dict[str, Any]] = consent if isinstance(consent, list) else consent["items"]
        assert [x["granted_at"] for x in items] == [API_TIME]
        held = c.get(f"/v1/subjects/{sid}").json()
        assert [x["granted_at"] for x in held["consents"]] == [API_TIME]
        receipt = c.post("/v1/consents/withdraw", json={"subject": sid}).json()
        assert receipt["at"] == API_TIME
        after = c.get("/v1/consents", params={"subject": sid}).json()
        after_items = after if isinstance(after, list) else after["items"]
        assert [x["withdrawn_at"] for x in after_items] == [API_TIME]
        for lang in ("en", "zh"):
            doc = c.post("/v1/documents/receipt", json=receipt,
                         params={"lang": lang, "format": "html"})
            assert doc.status_code == 200, doc.text
            assert API_TIME in doc.text, lang
            assert "2026-12-01" not in doc.text

    with signed_in(base, keys["officer"]) as console:
        page = console.get(f"/console/subjects/{sid}").text
        assert page.count(PAGE_TIME) >= 2, page  # granted and withdrawn
        assert "2026-12-01" not in page
        audit = console.get("/console/audit").text
        assert "2026-12-02 04:00:00 +08:00" in audit
        assert "2026-12-01" not in audit
