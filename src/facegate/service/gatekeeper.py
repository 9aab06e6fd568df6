"""Asking the gate from the use cases: every refusal is audited (in its own transaction) and
raised with the rule ids, the reasons and the remedies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from facegate.errors import Refused
from facegate.policy import Decision, Facts, decide
from facegate.policy.rules import get_rule
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog
from facegate.service.clock import Clock


class Gatekeeper:
    def __init__(self, audit: AuditLog, clock: Clock, rule_pack: str) -> None:
        self._audit = audit
        self._clock = clock
        self.rule_pack = rule_pack

    def refusal(self, actor: Actor, decision: Decision, *, subject: str | None = None,
                deployment: str | None = None, purpose: str | None = None,
                detail: dict[str, Any] | None = None) -> Refused:
        """Audit a refusal in its own transaction and build the error to raise."""
        self._audit.alone(actor, decision.operation, "refused", decision.refused_by,
                          subject=subject, deployment=deployment, purpose=purpose,
                          detail={**(detail or {}), "reasons": [
                              f.reason_en for f in decision.findings if not f.passed]})
        err = Refused(decision.message(), rules=decision.refused_by,
                      details={"decision": decision.to_dict(),
                               "remedies": [get_rule(r).remedy_en for r in decision.refused_by
                                            if get_rule(r).remedy_en]})
        err.http_status = decision.status
        return err

    def check(self, actor: Actor, facts: Facts, **audit: Any) -> Decision:
        """The gate's decision on ``facts``; a refusal is audited and raised."""
        decision = decide(facts)
        if not decision.allowed:
            raise self.refusal(actor, decision, **audit)
        return decision

    def role(self, actor: Actor, operation: str, *, key_role: str | None = None,
             **audit: Any) -> Decision:
        """An operation that touches no face data: the role decides (``security.controls``;
        ``key_role``: the role of the API key created or revoked)."""
        return self.check(actor, Facts(operation=operation, pack=self.rule_pack,
                                       on=self._clock.today(), **actor.facts(),
                                       key_role=key_role,
                                       deployment_id=audit.get("deployment")), **audit)

    def attributes(self, actor: Actor, operation: str, attributes: Sequence[str],
                   **audit: Any) -> None:
        """Refuse (and audit) any request for face attributes (``attributes.sensitive``)."""
        if attributes:
            self.check(actor, Facts(operation="attributes", pack=self.rule_pack,
                                    on=self._clock.today(),
                                    requested_attributes=tuple(attributes)),
                       **audit, detail={"operation": operation})
