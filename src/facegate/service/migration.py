"""Moving a deployment to another engine without keeping any image (``images.no-retention``):
the officer puts the deployment into migration; from then on, each person who verifies
successfully against a template of the old engine gets a template of the new one, computed
from the same live image, under the same consent and purpose (``purpose.bound``), and the old
template is deleted once the new one exists. Each step is audited; when no old template is
left, the deployment switches over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from facegate.engine import Face
from facegate.errors import BadInput, Conflict
from facegate.policy import decide
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.faces import Recogniser
from facegate.service.facts import FactBuilder
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.identities import Identities
from facegate.service.views import quality_view
from facegate.store.models import Deployment
from facegate.store.uow import UnitOfWork


def split(key: str) -> tuple[str, str]:
    """An engine key's (name, model_version)."""
    name, _, version = key.partition("/")
    return name, version


@dataclass(frozen=True, kw_only=True)
class EngineMigration:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    facts: FactBuilder
    identities: Identities
    recogniser: Recogniser

    def start(self, actor: Actor, deployment_id: str, target: str | None = None
              ) -> dict[str, Any]:
        """Put a deployment into migration towards ``target`` (default: the installation's
        engine); it switches at once when it holds no template of its old engine."""
        decision = self.gate.role(actor, "engine.migrate", deployment=deployment_id)
        target = target or self.recogniser.key
        if not self.recogniser.table(target):
            raise BadInput(f"engine {target} has no calibrated thresholds; calibrate it first")
        self.recogniser.engine_for(target)  # refuse an engine this installation cannot run
        with self.uow() as uow:
            s = uow.session
            dep, _ = records.deployment(s, deployment_id)
            if dep.status == "terminated":
                raise Conflict(f"{deployment_id} ended face recognition")
            current = dep.engine or self.recogniser.key
            if target == current:
                raise Conflict(f"{deployment_id} already uses {target}")
            dep.migrating_to = target
            remaining = uow.templates.count(decision.permit(), dep.id, *split(current))
            self.audit.record(s, actor, "engine.migrate", "allowed", decision.rules,
                              deployment=dep.id, purpose=dep.purpose,
                              detail={"from": current, "to": target, "remaining": remaining})
            if remaining == 0:
                self._switch(s, actor, dep, current, target)
            uow.commit()
            return {"deployment": dep.id, "engine": dep.engine, "from": current,
                    "migrating_to": dep.migrating_to, "remaining": remaining,
                    "switched": remaining == 0}

    def step(self, uow: UnitOfWork, actor: Actor, dep: Deployment, subject_id: str,
             face: Face | None, current: str, target: str, expires_at: datetime
             ) -> dict[str, Any]:
        """In a verification's transaction, after it matched a template of ``current``:
        store ``face`` (the same live image, described by ``target``) as the subject's
        template of the new engine, under the same consent, and delete the old ones. The new
        template keeps the old one's end of retention (``retention.minimum``)."""
        s = uow.session
        if face is None or face.embedding is None:
            return {"moved": False, "reason": "the new engine found no face at the same place"}
        if not face.quality.acceptable:
            return {"moved": False,
                    "reason": "the face is not good enough to enrol: "
                              + ", ".join(face.quality.issues)}
        facts, _ = self.facts.of_use(s, actor, "enrol", subject_id, dep.id, None)
        decision = decide(facts)
        if not decision.allowed:
            return {"moved": False, "reason": decision.message(),
                    "rules": list(decision.refused_by)}
        permit = decision.permit()
        consent_id = (facts.consent.id if facts.consent else None) or records.basis_record(
            s, subject_id, dep.id)
        if consent_id is None:
            return {"moved": False, "reason": "no consent or legal basis is recorded"}
        name, version = split(target)
        now = self.clock.now()
        new_id = uow.templates.add(
            permit, subject_id=subject_id, deployment_id=dep.id, consent_id=consent_id,
            engine=name, model_version=version, vector=face.embedding,
            quality=quality_view(face), dek=self.identities.dek(s, subject_id), now=now,
            expires_at=expires_at)
        gone = uow.templates.retire(permit, subject_id, dep.id, *split(current))
        remaining = uow.templates.count(permit, dep.id, *split(current))
        self.audit.record(s, actor, "engine.migrate", "allowed", decision.rules,
                          subject=subject_id, deployment=dep.id, purpose=dep.purpose,
                          detail={"from": current, "to": target, "added": new_id,
                                  "retired": [t.id for t in gone], "remaining": remaining})
        if remaining == 0:
            row = s.get(Deployment, dep.id)  # in this transaction
            assert row is not None
            self._switch(s, actor, row, current, target)
        return {"moved": True, "template": new_id, "retired": len(gone),
                "remaining": remaining, "switched": remaining == 0}

    def _switch(self, s: Session, actor: Actor, dep: Deployment, current: str, target: str
                ) -> None:
        dep.engine, dep.migrating_to = target, None
        self.audit.record(s, actor, "engine.switch", "allowed", ["security.controls"],
                          deployment=dep.id, purpose=dep.purpose,
                          detail={"from": current, "to": target})
