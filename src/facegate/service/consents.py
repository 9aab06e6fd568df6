"""Consent, decline and withdrawal: a separate consent for one subject, purpose and deployment
after the notice was shown (``consent.separate``, ``notice.required``, a guardian's under 14);
the person's choice of the alternative (``coercion.prohibited``); withdrawal, which deletes
the templates and shreds the subject's key before it returns (``consent.withdraw``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from facegate.errors import Conflict, NotFound
from facegate.policy import ConsentFacts, SubjectFacts
from facegate.policy.texts import as_json
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.facts import FactBuilder
from facegate.service.filing import Filing
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.identities import Identities
from facegate.service.indexes import IndexRegistry
from facegate.service.limits import RELATIONSHIP_MAX, TRANSACTION_MAX, bounded
from facegate.service.views import consent_view, receipt
from facegate.store.models import Consent, SubjectKey, TransactionRecord


@dataclass(frozen=True, kw_only=True)
class Consents:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    facts: FactBuilder
    identities: Identities
    indexes: IndexRegistry
    filing: Filing

    def grant(self, actor: Actor, subject_id: str, deployment_id: str, purpose: str,
              method: str = "electronic", guardian_ref: str | None = None,
              guardian_relationship: str | None = None, notice_version: int | None = None,
              storage_location: str = "on-premises") -> dict[str, Any]:
        """Record a consent for this subject, purpose and deployment, given after the notice
        version ``notice_version`` (the current one by default) was shown. A guardian's
        reference and relationship are bounded in length (``security.controls``)."""
        bounded(guardian_ref, "guardian_ref")
        bounded(guardian_relationship, "guardian_relationship", RELATIONSHIP_MAX)
        now = self.clock.now()
        with self.uow() as uow:
            s = uow.session
            dep, manifest = records.deployment(s, deployment_id)
            records.subject(s, subject_id)
            _, birth = self.identities.open(s, subject_id)
            shown = notice_version if notice_version is not None else dep.notice_version
            requested = ConsentFacts(subject_id=subject_id, deployment_id=deployment_id,
                                     purpose=purpose, notice_version=shown, method=method,
                                     guardian_ref=guardian_ref,
                                     guardian_relationship=guardian_relationship)
            facts = self.facts.at_deployment(
                s, actor, "consent.grant", dep, manifest,
                subject=SubjectFacts(subject_id, birth), consent=requested, purpose=purpose,
                current_notice_version=dep.notice_version)
        decision = self.gate.check(actor, facts, subject=subject_id, deployment=deployment_id,
                                   purpose=purpose)
        with self.uow() as uow:
            s = uow.session
            if records.active_consent(s, subject_id, deployment_id) is not None:
                raise Conflict(f"subject {subject_id} already has an active consent for "
                               f"{deployment_id}; withdraw it first to record a new one")
            c = Consent(id="con_" + uuid.uuid4().hex[:20], subject_id=subject_id,
                        deployment_id=deployment_id, purpose=purpose, notice_version=shown,
                        method=method, storage_location=storage_location,
                        guardian_relationship=guardian_relationship,
                        granted_at=now, granted_by=actor.name)
            c.guardian_sealed = self.identities.seal_guardian(
                self.identities.dek(s, subject_id), c.id, guardian_ref)
            s.add(c)
            s.flush()
            self.audit.record(s, actor, "consent.grant", "allowed", decision.rules,
                              subject=subject_id, deployment=deployment_id, purpose=purpose,
                              detail={"consent": c.id, "notice_version": shown,
                                      "method": method, "guardian": guardian_ref is not None})
            uow.commit()
            return {**consent_view(c, guardian_ref, tz=self.clock.tz),
                    "decision": decision.to_dict()}

    def all(self, actor: Actor, subject_id: str | None = None,
            deployment_id: str | None = None) -> list[dict[str, Any]]:
        """Consents, oldest first, of a subject and/or at a deployment."""
        self.gate.role(actor, "consent.read")
        with self.uow() as uow:
            q = select(Consent).order_by(Consent.granted_at)
            if subject_id:
                q = q.where(Consent.subject_id == subject_id)
            if deployment_id:
                q = q.where(Consent.deployment_id == deployment_id)
            rows = list(uow.session.execute(q).scalars())
            out = [consent_view(c, self.identities.guardian(uow.session, c), tz=self.clock.tz)
                   for c in rows]
            # A guardian's reference is identity data: opening one leaves a record per child
            for sid in sorted({c.subject_id for c in rows if c.guardian_sealed is not None}):
                self.audit.record(uow.session, actor, "consent.read", "allowed",
                                  ["storage.separate-identity"], subject=sid,
                                  detail={"guardian_refs_opened": True})
            uow.commit()
            return out

    def withdraw(self, actor: Actor, subject_id: str, deployment_id: str | None = None
                 ) -> dict[str, Any]:
        """Withdraw (one deployment, or all): templates and index entries are gone, and the
        subject's key is replaced, before this returns (``consent.withdraw``)."""
        decision = self.gate.role(actor, "consent.withdraw", subject=subject_id,
                                  deployment=deployment_id)
        permit = decision.permit()
        now = self.clock.now()
        keyring = self.identities.keyring
        with self.uow() as uow, self.indexes.lock:
            s = uow.session
            records.subject(s, subject_id)
            q = select(Consent).where(Consent.subject_id == subject_id,
                                      Consent.withdrawn_at.is_(None))
            if deployment_id is not None:
                records.deployment(s, deployment_id)
                q = q.where(Consent.deployment_id == deployment_id)
            consents = list(s.execute(q).scalars())
            if not consents:
                raise NotFound(f"subject {subject_id} has no active consent"
                               + (f" for {deployment_id}" if deployment_id else ""))
            deps = sorted({c.deployment_id for c in consents})
            for c in consents:
                c.withdrawn_at = now
            gone = uow.templates.delete(permit, subject_id, deps)  # logs the index change
            s.flush()
            index_entries = self.indexes.drop_subject(subject_id, deps)
            # Crypto-shredding: a new key for what remains; the old key, and with it every
            # copy of the withdrawn templates (backups included), is destroyed.
            key = s.get(SubjectKey, subject_id)
            old = keyring.unwrap(subject_id, key.wrapped if key else None)
            new, wrapped = keyring.new_subject_key(subject_id)
            uow.templates.reseal(permit, subject_id, old, new)
            self.identities.reseal(s, subject_id, old, new)
            assert key is not None
            key.wrapped, key.created_at = wrapped, now
            out = receipt("consent.withdraw", subject_id, now, gone, index_entries,
                          self.gate.rule_pack, tz=self.clock.tz, deployments=deps,
                          consents_withdrawn=len(consents), key_destroyed=True)
            for dep in deps:
                self.audit.record(
                    s, actor, "consent.withdraw", "allowed", ["consent.withdraw"],
                    subject=subject_id, deployment=dep,
                    detail={"receipt_sha256": out["sha256"],
                            "templates_deleted": sum(t.deployment_id == dep for t in gone)})
            self.filing.track(s)
            self.indexes.commit_or_invalidate(uow)
        return out

    def decline(self, actor: Actor, deployment_id: str, subject_id: str | None = None,
                transaction: str | None = None) -> dict[str, Any]:
        """The person chooses the alternative: recorded, never penalised. With a transaction
        id, face recognition is not offered again in that transaction
        (``coercion.prohibited``). The transaction id is bounded in length."""
        bounded(transaction, "transaction", TRANSACTION_MAX)
        with self.uow() as uow:
            dep, manifest = records.deployment(uow.session, deployment_id)
        decision = self.gate.role(actor, "decline", deployment=deployment_id,
                                  subject=subject_id)
        with self.uow() as uow:
            if transaction:
                uow.session.add(TransactionRecord(
                    deployment_id=deployment_id, transaction=transaction,
                    subject_id=subject_id, event="declined", at=self.clock.now()))
            self.audit.record(uow.session, actor, "decline", "allowed",
                              [*decision.rules, "alternative.required", "coercion.prohibited"],
                              subject=subject_id, deployment=deployment_id,
                              purpose=dep.purpose, detail={"transaction": transaction})
            uow.commit()
        alt = manifest.alternative
        return {"deployment": deployment_id, "recorded": True,
                "alternative": {"method": alt.method, "description": as_json(alt.description)}
                if alt else None,
                "message": "The person chose the alternative; serve them by it, with no loss "
                           "of service."}
