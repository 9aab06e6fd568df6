"""Tampering with the audit trail behind the service's back (``security.controls``).

An attacker with the database owner's rights drops the triggers and rewrites the trail so
that the hash chain still verifies: truncating the end and rewinding the head, editing a
record and rehashing the rest, slipping in a forged record, deleting everything. A signed
checkpoint (Merkle root, RFC 9162) kept outside the database catches each, in the service and
in the offline verifier; the head trigger refuses a rewind while the triggers stand."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from tests.conftest import AUDITOR, OFFICER

from facegate.audit import merkle, offline
from facegate.audit.trail import GENESIS, canonical, record_hash, records, verify_chain
from facegate.service import Actor, Facegate

ADMIN = Actor("root", "admin")
Rows = list[dict[str, Any]]


def fill(service: Facegate, n: int = 6) -> None:
    for i in range(n):
        service.keys.create(ADMIN, f"door-{i}", "operator")


def raw_rows(service: Facegate) -> Rows:
    with Session(service.db) as s:
        return list(records(s))


def drop_triggers(service: Facegate) -> None:
    """What the database owner can do: take the triggers away."""
    with service.db.begin() as conn:
        if service.db.dialect.name == "sqlite":
            for name in ("audit_records_no_update", "audit_records_no_delete",
                         "audit_head_forward_only", "audit_head_no_delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            conn.execute(text("ALTER TABLE audit_records DISABLE TRIGGER USER"))
            conn.execute(text("ALTER TABLE audit_head DISABLE TRIGGER USER"))


def rewrite(service: Facegate, change: Callable[[Rows], Rows]) -> None:
    """Replace the trail with ``change(rows)``, rechained and with the head moved to match,
    so that the plain chain check passes. Records whose place and hash did not change keep
    their signatures (which then still verify)."""
    rows = change(raw_rows(service))
    prev = GENESIS
    for i, row in enumerate(rows, start=1):
        row["seq"], row["prev_hash"] = i, prev
        row["hash"] = prev = record_hash(row)
    drop_triggers(service)
    with service.db.begin() as conn:
        conn.execute(text("DELETE FROM audit_records"))
        for row in rows:
            conn.execute(text(
                "INSERT INTO audit_records (seq, at, actor, role, operation, subject, "
                "deployment, purpose, decision, rules, detail, prev_hash, hash, sig) VALUES "
                "(:seq, :at, :actor, :role, :operation, :subject, :deployment, :purpose, "
                ":decision, :rules, :detail, :prev_hash, :hash, :sig)"),
                {"sig": None, **row, "rules": canonical(row["rules"]),
                 "detail": canonical(row["detail"])})
        conn.execute(text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"),
                     {"seq": len(rows), "hash": prev})


def truncate(rows: Rows) -> Rows:
    """The last signed record goes, with the checkpoint's and the export's own records."""
    return rows[:-3]


def edit(rows: Rows) -> Rows:
    rows[2]["actor"] = "someone-else"
    return rows


def forge(rows: Rows) -> Rows:
    fake = {**rows[3], "actor": "key:intruder", "operation": "key.create", "rules": []}
    return [*rows[:3], fake, *rows[3:]]


def forge_tail(rows: Rows) -> Rows:
    """The last signed record (before the checkpoint's and the export's own records) is
    replaced by a forged one appended in its place."""
    return [*rows[:-3], {**rows[-3], "actor": "key:intruder"}, *rows[-2:]]


def wipe(rows: Rows) -> Rows:
    return []


# case -> (first bad record given the earlier export, as a function of the signed size)
CASES: dict[str, tuple[Callable[[Rows], Rows], Callable[[int], int]]] = {
    "truncate-and-rewind": (truncate, lambda size: size),
    "edit-and-rehash": (edit, lambda size: 3),
    "forged-record-inserted": (forge, lambda size: 4),
    "forged-record-appended-in-place": (forge_tail, lambda size: size),
    "delete-everything": (wipe, lambda size: 1),
}


def offline_run(tmp_path: Path, rows: Rows, cps: list[dict[str, Any]], key: str
                ) -> subprocess.CompletedProcess[str]:
    """The offline verifier as its own process; it must not load the service or the store."""
    trail = tmp_path / "trail.jsonl"
    trail.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = [str(trail), "--public-key", key, "--json"]
    for i, cp in enumerate(cps):
        (tmp_path / f"cp{i}.json").write_text(json.dumps(cp))
        args += ["--checkpoint", str(tmp_path / f"cp{i}.json")]
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['verify'] + {args!r}\n"
        "try:\n    runpy.run_module('facegate.audit.offline', run_name='__main__')\n"
        "except SystemExit as e:\n    rc = e.code\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'sqlalchemy' or "
        "m.startswith(('facegate.store', 'facegate.service', 'facegate.audit.trail'))]\n"
        "assert not bad, bad\nsys.exit(rc)\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)


def test_an_untouched_trail_passes(service: Facegate, tmp_path: Path) -> None:
    fill(service)
    first = service.audit.checkpoint(OFFICER)
    fill(service, 3)
    second = service.audit.checkpoint(AUDITOR)
    assert second["size"] > first["size"]
    for cp in (first, second):
        out = service.audit.verify_checkpoint(AUDITOR, cp)
        assert out["ok"], out
    rows = service.audit.export_trail(AUDITOR)
    key = first["public_key"]
    assert offline.verify(rows, [first, second], key)["ok"]
    proc = offline_run(tmp_path, rows, [first, second], key)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert json.loads(proc.stdout)["ok"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampering_fails_against_a_signed_checkpoint(service: Facegate, tmp_path: Path,
                                                     case: str) -> None:
    change, first_bad = CASES[case]
    fill(service)
    cp = service.audit.checkpoint(OFFICER)
    earlier = service.audit.export_trail(AUDITOR)
    rewrite(service, change)
    with Session(service.db) as s:
        assert verify_chain(s).ok  # the chain alone is fooled
    mine = service.audit.verify(AUDITOR)  # the checkpoint kept outside is not
    assert not mine["ok"], mine
    if case != "edit-and-rehash":  # (naming record 3 needs the earlier export)
        assert mine["first_broken"] == first_bad(cp["size"]), mine

    out = service.audit.verify_checkpoint(AUDITOR, cp)
    assert not out["ok"], out
    with_earlier = service.audit.verify_checkpoint(AUDITOR, cp, earlier)
    assert not with_earlier["ok"]
    assert with_earlier["first_bad"] == first_bad(cp["size"]), with_earlier

    rows = raw_rows(service)
    report = offline.verify(rows, [cp], cp["public_key"], earlier)
    assert not report["ok"] and report["first_bad"] == first_bad(cp["size"]), report
    proc = offline_run(tmp_path, rows, [cp], cp["public_key"])
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert not json.loads(proc.stdout)["ok"]


def test_a_checkpoint_signed_by_another_key_is_refused(service: Facegate) -> None:
    fill(service, 2)
    cp = service.audit.checkpoint(OFFICER)
    forged = {**cp, "root": hashlib.sha256(b"other").hexdigest()}
    out = service.audit.verify_checkpoint(AUDITOR, forged)
    assert not out["ok"] and "signature" in out["reason"]
    other = offline.verify(raw_rows(service), [cp], "A" * 43 + "=")
    assert not other["ok"] and "another key" in other["reason"]


def test_an_inclusion_proof_verifies_against_a_signed_checkpoint(service: Facegate) -> None:
    fill(service, 5)
    cp = service.audit.checkpoint(AUDITOR)
    assert offline.signature_error(cp, cp["public_key"]) is None
    proof = service.audit.prove(AUDITOR, 3, cp["size"])
    path = [bytes.fromhex(h) for h in proof["proof"]]
    root, size = bytes.fromhex(cp["root"]), cp["size"]
    assert merkle.verify_inclusion(bytes.fromhex(proof["hash"]), 2, size, path, root)
    record = raw_rows(service)[2]
    assert record_hash(record) == proof["hash"]
    changed = record_hash({**record, "decision": "refused"})
    assert not merkle.verify_inclusion(bytes.fromhex(changed), 2, size, path, root)


def test_the_head_trigger_refuses_a_rewind(service: Facegate) -> None:
    fill(service, 3)
    for sql in ("UPDATE audit_head SET seq = seq - 1 WHERE id = 1",
                "UPDATE audit_head SET hash = :h WHERE id = 1",
                "DELETE FROM audit_head"):
        with service.db.connect() as conn:
            with pytest.raises(DBAPIError, match="only moves forward"):
                conn.execute(text(sql), {"h": GENESIS})
            conn.rollback()
    if service.db.dialect.name == "postgresql":
        for table in ("audit_head", "audit_records"):
            with service.db.connect() as conn:
                with pytest.raises(DBAPIError):
                    conn.execute(text(f"TRUNCATE {table}"))
                conn.rollback()
    fill(service, 1)  # appending still moves the head forward
    assert service.audit.verify(AUDITOR)["ok"]


def test_merkle_proofs_for_every_size() -> None:
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(17)]
    for n in range(1, 18):
        root = merkle.root(leaves, n)
        for i in range(n):
            proof = merkle.inclusion_proof(leaves, i, n)
            assert merkle.verify_inclusion(leaves[i], i, n, proof, root)
            assert not merkle.verify_inclusion(leaves[(i + 1) % 17], i, n, proof, root)
        for m in range(n + 1):
            proof = merkle.consistency_proof(leaves, m, n)
            assert merkle.verify_consistency(m, n, proof, merkle.root(leaves, m), root)
            if 0 < m < n:
                assert not merkle.verify_consistency(m, n, proof, merkle.root(leaves, n), root)
    # RFC 9162: leaf and node hashes are domain-separated; the empty tree hashes to SHA-256("")
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    assert merkle.root(leaves[:1]) == hashlib.sha256(b"\x00" + leaves[0]).digest()


def test_the_commands_sign_export_and_verify(data_dir: Path, tmp_path: Path) -> None:
    def fg(*args: str, code: int = 0) -> dict[str, Any]:
        proc = subprocess.run([sys.executable, "-m", "facegate.cli.main", "--data",
                               str(data_dir), "--json", *args], capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL, check=False)
        assert proc.returncode == code, (proc.stdout, proc.stderr)
        return dict(json.loads(proc.stdout.strip().splitlines()[-1]))

    init = fg("init")
    assert Path(init["signing_key"]).parent != data_dir and init["public_key"]
    cp_file, trail = tmp_path / "cp.json", tmp_path / "trail.jsonl"
    cp = fg("audit", "checkpoint", "--out", str(cp_file))
    assert json.loads(cp_file.read_text()) == cp and cp["public_key"] == init["public_key"]
    assert fg("audit", "export", "--out", str(trail))["records"] == cp["size"] + 1
    assert fg("audit", "verify", "--checkpoint", str(cp_file))["ok"]
    assert offline.main([str(trail), "-c", str(cp_file), "-k", init["public_key"]]) == 0
    # a checkpoint naming a longer trail than there is: truncation
    cp_file.write_text(json.dumps({**cp, "size": cp["size"] + 9}))
    bad = fg("audit", "verify", "--checkpoint", str(cp_file), code=1)
    assert not bad["ok"]
    assert offline.main([str(trail), "-c", str(cp_file), "-k", init["public_key"]]) == 1
