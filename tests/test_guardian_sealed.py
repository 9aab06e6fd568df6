"""A guardian's reference is identity data (``consent.guardian-under-14``,
``storage.separate-identity``): sealed with the child's key, never kept in plain text, resealed
when the key is replaced at a withdrawal, and shredded with the key at deletion. References
recorded in plain text before migration 0006 are sealed when the installation is initialised."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, text
from tests.conftest import OFFICER, assessed, office_manifest

from facegate.service import Facegate
from facegate.store.models import Consent

GUARDIAN = "GUARDIAN-PASSPORT-E77190345"


def child(service: Facegate, ref: str) -> str:
    today = service.settings.today()
    born = date(today.year - 14, today.month, today.day) + timedelta(days=1)
    return str(service.subjects.add(OFFICER, ref, born)["id"])


def stored(service: Facegate, sid: str) -> list[tuple[str | None, bytes | None]]:
    with service.uow() as uow:
        return [(c.guardian_ref, c.guardian_sealed) for c in uow.session.execute(
            select(Consent).where(Consent.subject_id == sid)).scalars()]


def test_a_guardian_reference_is_sealed_resealed_and_shredded(service: Facegate) -> None:
    gate = assessed(service, office_manifest(id="school-gate", minors_rules="minors-v1"))
    sid = child(service, "pupil-7")
    out = service.consents.grant(OFFICER, sid, gate, "access_control",
                                 guardian_ref=GUARDIAN, guardian_relationship="mother")
    assert out["guardian_ref"] == GUARDIAN
    [(plain, sealed)] = stored(service, sid)
    assert plain is None and sealed is not None and GUARDIAN.encode() not in sealed
    assert service.subjects.show(OFFICER, sid)["consents"][0]["guardian_ref"] == GUARDIAN
    # the withdrawal replaces the child's key; the consent record stays readable
    service.consents.withdraw(OFFICER, sid, gate)
    [(_, resealed)] = stored(service, sid)
    assert resealed != sealed
    assert service.consents.all(OFFICER, subject_id=sid)[0]["guardian_ref"] == GUARDIAN
    # opening it is reading identity data: it leaves a record naming the child
    reads = service.audit.search(OFFICER, 50, operation="consent.read")
    assert [r["subject"] for r in reads] == [sid]
    assert reads[0]["rules"] == ["storage.separate-identity"]
    service.subjects.delete(OFFICER, sid)
    assert service.consents.all(OFFICER, subject_id=sid)[0]["guardian_ref"] is None


def test_plain_references_from_before_0006_are_sealed_at_initialise(service: Facegate) -> None:
    gate = assessed(service, office_manifest(id="school-gate", minors_rules="minors-v1"))
    sid = child(service, "pupil-8")
    cid = service.consents.grant(OFFICER, sid, gate, "access_control",
                                 guardian_ref=GUARDIAN, guardian_relationship="father")["id"]
    with service.uow() as uow:  # as a row written before the migration looked
        uow.session.execute(text("UPDATE consents SET guardian_ref = :g, guardian_sealed = NULL"
                                 " WHERE id = :id"), {"g": GUARDIAN, "id": cid})
        uow.commit()
    Facegate.initialise(service.settings)
    [(plain, sealed)] = stored(service, sid)
    assert plain is None and sealed is not None
    assert service.consents.all(OFFICER, subject_id=sid)[0]["guardian_ref"] == GUARDIAN
