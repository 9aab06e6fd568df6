"""Signed checkpoints live where the database cannot rewrite them (``security.controls``): every
checkpoint is also written to a folder outside the data directory; the REST API, the console
(auditors included) and the filing dossier hand them out with the whole trail; a timer signs
one when records were added; and a trail rewritten behind the service's back fails against a
checkpoint taken from any of those places, in the offline verifier too."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.conftest import OFFICER, assessed, office_manifest, running

from facegate.api.app import create_app
from facegate.audit import merkle, offline
from facegate.audit.trail import verify_chain
from facegate.crypto.signing import checkpoint_dir
from facegate.service import Actor, Facegate

ADMIN = Actor("test-admin", "admin")
SYSTEM = Actor("system:housekeeping", "admin")


@pytest.fixture()
def api(sqlite_service: Facegate) -> Iterator[tuple[str, dict[str, str]]]:
    keys = {role: sqlite_service.keys.create(ADMIN, f"k-{role}", role)["key"]
            for role in ("officer", "operator", "auditor")}
    for base in running(create_app(sqlite_service, housekeeping_every_s=0)):
        yield base, keys


def trail_of(r: httpx.Response) -> list[dict[str, object]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in r.text.splitlines()]


def forge_record(service: Facegate, seq: int) -> None:
    """The database's owner edits a record and rehashes it and every later one, moving the
    head to match, so the chain check alone passes."""
    with service.db.begin() as conn:
        for name in ("audit_records_no_update", "audit_head_forward_only"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        conn.execute(text("UPDATE audit_records SET actor = 'someone-else' WHERE seq = :s"),
                     {"s": seq})
        prev = conn.execute(text("SELECT hash FROM audit_records WHERE seq = :s"),
                            {"s": seq - 1}).scalar_one()
        for row in [dict(m) for m in conn.execute(text(
                "SELECT * FROM audit_records WHERE seq >= :s ORDER BY seq"),
                {"s": seq}).mappings()]:
            row["rules"], row["detail"] = json.loads(row["rules"]), json.loads(row["detail"])
            row["prev_hash"] = prev
            prev = offline.record_hash(row)
            conn.execute(text("UPDATE audit_records SET prev_hash = :p, hash = :h "
                              "WHERE seq = :s"),
                         {"p": row["prev_hash"], "h": prev, "s": row["seq"]})
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})


def test_checkpoints_over_rest_are_kept_outside_and_catch_a_rewrite(
        api: tuple[str, dict[str, str]], sqlite_service: Facegate) -> None:
    base, keys = api
    service = sqlite_service
    assessed(service, office_manifest())
    with httpx.Client(base_url=base, timeout=60) as c:
        r = c.post("/v1/audit/checkpoints", headers={"X-API-Key": keys["auditor"]})
        assert r.status_code == 200, r.text
        cp = r.json()
        folder = checkpoint_dir(service.settings.data_dir)
        assert not folder.resolve().is_relative_to(service.settings.data_dir.resolve())
        kept = [json.loads(p.read_text()) for p in folder.glob("checkpoint-*.json")]
        assert cp in kept
        assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.iterdir())
        listed = c.get("/v1/audit/checkpoints", headers={"X-API-Key": keys["officer"]}).json()
        assert listed[0] == cp
        assert c.post("/v1/audit/checkpoints",
                      headers={"X-API-Key": keys["operator"]}).status_code == 403

        rows = trail_of(c.get("/v1/audit/trail", headers={"X-API-Key": keys["auditor"]}))
        assert offline.verify(rows, [cp], cp["public_key"])["ok"]
        proof = c.get("/v1/audit/proof/2", params={"size": cp["size"]},
                      headers={"X-API-Key": keys["auditor"]}).json()
        assert proof["root"] == cp["root"]
        assert merkle.verify_inclusion(bytes.fromhex(proof["hash"]), 1, cp["size"],
                                       [bytes.fromhex(h) for h in proof["proof"]],
                                       bytes.fromhex(cp["root"]))
        assert c.get("/v1/audit/proof/99999", headers={"X-API-Key": keys["auditor"]}
                     ).status_code == 422

        forge_record(service, 2)
        with Session(service.db) as s:
            assert verify_chain(s).ok  # the chain alone is fooled
        mine = service.audit.verify(ADMIN)  # the record's signature and the kept checkpoint
        assert not mine["ok"] and mine["first_broken"] == 2, mine  # are not
        after = trail_of(c.get("/v1/audit/trail", headers={"X-API-Key": keys["auditor"]}))
    report = offline.verify(after, [cp], cp["public_key"], earlier=rows)
    assert not report["ok"] and report["first_bad"] == 2


def test_auditors_download_checkpoints_and_the_trail_from_the_console(
        api: tuple[str, dict[str, str]]) -> None:
    base, keys = api
    with httpx.Client(base_url=base, timeout=60) as c:
        form = c.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        c.post("/console/login", data={"api_key": keys["auditor"], "csrf": token.group(1)})
        r = c.get("/console/audit/checkpoint.json")
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
        cp = r.json()
        assert offline.signature_error(cp) is None
        page = c.get("/console/audit")
        assert cp["root"][:16] in page.text and cp["public_key"] in page.text
        rows = trail_of(c.get("/console/audit/trail.jsonl"))
        assert offline.verify(rows, [cp], cp["public_key"])["ok"]


def test_the_filing_dossier_carries_a_signed_checkpoint(sqlite_service: Facegate) -> None:
    service = sqlite_service
    assessed(service, office_manifest())
    doc = service.documents.make(OFFICER, "filing", lang="en")
    [cp] = service.audit.checkpoints(OFFICER)
    assert cp["root"] in doc.html and cp["signature"] in doc.html
    assert "Signed checkpoint of the audit trail" in doc.html
    base64.b64decode(cp["signature"], validate=True)


def test_a_checkpoint_is_signed_on_a_timer_when_records_were_added(
        sqlite_service: Facegate) -> None:
    service = sqlite_service
    first = service.audit.periodic_checkpoint(SYSTEM)
    assert first is not None
    assert service.audit.periodic_checkpoint(SYSTEM) is None  # only its own record since
    assessed(service, office_manifest())
    second = service.audit.periodic_checkpoint(SYSTEM)
    assert second is not None and second["size"] > first["size"]
    folder: Path = checkpoint_dir(service.settings.data_dir)
    assert len(list(folder.glob("checkpoint-*.json"))) == 2
