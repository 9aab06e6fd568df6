"""Deletion that deletes (``consent.withdraw``, ``rights.delete``): once a withdrawal or a
deletion returns, no file of the data directory holds a copy of the subject's key, sealed
identity or template ciphertext, not the SQLite database, not its write-ahead log. Real photos,
real engine, the embedded SQLite store (PostgreSQL keeps old row versions until VACUUM: see
README, "Deletion on PostgreSQL")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.conftest import JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo

from facegate.service import Facegate
from facegate.store.models import Identity, SubjectKey, Template


def secrets_of(service: Facegate, sid: str) -> list[bytes]:
    """What must not survive: the wrapped key, the sealed reference, the ciphertexts, and the
    reference in plain text."""
    with service.uow() as uow:
        s = uow.session
        key = s.get(SubjectKey, sid)
        ident = s.get(Identity, sid)
        assert key is not None and ident is not None
        sealed = [t.sealed for t in s.execute(select(Template).where(
            Template.subject_id == sid)).scalars()]
        assert sealed
        return [key.wrapped, ident.ref_sealed, *sealed]


def found_in_files(folder: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits += [f"{path.name}: secret {i}" for i, n in enumerate(needles) if n in data]
    return hits


@pytest.mark.parametrize("how", ["withdraw", "delete"])
def test_no_file_keeps_a_copy_after_deletion(sqlite_service: Facegate, how: str) -> None:
    service = sqlite_service
    door = assessed(service, office_manifest())
    ref = "E-SECRET-REFERENCE-7731"
    sid = service.subjects.add(OFFICER, ref)["id"]
    service.consents.grant(OFFICER, sid, door, "access_control")
    service.matching.enrol(OPERATOR, sid, door, [photo(p) for p in JOLIE[:2]])
    needles = secrets_of(service, sid)
    folder = service.settings.data_dir
    assert found_in_files(folder, needles)  # the data is there, somewhere, before
    remove: Callable[[], object] = (
        (lambda: service.consents.withdraw(OFFICER, sid)) if how == "withdraw"
        else (lambda: service.subjects.delete(OFFICER, sid)))
    remove()
    assert found_in_files(folder, needles) == []
    if how == "delete":  # the reference itself is gone too (its digest stays nowhere)
        assert found_in_files(folder, [ref.encode()]) == []
