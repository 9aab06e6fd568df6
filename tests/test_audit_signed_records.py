"""Each audit record is signed as it is written (``security.controls``): a record appended
behind the service's back, after the newest checkpoint, fails verification in the service and
offline, and no checkpoint is signed over it. Records written before records were signed are
vouched for by a checkpoint signed at the upgrade; a restored trail by one signed at the
restore."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session
from tests.conftest import AUDITOR, OFFICER
from tests.test_audit_tamper import ADMIN, drop_triggers, fill, raw_rows

from facegate.audit import offline
from facegate.audit.trail import canonical, record_hash
from facegate.errors import Conflict
from facegate.service import Facegate, Settings
from facegate.store import db


def append_behind_the_back(service: Facegate, sign: Ed25519PrivateKey | None = None) -> int:
    """What the database's owner can do without the signing key: add a record that links to
    the last one, and move the head to it (the triggers allow both)."""
    with Session(service.db) as s:
        seq, prev = s.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
    row: dict[str, Any] = {
        "seq": seq + 1, "at": "2026-12-02T08:00:00.000000+00:00", "actor": "key:officer",
        "role": "officer", "operation": "consent.withdraw", "subject": "sub_forged",
        "deployment": "hq-office-door", "purpose": "access_control", "decision": "allowed",
        "rules": ["consent.withdraw"], "detail": {}, "prev_hash": prev}
    row["hash"] = record_hash(row)
    sig = (base64.b64encode(sign.sign(offline.record_message(row["seq"], row["hash"])))
           .decode() if sign else None)
    with service.db.begin() as conn:
        conn.execute(text(
            "INSERT INTO audit_records (seq, at, actor, role, operation, subject, deployment, "
            "purpose, decision, rules, detail, prev_hash, hash, sig) VALUES (:seq, :at, :actor, "
            ":role, :operation, :subject, :deployment, :purpose, :decision, :rules, :detail, "
            ":prev_hash, :hash, :sig)"),
            {**row, "rules": canonical(row["rules"]), "detail": canonical(row["detail"]),
             "sig": sig})
        conn.execute(text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"), row)
    return int(row["seq"])


def test_every_record_is_signed_as_it_is_written(service: Facegate) -> None:
    fill(service, 3)
    cp = service.audit.checkpoint(OFFICER)
    fill(service, 2)
    rows = raw_rows(service)
    key = offline.verifying_key(cp["public_key"])
    assert rows and all(offline.record_signature_error(r, key, 0) is None for r in rows)
    assert service.audit.verify(AUDITOR)["ok"]
    # the records after the checkpoint are vouched for by their own signatures
    assert offline.verify(rows, [cp], cp["public_key"])["ok"]
    # a signature is bound to its record's place and hash
    moved = {**rows[1], "sig": rows[2]["sig"]}
    assert offline.record_signature_error(moved, key, 0)


@pytest.mark.parametrize("signer", ["unsigned", "another-key"])
def test_a_record_appended_after_the_newest_checkpoint_is_caught(
        service: Facegate, tmp_path: Path, signer: str) -> None:
    fill(service, 4)
    cp = service.audit.checkpoint(OFFICER)
    fill(service, 1)
    forged = append_behind_the_back(
        service, Ed25519PrivateKey.generate() if signer == "another-key" else None)

    mine = service.audit.verify(AUDITOR)
    assert not mine["ok"] and mine["first_broken"] == forged, mine
    against = service.audit.verify_checkpoint(AUDITOR, cp)
    assert not against["ok"] and against["first_bad"] == forged, against
    # no checkpoint launders it, on demand or on the timer
    with pytest.raises(Conflict, match=f"record {forged}"):
        service.audit.checkpoint(OFFICER)
    with pytest.raises(Conflict):
        service.audit.periodic_checkpoint(ADMIN)

    trail, cp_file = tmp_path / "trail.jsonl", tmp_path / "cp.json"
    trail.write_text(service.audit.export_jsonl(AUDITOR))
    cp_file.write_text(json.dumps(cp))
    report = offline.verify(offline.read_trail(trail), [cp], cp["public_key"])
    assert not report["ok"] and report["first_bad"] == forged, report
    assert offline.main([str(trail), "-c", str(cp_file), "-k", cp["public_key"]]) == 1


def test_an_upgraded_trail_is_vouched_for_by_a_checkpoint(service: Facegate) -> None:
    fill(service, 3)
    drop_triggers(service)  # a trail written before records were signed
    with service.db.begin() as conn:
        conn.execute(text("UPDATE audit_records SET sig = NULL"))
    before = service.audit.verify(AUDITOR)
    assert not before["ok"] and "no signature" in before["reason"], before

    Facegate.initialise(service.settings)  # the upgrade's step
    assert service.audit.verify(AUDITOR)["ok"]
    [adopted] = service.audit.search(AUDITOR, 5, operation="audit.checkpoint")
    assert adopted["detail"]["adopted"] == "upgrade"
    cp = service.audit.checkpoints(AUDITOR, 1)[0]
    assert cp["size"] == adopted["seq"] - 1
    Facegate.initialise(service.settings)  # signed records now: nothing more to vouch for
    assert len(service.audit.search(AUDITOR, 5, operation="audit.checkpoint")) == 1
    fill(service, 1)
    forged = append_behind_the_back(service)
    assert service.audit.verify(AUDITOR)["first_broken"] == forged
    Facegate.initialise(service.settings)  # an upgrade never vouches for a forgery
    assert not service.audit.verify(AUDITOR)["ok"]


def test_the_migration_adds_the_column_and_keeps_the_triggers(
        sqlite_service: Facegate) -> None:
    fill(sqlite_service, 2)
    engine = sqlite_service.db

    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("audit_records")}

    def triggers() -> set[str]:
        with engine.connect() as conn:
            return set(conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())

    kept = triggers()
    assert "sig" in columns() and "audit_records_no_update" in kept
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    cfg.attributes["engine"] = engine
    command.downgrade(cfg, "0010")  # as the release before signed records left it
    assert "sig" not in columns() and triggers() == kept
    Facegate.initialise(Settings(data_dir=sqlite_service.settings.data_dir))
    assert "sig" in columns() and triggers() == kept
    fresh = Facegate(Settings(data_dir=sqlite_service.settings.data_dir))
    try:
        assert fresh.audit.verify(AUDITOR)["ok"]
    finally:
        fresh.close()
