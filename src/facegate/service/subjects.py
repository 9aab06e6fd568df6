"""The people whose faces are processed: a pseudonymous subject with its own key, and identity
data kept apart from templates (``storage.separate-identity``); what is held about them
(``rights.access``), and deleting everything about them (``rights.delete``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from facegate.errors import BadInput, Conflict, NotFound
from facegate.localtime import iso_local
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.filing import Filing
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.identities import Identities
from facegate.service.indexes import IndexRegistry
from facegate.service.views import consent_view, receipt, template_view
from facegate.store.models import Consent, Identity, Subject, SubjectKey


@dataclass(frozen=True, kw_only=True)
class Subjects:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    identities: Identities
    indexes: IndexRegistry
    filing: Filing

    def add(self, actor: Actor, ref: str, birth_date: date | None = None) -> dict[str, Any]:
        """A new subject under an external reference (unique), with its own key."""
        ref = (ref or "").strip()
        if not ref:
            raise BadInput("a subject needs an external reference (--ref)")
        if len(ref) > 200:
            raise BadInput("the external reference is longer than 200 characters")
        if birth_date is not None and birth_date > self.clock.today():
            raise BadInput("the birth date is in the future")
        self.gate.role(actor, "subject.add")
        now = self.clock.now()
        sid = "sub_" + secrets.token_hex(10)
        keyring = self.identities.keyring
        with self.uow() as uow:
            s = uow.session
            existing = self.identities.find(s, ref)
            if existing is not None:
                raise Conflict(f"a subject with this reference exists: {existing.subject_id}",
                               details={"id": existing.subject_id})
            dek, wrapped = keyring.new_subject_key(sid)
            s.add(Subject(id=sid, created_at=now))
            s.flush()
            s.add(SubjectKey(subject_id=sid, wrapped=wrapped, created_at=now))
            s.add(self.identities.seal(dek, sid, ref, birth_date))
            self.audit.record(s, actor, "subject.add", "allowed",
                              ["storage.separate-identity"], subject=sid)
            uow.commit()
        return {"id": sid, "created_at": iso_local(now, self.clock.tz)}

    def find(self, actor: Actor, ref: str) -> str:
        """The subject id of an external reference (the lookup is audited)."""
        self.gate.role(actor, "subject.read")
        with self.uow() as uow:
            ident = self.identities.find(uow.session, ref)
            if ident is None:
                raise NotFound("no subject has this reference")
            self.audit.record(uow.session, actor, "subject.find", "allowed",
                              ["rights.access"], subject=ident.subject_id)
            uow.commit()
            return ident.subject_id

    def listed(self, actor: Actor, limit: int, after: str | None = None,
               reference: str | None = None) -> list[dict[str, Any]]:
        """Subjects held (not deleted), by id, at most ``limit`` after the id ``after``: their
        pseudonyms and when they were added, never their identity data. With ``reference``,
        the one subject of that external reference, found by its keyed digest (none when no
        subject has it). The listing and the lookup are audited."""
        self.gate.role(actor, "subject.read")
        with self.uow() as uow:
            s = uow.session
            if reference is not None:
                ident = self.identities.find(s, reference.strip())
                rows = [] if ident is None else [
                    r for r in [s.get(Subject, ident.subject_id)]
                    if r is not None and r.deleted_at is None
                    and (after is None or r.id > after)]
                self.audit.record(s, actor, "subject.find", "allowed", ["rights.access"],
                                  subject=ident.subject_id if ident else None,
                                  detail={"found": bool(rows)})
            else:
                q = select(Subject).where(Subject.deleted_at.is_(None))
                if after is not None:
                    q = q.where(Subject.id > after)
                rows = list(s.execute(q.order_by(Subject.id).limit(limit)).scalars())
                self.audit.record(s, actor, "subject.list", "allowed", ["security.controls"],
                                  detail={"listed": len(rows)})
            uow.commit()
            return [{"id": r.id, "created_at": iso_local(r.created_at, self.clock.tz)}
                    for r in rows]

    def show(self, actor: Actor, subject_id: str) -> dict[str, Any]:
        """What is held about a subject (``rights.access``); never the template values."""
        decision = self.gate.role(actor, "subject.read", subject=subject_id)
        tz = self.clock.tz
        with self.uow() as uow:
            s = uow.session
            sub = records.subject(s, subject_id)
            ref, birth = self.identities.open(s, subject_id)
            consents = s.execute(select(Consent).where(Consent.subject_id == subject_id)
                                 .order_by(Consent.granted_at)).scalars()
            templates = uow.templates.metadata(decision.permit(), subject_id)
            out = {
                "id": sub.id, "ref": ref, "birth_date": birth.isoformat() if birth else None,
                "created_at": iso_local(sub.created_at, tz),
                "consents": [consent_view(c, self.identities.guardian(s, c), tz=tz)
                             for c in consents],
                "templates": [template_view(t, tz=tz) for t in templates],
            }
            self.audit.record(s, actor, "subject.read", "allowed", ["rights.access"],
                              subject=subject_id)
            uow.commit()
            return out

    def delete(self, actor: Actor, subject_id: str) -> dict[str, Any]:
        """Delete everything about a subject: templates, index entries, key, identity
        (``rights.delete``, ``consent.withdraw``). Returns a deletion receipt."""
        decision = self.gate.role(actor, "subject.delete", subject=subject_id)
        permit = decision.permit()
        now = self.clock.now()
        with self.uow() as uow, self.indexes.lock:
            s = uow.session
            sub = records.subject(s, subject_id)
            gone = uow.templates.delete(permit, subject_id)  # logs the index change
            s.flush()
            index_entries = self.indexes.drop_subject(subject_id)
            withdrawn = 0
            for c in s.execute(select(Consent).where(Consent.subject_id == subject_id,
                                                     Consent.withdrawn_at.is_(None))).scalars():
                c.withdrawn_at = now
                withdrawn += 1
            for row in (s.get(Identity, subject_id), s.get(SubjectKey, subject_id)):
                if row is not None:
                    s.delete(row)
            sub.deleted_at = now
            out = receipt("subject.delete", subject_id, now, gone, index_entries,
                          self.gate.rule_pack, tz=self.clock.tz, consents_withdrawn=withdrawn,
                          key_destroyed=True, identity_deleted=True)
            self.audit.record(s, actor, "subject.delete", "allowed",
                              ["rights.delete", "consent.withdraw"], subject=subject_id,
                              detail={"receipt_sha256": out["sha256"],
                                      "templates_deleted": len(gone)})
            self.filing.track(s)
            self.indexes.commit_or_invalidate(uow)
        return out
