"""The promise as an auditor checks it (``consent.withdraw``, ``rights.delete``,
``images.no-retention``): a real ``facegate serve`` process, photos enrolled over HTTP, a
backup taken, then one subject withdraws and another is deleted. Afterwards no file of the data
directory, the temporary directory, the service's log or the backup vault holds either
subject's old key, sealed identity, template ciphertext or (for the deleted one) reference, in
raw, base64 or hex form."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from stress.common import Api, Server
from tests.conftest import ID02, JOLIE, photo

pytestmark = pytest.mark.slow


def forms(secret: bytes) -> list[bytes]:
    return [secret, base64.b64encode(secret), secret.hex().encode()]


def held(db: Path, sid: str) -> list[bytes]:
    """The subject's wrapped key, sealed reference and template ciphertexts, as stored."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        out = [conn.execute("SELECT wrapped FROM subject_keys WHERE subject_id = ?",
                            (sid,)).fetchone()[0],
               conn.execute("SELECT ref_sealed FROM identities WHERE subject_id = ?",
                            (sid,)).fetchone()[0]]
        out += [r[0] for r in conn.execute("SELECT sealed FROM templates WHERE subject_id = ?",
                                           (sid,))]
    assert len(out) >= 3
    return out


def hits(places: list[Path], needles: dict[str, bytes]) -> list[str]:
    """Every (file, secret) pair where a file under ``places`` holds a secret."""
    found = []
    for place in places:
        files = [place] if place.is_file() else sorted(p for p in place.rglob("*")
                                                        if p.is_file())
        for path in files:
            data = path.read_bytes()
            found += [f"{path}: {name}" for name, secret in needles.items()
                      if any(f in data for f in forms(secret))]
    return found


def test_no_file_log_or_temp_file_keeps_a_deleted_subject(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    backups = tmp_path / "backups"
    with Server(tmp_path / "run") as srv:
        srv.init()
        srv.start()
        with Api(srv.base, srv.keys) as api:
            api.register()
            subjects = {}
            for ref, pics in (("E-WITHDRAWS-5521", JOLIE[:2]), ("E-DELETED-5522", ID02[:2])):
                sid = api.add_subject(ref).json()["id"]
                assert api.grant(sid).status_code in (200, 201)
                for p in pics:
                    r = api.enrol(sid, photo(p))
                    assert r.status_code in (200, 201), r.text
                subjects[ref] = sid
            done = srv.cli("backup", "--out", str(backups))
            assert done.returncode == 0, done.stderr
            needles = {}
            for ref, sid in subjects.items():
                needles |= {f"{ref} #{i}": s for i, s in enumerate(held(srv.db, sid))}
            needles["reference E-DELETED-5522"] = b"E-DELETED-5522"
            vault = backups / "subject-keys.db"
            assert hits([srv.data, vault], needles)  # all there before

            assert api.withdraw(subjects["E-WITHDRAWS-5521"]).status_code == 200
            r = api.client.delete(f"/v1/subjects/{subjects['E-DELETED-5522']}",
                                  headers={"X-API-Key": srv.keys["officer"]})
            assert r.status_code == 200, r.text
            # while the service still runs, and again after it stops
            assert hits([srv.data, temp, vault, srv.log], needles) == []
        srv.stop()
        log = srv.log.read_bytes()
        assert b"E-DELETED-5522" not in log and b"E-WITHDRAWS-5521" not in log
        assert hits([srv.data, temp, vault, srv.log], needles) == []
