"""Exports of templates (``storage.on-device``, ``storage.separate-identity``): they leave the
system only under a cited basis, under the pseudonym only, and audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facegate.localtime import iso_local
from facegate.policy import Facts, SubjectFacts
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.identities import Identities


@dataclass(frozen=True, kw_only=True)
class Exports:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    identities: Identities

    def templates(self, actor: Actor, subject_id: str, basis: str | None,
                  with_identity: bool = False) -> dict[str, Any]:
        """A subject's templates, with the basis the export is made under."""
        with self.uow() as uow:
            records.subject(uow.session, subject_id)
        facts = Facts(operation="export", pack=self.gate.rule_pack, on=self.clock.today(),
                      **actor.facts(), subject=SubjectFacts(subject_id),
                      export_basis=basis, export_with_identity=with_identity)
        decision = self.gate.check(actor, facts, subject=subject_id,
                                   detail={"basis": basis, "with_identity": with_identity})
        permit = decision.permit()
        with self.uow() as uow:
            s = uow.session
            stored = uow.templates.open_for_export(permit, self.identities.dek(s, subject_id),
                                                   subject_id)
            self.audit.record(s, actor, "export", "allowed", decision.rules,
                              subject=subject_id,
                              detail={"basis": basis, "template_count": len(stored)})
            uow.commit()
        return {"subject": subject_id, "basis": basis, "templates": [
            {"id": t.id, "deployment": t.deployment_id, "engine": t.engine,
             "model_version": t.model_version, "expires_at": iso_local(t.expires_at, self.clock.tz),
             "vector": [round(float(x), 7) for x in t.vector]} for t in stored],
            "decision": decision.to_dict()}
