"""Device keys (a kiosk tablet's): an officer creates one for a device registered in a
deployment's manifest, over HTTP, with the Python client and with the CLI; the gate binds it to
that deployment, and to its device while the manifest lists it (``security.controls``); the
keys' listing tells when it was last used; revoking it ends it at once; and the migration that
added them keeps the keys made before."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from tests.conftest import JOLIE, OFFICER, assessed, office_manifest, photo, running

from facegate.api.app import create_app
from facegate.client import AsyncClient, BadRequest, Client, Refused
from facegate.engine import Engine
from facegate.service import Actor, Facegate, Settings
from facegate.service.keys import key_digest
from facegate.store import db

ADMIN = Actor("dk-admin", "admin")
OPERATOR = Actor("dk-operator", "operator")
TABLET = "door-3-tablet"


def device(device_id: str) -> dict[str, Any]:
    return {"id": device_id, "capture_area": "The 1 m in front of the tablet",
            "security_tested_on": date.today().isoformat()}


def kiosk_manifest(*devices: str, **over: Any) -> dict[str, Any]:
    """The office door in 1:N, listing ``devices``."""
    return office_manifest(mode="identify", devices=[device(d) for d in devices], **over)


@dataclass
class World:
    """The served service, an officer's and an operator's key, the door listing the tablet,
    a side door listing a tablet of the same id, and a person who consented at both."""

    service: Facegate
    base: str
    client: httpx.Client
    keys: dict[str, str]
    door: str
    side: str
    sid: str

    def device_key(self, name: str = "door-3") -> dict[str, Any]:
        return self.service.keys.create(ADMIN, name, "device", deployment=self.door,
                                        device=TABLET)

    def keys_listed(self) -> dict[str, dict[str, Any]]:
        r = self.client.get("/v1/keys", headers=h(self.keys["officer"]))
        assert r.status_code == 200, r.text
        return {k["name"]: k for k in r.json()}


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def refused(r: httpx.Response, status: int = 403) -> None:
    """Refused with ``status``, by ``security.controls``, told in English and in Chinese."""
    assert r.status_code == status, r.text
    body = r.json()
    assert "security.controls" in body["rules"], body
    assert body["message"] and body["message_zh"]


@pytest.fixture()
def world(service: Facegate) -> Iterator[World]:
    keys = {role: service.keys.create(ADMIN, f"dk-{role}", role)["key"]
            for role in ("officer", "operator")}
    door = assessed(service, kiosk_manifest(TABLET))
    side = assessed(service, kiosk_manifest(TABLET, id="side-door"))
    sid = str(service.subjects.add(OFFICER, "DK-JOLIE")["id"])
    for dep in (door, side):
        service.consents.grant(OFFICER, sid, dep, "access_control")
    for base in running(create_app(service, housekeeping_every_s=0)):
        with httpx.Client(base_url=base, timeout=120) as client:
            yield World(service, base, client, keys, door, side, sid)


def test_an_officer_creates_a_key_for_a_registered_device_only(world: World) -> None:
    off = h(world.keys["officer"])
    made = world.client.post("/v1/keys", headers=off, json={
        "name": "door-3", "role": "device", "deployment": world.door, "device": TABLET})
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["role"], body["deployment"], body["device"]) == ("device", world.door, TABLET)
    assert body["key"].startswith("fg_") and body["id"].startswith("key_")
    me = world.client.get("/v1/whoami", headers=h(body["key"])).json()
    assert me == {"name": "key:door-3", "role": "device", "deployment": world.door,
                  "device": TABLET}

    wrong: dict[str, dict[str, Any]] = {
        "unregistered": {"role": "device", "deployment": world.door, "device": "lobby-tablet"},
        "no device": {"role": "device", "deployment": world.door},
        "no deployment": {"role": "device", "device": TABLET},
        "operator naming one": {"role": "operator", "deployment": world.door, "device": TABLET},
        "auditor naming a device": {"role": "auditor", "device": TABLET},
    }
    for name, fields in wrong.items():
        r = world.client.post("/v1/keys", headers=off, json={"name": name, **fields})
        refused(r, 422)
        if name == "unregistered":
            assert "lobby-tablet" in r.json()["message"]

    unknown = world.client.post("/v1/keys", headers=off, json={
        "name": "nowhere", "role": "device", "deployment": "no-such-door", "device": TABLET})
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["error"] == "not_found" and unknown.json()["message_zh"]
    assert unknown.json()["rules"] == ["security.controls"]
    too_long = world.client.post("/v1/keys", headers=off, json={
        "name": "long", "role": "device", "deployment": world.door, "device": "t" * 65})
    assert too_long.status_code == 422 and too_long.json()["message_zh"], too_long.text
    # the gate still decides who hands out keys: an operator may not make a device key
    by_operator = world.client.post("/v1/keys", headers=h(world.keys["operator"]), json={
        "name": "by-op", "role": "device", "deployment": world.door, "device": TABLET})
    refused(by_operator)

    assert set(world.keys_listed()) == {"dk-officer", "dk-operator", "door-3"}


def test_a_device_key_matches_and_declines_at_its_own_deployment_only(world: World) -> None:
    w, c = world, world.client
    enrolled = c.post("/v1/enrol", headers=h(w.keys["operator"]),
                      data={"subject": w.sid, "deployment": w.door},
                      files=[("images", ("a.jpg", photo(JOLIE[0]), "image/jpeg"))])
    assert enrolled.status_code == 201, enrolled.text
    kiosk = h(w.device_key()["key"])
    probe = ("image", ("p.jpg", photo(JOLIE[1]), "image/jpeg"))

    verified = c.post("/v1/verify", headers=kiosk, data={"subject": w.sid, "deployment": w.door},
                      files=[probe])
    assert verified.status_code == 200 and verified.json()["match"] is True, verified.text
    found = c.post("/v1/identify", headers=kiosk, data={"deployment": w.door}, files=[probe])
    assert found.status_code == 200, found.text
    assert [x["subject"] for x in found.json()["candidates"]] == [w.sid]
    declined = c.post("/v1/decline", headers=kiosk, json={"deployment": w.door})
    assert declined.status_code == 200 and declined.json()["recorded"] is True, declined.text

    # the side door lists a tablet of the same id: the key is still the door's, not the side's
    refused(c.post("/v1/verify", headers=kiosk, data={"subject": w.sid, "deployment": w.side},
                   files=[probe]))
    refused(c.post("/v1/identify", headers=kiosk, data={"deployment": w.side}, files=[probe]))
    refused(c.post("/v1/decline", headers=kiosk, json={"deployment": w.side}))
    refused(c.post("/v1/enrol", headers=kiosk, data={"subject": w.sid, "deployment": w.door},
                   files=[("images", ("a.jpg", photo(JOLIE[2]), "image/jpeg"))]))
    refused(c.post("/v1/detect", headers=kiosk, files=[probe]))
    for path in ("/v1/subjects", f"/v1/subjects/{w.sid}", "/v1/consents", "/v1/audit",
                 "/v1/keys", "/v1/deployments"):
        refused(c.get(path, headers=kiosk))
    refused(c.post("/v1/consents", headers=kiosk, json={
        "subject": w.sid, "deployment": w.door, "purpose": "access_control"}))
    refused(c.post("/v1/keys", headers=kiosk, json={
        "name": "more", "role": "device", "deployment": w.door, "device": TABLET}))
    assert len(w.service.subjects.show(OFFICER, w.sid)["templates"]) == 1

    trail = w.service.audit.tail(ADMIN, 500)
    allowed = {(x["operation"], x["deployment"]) for x in trail
               if x["role"] == "device" and x["decision"] == "allowed"}
    assert ("decline", w.door) in allowed
    assert not any(dep == w.side for _, dep in allowed)


def test_a_device_taken_off_the_manifest_loses_its_key(world: World) -> None:
    w, c = world, world.client
    kiosk = h(w.device_key()["key"])
    probe = ("image", ("p.jpg", photo(JOLIE[1]), "image/jpeg"))

    def verify() -> httpx.Response:
        return c.post("/v1/verify", headers=kiosk, data={"subject": w.sid, "deployment": w.door},
                      files=[probe])

    w.service.matching.enrol(OPERATOR, w.sid, w.door, [photo(JOLIE[0])])
    first = verify()
    assert first.status_code == 200 and first.json()["match"] is True, first.text
    applied = c.post("/v1/deployments", headers=h(w.keys["officer"]),
                     json=kiosk_manifest("door-4-tablet"))
    assert applied.status_code in (200, 201), applied.text
    gone = verify()
    refused(gone)
    assert TABLET in gone.json()["message"]
    refused(c.post("/v1/identify", headers=kiosk, data={"deployment": w.door}, files=[probe]))
    # listed again: the same key works again
    back = c.post("/v1/deployments", headers=h(w.keys["officer"]),
                  json=kiosk_manifest(TABLET, "door-4-tablet"))
    assert back.status_code in (200, 201), back.text
    again = verify()
    assert again.status_code == 200 and again.json()["match"] is True, again.text


def test_keys_tell_a_device_s_last_use_and_a_revoked_one_is_refused(world: World) -> None:
    w, c = world, world.client
    made = c.post("/v1/keys", headers=h(w.keys["officer"]), json={
        "name": "door-3", "role": "device", "deployment": w.door, "device": TABLET}).json()
    rows = w.keys_listed()
    assert all(set(k) == {"id", "name", "role", "created_at", "revoked", "revoked_at",
                          "deployment", "device", "last_used_at"} for k in rows.values())
    assert (rows["door-3"]["deployment"], rows["door-3"]["device"]) == (w.door, TABLET)
    assert rows["door-3"]["last_used_at"] is None
    assert rows["dk-operator"]["deployment"] is None and rows["dk-operator"]["device"] is None
    assert made["key"] not in str(rows)

    assert c.get("/v1/whoami", headers=h(made["key"])).status_code == 200
    used = w.keys_listed()["door-3"]["last_used_at"]
    assert used is not None
    assert datetime.fromisoformat(used).date() >= datetime.fromisoformat(
        rows["door-3"]["created_at"]).date()
    assert w.keys_listed()["dk-operator"]["last_used_at"] is None  # only device keys note it

    gone = c.delete(f"/v1/keys/{made['id']}", headers=h(w.keys["officer"]))
    assert gone.status_code == 200 and gone.json()["revoked"] is True, gone.text
    after = c.get("/v1/whoami", headers=h(made["key"]))
    assert after.status_code == 401 and after.json()["rules"] == ["security.controls"]
    probe = ("image", ("p.jpg", photo(JOLIE[1]), "image/jpeg"))
    assert c.post("/v1/identify", headers=h(made["key"]), data={"deployment": w.door},
                  files=[probe]).status_code == 401
    assert w.keys_listed()["door-3"]["revoked"] is True


def test_the_python_clients_create_a_device_key(world: World) -> None:
    w = world
    with Client(w.base, w.keys["officer"], timeout=120) as off:
        made = off.keys.create("sdk-kiosk", "device", deployment=w.door, device=TABLET)
        assert (made["role"], made["deployment"], made["device"]) == ("device", w.door, TABLET)
        plain = off.keys.create("sdk-op", "operator")
        assert (plain["deployment"], plain["device"]) == (None, None)
        with pytest.raises(BadRequest) as bad:
            off.keys.create("sdk-nowhere", "device", deployment=w.door, device="lobby-tablet")
        assert bad.value.status == 422 and "security.controls" in bad.value.rules
        listed = {k["name"]: k for k in off.keys.list()}
        assert listed["sdk-kiosk"]["device"] == TABLET and "sdk-nowhere" not in listed
    with Client(w.base, made["key"], timeout=120) as kiosk:
        me = kiosk.keys.whoami()
        assert (me["role"], me["deployment"], me["device"]) == ("device", w.door, TABLET)
        with pytest.raises(Refused) as no:
            kiosk.subjects.get(w.sid)
        assert "security.controls" in no.value.rules

    async def in_async() -> dict[str, Any]:
        async with AsyncClient(w.base, w.keys["officer"], timeout=120) as off:
            return dict(await off.keys.create("sdk-kiosk-2", "device", deployment=w.door,
                                              device=TABLET))

    made2 = asyncio.run(in_async())
    assert (made2["deployment"], made2["device"]) == (w.door, TABLET)


def test_the_cli_creates_a_device_key(service: Facegate, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from facegate.cli.common import STATE
    from facegate.cli.main import main

    door = assessed(service, kiosk_manifest(TABLET))
    if service.settings.database_url:
        monkeypatch.setenv("FACEGATE_DATABASE_URL", service.settings.database_url)

    def fg(*args: str) -> tuple[int, dict[str, Any]]:
        try:
            with pytest.raises(SystemExit) as done:
                main(["--data", str(service.settings.data_dir), "--json", "key", "create",
                      *args])
        finally:
            if STATE._service is not None:
                STATE._service.close()
        lines = capsys.readouterr().out.strip().splitlines()
        return int(done.value.code or 0), dict(json.loads(lines[-1]))

    code, out = fg("--name", "cli-kiosk", "--role", "device", "--deployment", door,
                   "--device", TABLET)
    assert code == 0, out
    assert (out["role"], out["deployment"], out["device"]) == ("device", door, TABLET)
    me = service.keys.authenticate(out["key"])
    assert me is not None and (me.role, me.deployment, me.device) == ("device", door, TABLET)
    code, out = fg("--name", "cli-lobby", "--role", "device", "--deployment", door,
                   "--device", "lobby-tablet")
    assert code == 2 and "security.controls" in out["rules"], out
    assert "cli-lobby" not in {k["name"] for k in service.keys.all(ADMIN)}


def test_keys_made_before_device_keys_survive_the_migration(
        tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store left at revision 0009 (before device keys) with a key in it is upgraded to
    0010: the key is kept, still works, and is no device's."""
    monkeypatch.setenv("FACEGATE_KEY_FILE", str(tmp_path / "keys" / "master.key"))
    monkeypatch.delenv("FACEGATE_MASTER_KEY", raising=False)
    monkeypatch.delenv("FACEGATE_DATABASE_URL", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(db.MIGRATIONS))
        cfg.attributes["engine"] = service.db
        command.downgrade(cfg, "0009")  # as the release before device keys left it
        columns = {c["name"] for c in sa.inspect(service.db).get_columns("api_keys")}
        assert "device_id" not in columns and "last_used_at" not in columns
        old_keys = sa.table("api_keys", sa.column("id"), sa.column("name"), sa.column("role"),
                            sa.column("digest"),
                            sa.column("created_at", sa.DateTime(timezone=True)))
        with service.db.begin() as conn:
            conn.execute(old_keys.insert().values(
                id="key_0009aaaaaaaa", name="old-door", role="operator",
                digest=key_digest("fg_old"), created_at=datetime(2026, 1, 5, 9, tzinfo=UTC)))
        command.upgrade(cfg, "head")
        assert db.schema_is_current(service.db)
        columns = {c["name"] for c in sa.inspect(service.db).get_columns("api_keys")}
        assert {"deployment_id", "device_id", "last_used_at"} <= columns
        me = service.keys.authenticate("fg_old")
        assert me is not None and (me.name, me.role) == ("key:old-door", "operator")
        assert (me.deployment, me.device) == (None, None)
        (old,) = service.keys.all(ADMIN)
        assert (old["id"], old["deployment"], old["device"], old["last_used_at"]) == (
            "key_0009aaaaaaaa", None, None, None)
    finally:
        service.close()
