"""The kiosk's test site: a real store and engine, a deployment with a registered device, two
enrolled people (E-1001, E-2002) and that device's key, served by uvicorn on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import ID02, JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo, running

from facegate.api.app import create_app
from facegate.engine import Engine
from facegate.service import Actor, Facegate, Settings

DEVICE = {"id": "door-3-tablet", "capture_area": "In front of the floor-3 door",
          "security_tested_on": "2026-06-01"}
AUDITOR = Actor("kiosk-auditor", "auditor")


@dataclass
class Kiosk:
    base: str
    service: Facegate
    dep: str
    key: str
    data_dir: Path

    @property
    def url(self) -> str:
        return f"{self.base}/kiosk/{self.dep}"

    def trail(self, transaction: str) -> list[tuple[str, str, dict[str, Any]]]:
        """The audit records of one kiosk transaction: operation, decision, detail."""
        recs = self.service.audit.page(AUDITOR, 500, deployment=self.dep)
        return [(r["operation"], r["decision"], r.get("detail") or {}) for r in reversed(recs)
                if (r.get("detail") or {}).get("transaction") == transaction]


def enrolled(service: Facegate, dep: str, ref: str, image: bytes) -> str:
    sid = str(service.subjects.add(OFFICER, ref)["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")
    service.matching.enrol(OPERATOR, sid, dep, [image])
    return sid


@contextmanager
def kiosk_site(data_dir: Path, engine: Engine) -> Iterator[Kiosk]:
    settings = Settings(data_dir=data_dir)
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    dep = assessed(service, office_manifest(devices=[DEVICE]))
    enrolled(service, dep, "E-1001", photo(JOLIE[0]))
    enrolled(service, dep, "E-2002", photo(ID02[0]))
    key = str(service.keys.create(OFFICER, "door-3-tablet", "device", deployment=dep,
                                  device=DEVICE["id"])["key"])
    try:
        for base in running(create_app(service, housekeeping_every_s=0)):
            yield Kiosk(base, service, dep, key, data_dir)
    finally:
        service.close()


def signed_in_client(c: httpx.Client, k: Kiosk) -> tuple[str, dict[str, str]]:
    """Sign ``c`` in at the kiosk; a new transaction and the page's CSRF header."""
    token = c.get(f"/kiosk/{k.dep}").cookies.get("fg_login_csrf")
    assert c.post(f"/kiosk/{k.dep}/login",
                  data={"api_key": k.key, "csrf": token}).status_code == 303
    html = c.get(f"/kiosk/{k.dep}").text
    tx = html.split('data-transaction="')[1].split('"')[0]
    return tx, {"X-CSRF-Token": html.split('data-csrf="')[1].split('"')[0]}


def as_device(k: Kiosk, dep: str | None = None) -> Actor:
    return Actor("key:door-3-tablet", "device", dep or k.dep, DEVICE["id"])
