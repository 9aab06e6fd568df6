"""Transactions of major personal interest (``major-interest.manual-review``): a named staff
member's manual identity check decides; a face match never approves one alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facegate.errors import BadInput
from facegate.policy import ManualCheck
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.facts import FactBuilder
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.limits import TRANSACTION_MAX, bounded
from facegate.store.models import TransactionRecord


@dataclass(frozen=True, kw_only=True)
class Reviews:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    facts: FactBuilder

    def review(self, actor: Actor, deployment_id: str, transaction: str, staff: str | None,
               outcome: str | None, subject_id: str | None = None) -> dict[str, Any]:
        """Record the manual check that decides a transaction."""
        if not transaction.strip():
            raise BadInput("name the transaction")
        bounded(transaction, "transaction", TRANSACTION_MAX)
        bounded(staff, "staff")
        with self.uow() as uow:
            dep, manifest = records.deployment(uow.session, deployment_id)
            facts = self.facts.at_deployment(uow.session, actor, "transaction.review", dep,
                                             manifest, transaction=transaction,
                                             manual_check=ManualCheck(staff, outcome))
        decision = self.gate.check(actor, facts, deployment=deployment_id, subject=subject_id)
        with self.uow() as uow:
            uow.session.add(TransactionRecord(
                deployment_id=deployment_id, transaction=transaction, subject_id=subject_id,
                event="reviewed", staff=staff, outcome=outcome, at=self.clock.now()))
            self.audit.record(uow.session, actor, "transaction.review", "allowed",
                              decision.rules, deployment=deployment_id, subject=subject_id,
                              detail={"transaction": transaction, "staff": staff,
                                      "outcome": outcome})
            uow.commit()
        return {"deployment": deployment_id, "transaction": transaction, "staff": staff,
                "outcome": outcome, "approved": outcome == "confirmed",
                "decision": decision.to_dict()}
