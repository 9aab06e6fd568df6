"""Reading the records a use case decides on: the deployment and its manifest, the subject,
consents, the latest impact assessment, declined transactions. Functions of one session."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from facegate.errors import NotFound
from facegate.policy import Manifest
from facegate.store.models import Assessment, Consent, Deployment, Subject, TransactionRecord

LEGAL_BASIS = "legal_basis"  # the method of a record of processing under a cited law


def deployment(s: Session, deployment_id: str) -> tuple[Deployment, Manifest]:
    dep = s.get(Deployment, deployment_id)
    if dep is None:
        raise NotFound(f"deployment {deployment_id!r} is not registered")
    return dep, Manifest.model_validate(dep.manifest)


def subject(s: Session, subject_id: str) -> Subject:
    sub = s.get(Subject, subject_id)
    if sub is None or sub.deleted_at is not None:
        raise NotFound(f"subject {subject_id!r} does not exist")
    return sub


def active_consent(s: Session, subject_id: str, deployment_id: str) -> Consent | None:
    return s.execute(select(Consent).where(
        Consent.subject_id == subject_id, Consent.deployment_id == deployment_id,
        Consent.withdrawn_at.is_(None)).order_by(Consent.granted_at.desc())
    ).scalars().first()


def latest_consent(s: Session, subject_id: str, deployment_id: str) -> Consent | None:
    """The active consent, or else the last withdrawn one (so that ``consent.withdraw`` can
    name the withdrawal)."""
    active = active_consent(s, subject_id, deployment_id)
    if active is not None:
        return active
    return s.execute(select(Consent).where(
        Consent.subject_id == subject_id, Consent.deployment_id == deployment_id)
        .order_by(Consent.withdrawn_at.desc())).scalars().first()


def basis_record(s: Session, subject_id: str, deployment_id: str) -> str | None:
    """The record of processing under a cited law, if the subject has one here."""
    c = active_consent(s, subject_id, deployment_id)
    return c.id if c is not None and c.method == LEGAL_BASIS else None


def assessment(s: Session, dep: Deployment) -> Assessment | None:
    """The deployment's latest impact assessment."""
    return s.execute(select(Assessment).where(Assessment.deployment_id == dep.id)
                     .order_by(Assessment.version.desc())).scalars().first()


def transaction_declined(s: Session, deployment_id: str, transaction: str | None) -> bool:
    return transaction_event(s, deployment_id, transaction, "declined")


def transaction_event(s: Session, deployment_id: str, transaction: str | None,
                      event: str) -> bool:
    """Whether ``event`` (declined, chose_face, ...) was recorded in the transaction."""
    if not transaction:
        return False
    return s.execute(select(TransactionRecord.id).where(
        TransactionRecord.deployment_id == deployment_id,
        TransactionRecord.transaction == transaction,
        TransactionRecord.event == event)).first() is not None
