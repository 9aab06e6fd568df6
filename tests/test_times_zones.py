"""Every time the API and the CLI tell is in the installation's zone with its offset, whatever
zone the settings name: subjects, keys, rights requests, enrolment and exports, housekeeping,
terminations, deletion receipts and their documents, the audit trail's latest records and its
checkpoints. The records are stored and hashed in UTC: the trail for the offline verifier is
unchanged, and a checkpoint read through the API verifies. The installation's clock is fixed at
2026-12-01T20:00Z; each zone tells that instant differently, so a zone assumed anywhere
instead of the configured one fails here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from tests.conftest import ASSESSMENT, JOLIE, office_manifest, photo, running

from facegate.api.app import create_app
from facegate.audit import offline
from facegate.engine import Engine
from facegate.service import Actor, Facegate, Settings

ADMIN = Actor("test-admin", "admin")
EVENT = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
# The zone, and how the API tells EVENT there. Europe/London is UTC in December: "+00:00",
# never "Z" and never a naive time.
ZONES = {
    "Europe/London": "2026-12-01T20:00:00+00:00",
    "America/New_York": "2026-12-01T15:00:00-05:00",
    "Asia/Shanghai": "2026-12-02T04:00:00+08:00",
}
OFFSET = re.compile(r"[+-]\d\d:\d\d$")


@dataclass
class Site:
    base: str
    zone: str
    told: str  # EVENT as the API tells it in ``zone``
    keys: dict[str, str]
    service: Facegate

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"X-API-Key": self.keys[role]},
                            timeout=120)


@pytest.fixture(params=sorted(ZONES))
def site(request: pytest.FixtureRequest, data_dir: Path, engine: Engine) -> Iterator[Site]:
    zone = str(request.param)
    settings = Settings(data_dir=data_dir, timezone=zone, clock=lambda: EVENT)
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    keys = {role: service.keys.create(ADMIN, f"k-{role}", role)["key"]
            for role in ("admin", "officer", "operator")}
    for base in running(create_app(service, housekeeping_every_s=0)):
        yield Site(base, zone, ZONES[zone], keys, service)
    service.close()


def later(days: int, zone: str) -> str:
    """EVENT plus ``days``, as ISO 8601 in ``zone``."""
    return (EVENT + timedelta(days=days)).astimezone(ZoneInfo(zone)).isoformat()


def test_the_zones_tell_one_instant_three_ways() -> None:
    assert len(set(ZONES.values())) == len(ZONES)
    for zone, told in ZONES.items():
        assert datetime.fromisoformat(told) == EVENT and later(0, zone) == told


def test_every_time_the_api_tells_is_in_the_installation_zone(site: Site) -> None:
    told = site.told
    manifest = office_manifest()
    with site.client("officer") as off, site.client("operator") as op:
        dep = off.post("/v1/deployments", json=manifest).json()["id"]
        assert off.post(f"/v1/deployments/{dep}/assessments", json=ASSESSMENT
                        ).status_code == 201
        assert off.get(f"/v1/deployments/{dep}").json()["updated_at"] == told
        made = off.post("/v1/subjects", json={"ref": "E-1"})
        assert made.status_code == 201, made.text
        sid = made.json()["id"]
        assert made.json()["created_at"] == told
        assert [s["created_at"] for s in off.get("/v1/subjects").json()] == [told]
        assert off.post("/v1/consents", json={"subject": sid, "deployment": dep,
                                              "purpose": "access_control"}
                        ).json()["granted_at"] == told
        enrolled = op.post("/v1/enrol", data={"subject": sid, "deployment": dep},
                           files=[("images", ("a.jpg", photo(JOLIE[0]), "image/jpeg"))])
        assert enrolled.status_code == 201, enrolled.text
        expires = later(manifest["retention_days"], site.zone)
        assert enrolled.json()["expires_at"] == expires
        held = off.get(f"/v1/subjects/{sid}").json()
        assert held["created_at"] == told
        assert [c["granted_at"] for c in held["consents"]] == [told]
        assert [(t["created_at"], t["expires_at"]) for t in held["templates"]] == [
            (told, expires)]
        access = off.post("/v1/rights/access", json={"subject": sid,
                                                      "requester_verified": True})
        assert access.status_code == 200, access.text
        assert [t["expires_at"] for t in access.json()["templates"]] == [expires]
        exported = off.post(f"/v1/subjects/{sid}/export", json={"basis": "PIPL Art. 13"})
        assert [t["expires_at"] for t in exported.json()["templates"]] == [expires]

        receipt = off.post("/v1/consents/withdraw", json={"subject": sid}).json()
        assert receipt["at"] == told
        page = off.post("/v1/documents/receipt", json=receipt,
                        params={"lang": "en", "format": "html"})
        assert page.status_code == 200 and told in page.text
        other = off.post("/v1/subjects", json={"ref": "E-2"}).json()["id"]
        assert off.delete(f"/v1/subjects/{other}").json()["at"] == told
        dossier = off.get("/v1/filing/dossier", params={"lang": "en", "format": "html"})
        assert dossier.status_code == 200, dossier.text
        assert told in dossier.text  # the checkpoint it signed
        assert off.post(f"/v1/deployments/{dep}/terminate").json()["at"] == told

    with site.client("admin") as admin:
        assert admin.post("/v1/housekeeping").json()["at"] == told
        new = admin.post("/v1/keys", json={"name": "door-2", "role": "operator"}).json()
        assert admin.delete(f"/v1/keys/{new['id']}").json()["revoked_at"] == told
        listed = {k["id"]: k for k in admin.get("/v1/keys").json()}
        assert (listed[new["id"]]["created_at"], listed[new["id"]]["revoked_at"]) == (
            told, told)


def test_rights_requests_are_told_in_the_installation_zone(site: Site) -> None:
    service = site.service
    dep = service.deployments.apply(ADMIN, office_manifest())["id"]
    service.subjects.add(ADMIN, "E-5")
    rid = service.rights.submit(dep, "access", "E-5", None, "e5@example.com")["id"]
    assert [(r["created_at"], r["handled_at"]) for r in service.rights.all(ADMIN)] == [
        (site.told, None)]
    service.rights.handle(ADMIN, rid, verified=False)
    [done] = service.rights.all(ADMIN)
    assert (done["created_at"], done["handled_at"]) == (site.told, site.told)


def test_the_trail_is_told_locally_and_verified_as_stored(site: Site) -> None:
    with site.client("officer") as off:
        off.post("/v1/subjects", json={"ref": "E-3"})
        shown = off.get("/v1/audit").json()
        cp = off.post("/v1/audit/checkpoints").json()
        stored = [json.loads(line) for line in off.get("/v1/audit/trail").text.splitlines()]
        kept = off.get("/v1/audit/checkpoints").json()
    assert shown and len(stored) >= len(shown)
    by_seq = {r["seq"]: r for r in stored}
    for record in shown:
        raw = by_seq[record["seq"]]
        assert raw["at"].endswith("+00:00")  # stored as it was hashed
        assert offline.record_hash(raw) == raw["hash"] == record["hash"]
        assert OFFSET.search(record["at"]) and record["at"].startswith(site.told[:19])
        assert datetime.fromisoformat(record["at"]) == datetime.fromisoformat(raw["at"])
        assert {k: v for k, v in record.items() if k != "at"} == {
            k: v for k, v in raw.items() if k != "at"}
    assert cp["at"] == site.told and [c["at"] for c in kept] == [site.told]
    report = offline.verify(stored, [cp], cp["public_key"])
    assert report["ok"], report


def test_the_cli_tells_the_configured_zone(tmp_path: Path) -> None:
    """A real process: ``FACEGATE_TIMEZONE`` decides the offset of what the CLI prints
    (Asia/Kolkata, +05:30 all year, is no zone assumed anywhere)."""
    env = {**os.environ, "FACEGATE_TIMEZONE": "Asia/Kolkata",
           "FACEGATE_KEY_FILE": str(tmp_path / "keys" / "master.key")}
    env.pop("FACEGATE_MASTER_KEY", None)
    env.pop("FACEGATE_DATABASE_URL", None)

    def fg(*args: str, json_out: bool = True) -> str:
        proc = subprocess.run([sys.executable, "-m", "facegate.cli.main", "--data",
                               str(tmp_path / "data"), *(["--json"] if json_out else []),
                               *args], capture_output=True, text=True, timeout=300, env=env,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
        return proc.stdout

    fg("init")
    added = json.loads(fg("subject", "add", "--ref", "E-4"))
    assert added["created_at"].endswith("+05:30"), added
    rows = json.loads(fg("audit", "tail", "-n", "3"))["records"]
    assert rows and all(r["at"].endswith("+05:30") for r in rows), rows
    human = fg("audit", "tail", "-n", "3", json_out=False).splitlines()
    assert len(human) == 3 and all(
        re.search(r" \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30 ", line) for line in human), human
