"""Tables. Identity data (``identities``) and templates (``templates``) live apart, linked only
by the subject's pseudonym (``storage.separate-identity``); both are sealed with the subject's
key, and the key table holds keys only in wrapped form. No table has a column for an image
(``images.no-retention``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Subject(Base):
    __tablename__ = "subjects"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # pseudonym, e.g. sub_...
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Identity(Base):
    """Who a subject is: sealed external reference and birth date; kept apart from templates."""

    __tablename__ = "identities"
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    ref_digest: Mapped[str] = mapped_column(String(64), unique=True)
    ref_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    birth_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


class SubjectKey(Base):
    __tablename__ = "subject_keys"
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Deployment(Base):
    __tablename__ = "deployments"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    rule_pack: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # active | terminated
    terminated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    manifest: Mapped[dict[str, object]] = mapped_column(JSON)
    notice_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The engine its templates come from ("name/model_version"); None until the first
    # enrolment of a deployment registered before engines were recorded.
    engine: Mapped[str | None] = mapped_column(String(200))
    # The engine its templates are moving to, one verification at a time (None: not moving).
    migrating_to: Mapped[str | None] = mapped_column(String(200))
    # The epoch of the secret rotation its templates are indexed under (protected templates);
    # re-keying moves it on, and every index of the deployment is rebuilt.
    index_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Notice(Base):
    """A versioned notice; a consent records the version the person was shown."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("deployment_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, object]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Consent(Base):
    __tablename__ = "consents"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    notice_version: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))
    storage_location: Mapped[str] = mapped_column(String(64))
    # Before migration 0006 a guardian's reference was kept here in plain text; now it is
    # sealed with the subject's key like other identity data, and this column stays empty.
    guardian_ref: Mapped[str | None] = mapped_column(String(200))
    guardian_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    guardian_relationship: Mapped[str | None] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    granted_by: Mapped[str] = mapped_column(String(100))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Template(Base):
    """A sealed face template. Reached only through ``TemplateRepository`` with a gate permit."""

    __tablename__ = "templates"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), index=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"))
    engine: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(128))
    dim: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    quality: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRecord(Base):
    """Append-only, hash-chained. Never an image, never a template."""

    __tablename__ = "audit_records"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(40), index=True)
    deployment: Mapped[str | None] = mapped_column(String(64), index=True)
    purpose: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))
    rules: Mapped[str] = mapped_column(Text)  # JSON list, canonical
    detail: Mapped[str] = mapped_column(Text)  # JSON object, canonical
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Ed25519 over (seq, hash), base64; None only for records written before records were
    # signed, which a signed checkpoint covers (migration 0011).
    sig: Mapped[str | None] = mapped_column(String(88), nullable=True)


class AuditHead(Base):
    """One row: the chain's last sequence number and hash; updating it serialises appends."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A device key (a kiosk): the deployment and the manifest's device it belongs to, and when
    # it was last used (kept to the minute).
    deployment_id: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignedOutSession(Base):
    """A console session signed out before it expired (``security.controls``), by the digest
    of its id, kept until it would have expired: every process, and every restart, refuses a
    copy of its cookie."""

    __tablename__ = "signed_out_sessions"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class IndexChange(Base):
    """The change log of the 1:N indexes, append-only: one row per change of a deployment's
    templates, written in the transaction that made it, so every process can bring the index
    it holds up to date by applying the rows after the last one it applied
    (``facegate.service.indexes``). ``kind``: add | remove_subject | remove_templates |
    rebuild | horizon (the oldest row kept when older ones were pruned: a process that had not
    applied it rebuilds); ``engine``: the templates' ``name/model_version`` (None: every engine);
    ``template_ids``: a JSON list."""

    __tablename__ = "index_changes"
    __table_args__ = (Index("ix_index_changes_deployment_seq", "deployment_id", "seq"),
                      {"sqlite_autoincrement": True})  # a seq is never reused
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    subject_id: Mapped[str | None] = mapped_column(String(40))
    template_ids: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Assessment(Base):
    """A personal information protection impact assessment (``pia.before-use``): four
    sections, for one deployment's purpose and method; kept at least three years."""

    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("deployment_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(64))  # what was assessed: a change makes it
    mode: Mapped[str] = mapped_column(String(16))  # stale
    assessor: Mapped[str] = mapped_column(String(200))
    assessed_on: Mapped[date] = mapped_column(Date)
    keep_until: Mapped[date] = mapped_column(Date)
    sections: Mapped[dict[str, object]] = mapped_column(JSON)
    conclusion: Mapped[str] = mapped_column(Text)  # JSON: a string or {zh, en} (0012)
    stale_reason: Mapped[str | None] = mapped_column(String(200))  # e.g. a major incident
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FilingEvent(Base):
    """The filing duty's clocks (``filing.threshold``, ``filing.change``,
    ``filing.deregister``): when each duty arose, and when it was filed."""

    __tablename__ = "filing_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # filing | change | deregister
    # The personal information handler whose duty this is (the manifests' operator name).
    operator: Mapped[str | None] = mapped_column(String(200), index=True)
    started_on: Mapped[date] = mapped_column(Date)
    filed_on: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(200))  # the authority's number
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TransactionRecord(Base):
    """One transaction at a deployment: the person's choice (``coercion.prohibited``) and, for
    major personal interests, the staff member's manual check (``major-interest.manual-review``).
    """

    __tablename__ = "transactions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), index=True)
    transaction: Mapped[str] = mapped_column(String(100), index=True)
    subject_id: Mapped[str | None] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(16))  # declined | matched | reviewed
    staff: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RightsRequest(Base):
    """A person's request from the public pages (``rights.access``, ``rights.delete``,
    ``consent.withdraw``). The reference is kept only as its keyed digest and the contact
    sealed, so the officer can find the subject and answer without a plain copy."""

    __tablename__ = "rights_requests"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # withdraw | access | delete
    ref_digest: Mapped[str] = mapped_column(String(64))
    contact_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))  # pending | done | rejected
    subject_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_by: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(Text)


class PersonCount(Base):
    """Distinct persons with stored face data, one row per day (the dashboard's chart)."""

    __tablename__ = "person_counts"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    persons: Mapped[int] = mapped_column(Integer)
