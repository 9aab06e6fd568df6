"""Backups that cannot bring a deleted subject back (``consent.withdraw``, ``rights.delete``):
the archive holds no subject key, the keys sit in a vault that every deletion reaches, and a
restore takes keys only from the vault. Delete, restore: the subject stays gone. Real photos,
real engine, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import ID02, ID03, JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo

from facegate.engine import Engine
from facegate.errors import BadInput, Conflict, NotFound
from facegate.service import Actor, Facegate, Settings
from facegate.store.models import IndexChange, SubjectKey

ADMIN = Actor("test-admin", "admin")


@pytest.fixture()
def fresh(service: Facegate, tmp_path: Path, engine: Engine, request: pytest.FixtureRequest
          ) -> Iterator[Facegate]:
    """A new installation on the same kind of store, under the same master key."""
    url = None
    if service.settings.database_url:
        import psycopg
        server = request.getfixturevalue("postgres_server")
        name = f"facegate_restored_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = server.get_uri(name).replace("postgresql://",
                                                          "postgresql+psycopg://", 1)
    settings = Settings(data_dir=tmp_path / "restored", database_url=url)
    Facegate.initialise(settings)
    svc = Facegate(settings, engine)
    yield svc
    svc.close()


def enrolled(service: Facegate, door: str, ref: str, photos: list[str]) -> str:
    sid = str(service.subjects.add(OFFICER, ref)["id"])
    service.consents.grant(OFFICER, sid, door, "access_control")
    service.matching.enrol(OPERATOR, sid, door, [photo(p) for p in photos])
    return sid


def wrapped_keys(service: Facegate) -> dict[str, bytes]:
    with service.uow() as uow:
        return {k.subject_id: k.wrapped
                for k in uow.session.execute(select(SubjectKey)).scalars()}


def archive_text(path: Path) -> str:
    with gzip.open(path, "rt") as fh:
        return fh.read()


def test_delete_then_restore_and_the_subject_stays_gone(
        service: Facegate, fresh: Facegate, tmp_path: Path) -> None:
    door = assessed(service, office_manifest(mode="identify"))
    gone = enrolled(service, door, "E-DELETED-4411", JOLIE[:2])
    rekeyed = enrolled(service, door, "E-WITHDRAWN-4412", ID02[:2])
    kept = enrolled(service, door, "E-KEPT-4413", ID03[:1])
    keys = wrapped_keys(service)
    done = service.backups.create(ADMIN, tmp_path / "backups")
    archive, vault = Path(done["archive"]), Path(done["vault"])
    assert done["keys"] == 3 and done["rows"]["templates"] == 5
    text = archive_text(archive)
    assert not any(base64.b64encode(w).decode() in text for w in keys.values())
    assert "E-DELETED-4411" not in text  # identities are sealed

    service.subjects.delete(OFFICER, gone)
    service.consents.withdraw(OFFICER, rekeyed, door)
    # the deletion reached the vault: no file there holds the deleted key any more
    held = vault.read_bytes()
    assert keys[gone] not in held and keys[rekeyed] not in held and keys[kept] in held

    out = fresh.backups.restore(ADMIN, archive)
    assert out["subjects_restored"] == 1
    assert sorted(out["subjects_gone"]) == sorted([gone, rekeyed])
    with pytest.raises(NotFound):
        fresh.subjects.find(OFFICER, "E-DELETED-4411")
    with pytest.raises(NotFound):
        fresh.subjects.show(OFFICER, gone)
    hits = fresh.matching.identify(OPERATOR, door, photo(JOLIE[2]))["candidates"]
    assert gone not in [c["subject"] for c in hits]
    assert fresh.matching.verify(OPERATOR, kept, door, photo(ID03[1]))["match"]
    assert fresh.subjects.find(OFFICER, "E-KEPT-4413") == kept
    trail = fresh.audit.verify(ADMIN)
    assert trail["ok"]
    with fresh.reader() as uow:  # nor does the index change log name the deleted
        logged = {c.subject_id for c in uow.session.execute(select(IndexChange)).scalars()}
    assert gone not in logged and rekeyed not in logged and kept in logged
    [rec] = fresh.audit.search(ADMIN, 10, operation="backup.restore")
    assert sorted(rec["detail"]["subjects_gone"]) == sorted([gone, rekeyed])


def test_a_vault_out_of_reach_at_a_deletion_never_brings_the_subject_back(
        service: Facegate, fresh: Facegate, tmp_path: Path) -> None:
    """The vault is moved away while a subject is deleted, then put back: the key was buried
    beside its path, so a restore from it keeps the subject deleted; the next backup removes
    the key from the vault itself. A vault whose whole folder is gone stays pending."""
    door = assessed(service, office_manifest(mode="identify"))
    gone = enrolled(service, door, "E-AWAY-5511", JOLIE[:1])
    kept = enrolled(service, door, "E-KEPT-5512", ID03[:1])
    done = service.backups.create(ADMIN, tmp_path / "b")
    archive, vault = Path(done["archive"]), Path(done["vault"])
    away = tmp_path / "offline.db"
    vault.rename(away)
    service.subjects.delete(OFFICER, gone)
    assert service.vaults.pending() == {str(vault): [gone]}
    away.rename(vault)  # back, still holding the key
    out = fresh.backups.restore(ADMIN, archive)
    assert out["subjects_gone"] == [gone] and out["subjects_restored"] == 1
    with pytest.raises(NotFound):
        fresh.subjects.find(OFFICER, "E-AWAY-5511")
    assert fresh.subjects.find(OFFICER, "E-KEPT-5512") == kept
    assert wrapped_keys(service)[kept] in vault.read_bytes()
    again = service.backups.create(ADMIN, tmp_path / "c")  # reaches the old vault too
    assert again["vaults_out_of_reach"] == [] and service.vaults.pending() == {}
    assert not vault.with_name(vault.name + ".forget").exists()
    with sqlite3.connect(vault) as conn:
        assert [r[0] for r in conn.execute("SELECT subject_id FROM subject_keys")] == [kept]
    # a vault whose folder is gone altogether: pending, and said at the next backup
    shutil.rmtree(tmp_path / "c")
    service.subjects.delete(OFFICER, kept)
    assert service.backups.create(ADMIN, tmp_path / "d")["vaults_out_of_reach"] == [
        str((tmp_path / "c" / "subject-keys.db").resolve())]


def test_a_restore_refuses_what_it_cannot_trust(service: Facegate, fresh: Facegate,
                                                tmp_path: Path) -> None:
    assessed(service, office_manifest())
    archive = Path(service.backups.create(ADMIN, tmp_path / "b")["archive"])
    with pytest.raises(Conflict, match="empty database"):
        service.backups.restore(ADMIN, archive)  # never over live data
    damaged = tmp_path / "damaged.fgbackup"
    lines = archive_text(archive).splitlines()
    lines[2] = lines[2].replace("office", "offise")
    damaged.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(BadInput, match="damaged"):
        fresh.backups.restore(ADMIN, damaged, vault=archive.parent / "subject-keys.db")
    with pytest.raises(BadInput, match="no key vault"):
        fresh.backups.restore(ADMIN, archive, vault=tmp_path / "nowhere.db")
    not_gzip = tmp_path / "junk.fgbackup"
    not_gzip.write_bytes(b"not an archive")
    with pytest.raises(BadInput, match="not a readable"):
        fresh.backups.restore(ADMIN, not_gzip)
    out = fresh.backups.restore(ADMIN, archive)
    assert out["rows"]["deployments"] == 1
    with pytest.raises(Conflict):  # and only once
        fresh.backups.restore(ADMIN, archive)


def cli(data: Path, *args: str, env: dict[str, str], code: int = 0) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "facegate.cli.main", "--data", str(data),
                           "--json", *args], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env=env, check=False)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_backup_and_restore_from_the_command_line(tmp_path: Path, data_dir: Path) -> None:
    env = {**os.environ}
    cli(data_dir, "init", env=env)
    out = cli(data_dir, "backup", "--out", str(tmp_path / "backups"), env=env)
    assert Path(out["archive"]).stat().st_mode & 0o777 == 0o600
    assert Path(out["vault"]).stat().st_mode & 0o777 == 0o600
    cli(data_dir, "backup", "--out", str(data_dir / "inside"), env=env, code=2)
    restored = cli(tmp_path / "restored", "restore", out["archive"], env=env)
    assert restored["subjects_gone"] == [] and restored["rows"]["api_keys"] == 3
    other = {**env, "FACEGATE_KEY_FILE": str(tmp_path / "other.key")}
    cli(tmp_path / "elsewhere", "restore", out["archive"], env=other, code=2)
