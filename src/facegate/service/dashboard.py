"""What the compliance officer's dashboard shows: each deployment's health (live, blocked by
which rule and why, or ended; its assessment and next device test) and persons over time.
Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from facegate.policy import Manifest, decide
from facegate.policy.checks import add_months
from facegate.policy.packs import get_pack
from facegate.service.actors import Actor
from facegate.service.audit_log import UowFactory
from facegate.service.clock import Clock
from facegate.service.facts import FactBuilder
from facegate.service.gatekeeper import Gatekeeper
from facegate.store.models import Deployment, PersonCount

# A device test due within this many days is shown as due soon.
DUE_SOON = timedelta(days=30)


def device_test(tested: date | None, months: int, today: date) -> tuple[date | None, str]:
    """A device's next security test and its state: ``missing`` (no test recorded),
    ``overdue`` (as ``devices.annual-test`` reckons it), ``soon`` (within ``DUE_SOON``) or
    ``ok``."""
    if tested is None:
        return None, "missing"
    due = add_months(tested, months)
    if due < today:
        return due, "overdue"
    return due, "soon" if due <= today + DUE_SOON else "ok"

# Rules decided per person or per transaction: they never block a whole deployment.
PER_PERSON = frozenset({"consent.separate", "consent.lawful-basis", "consent.withdraw",
                        "consent.guardian-under-14", "coercion.prohibited",
                        "retention.minimum"})


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    uow: UowFactory
    gate: Gatekeeper
    clock: Clock
    facts: FactBuilder

    def deployment_health(self, actor: Actor) -> list[dict[str, Any]]:
        """Every deployment: live, blocked (and by which rule, why) or ended; its assessment
        and the next device security test."""
        self.gate.role(actor, "deployment.read")
        out = []
        today = self.clock.today()
        with self.uow() as uow:
            s = uow.session
            for dep in s.execute(select(Deployment).order_by(Deployment.id)).scalars():
                manifest = Manifest.model_validate(dep.manifest)
                facts = self.facts.at_deployment(
                    s, None, "identify" if dep.mode == "identify" else "verify", dep,
                    manifest)
                decision = decide(facts)
                blocked = [f for f in decision.findings
                           if not f.passed and f.rule not in PER_PERSON]
                state = ("ended" if dep.status == "terminated" else
                         "blocked" if blocked else "live")
                pack = get_pack(dep.rule_pack)
                dues = [device_test(d.security_tested_on, pack.params["device_test_months"],
                                    today)[0] for d in manifest.devices]
                next_test = min(d for d in dues if d) if dues and all(dues) else None
                a = facts.assessment
                out.append({
                    "id": dep.id, "name": dep.name, "purpose": dep.purpose, "mode": dep.mode,
                    "rule_pack": dep.rule_pack, "state": state,
                    "blocked_by": [{"rule": f.rule, "reason": f.reason_en,
                                    "reason_zh": f.reason_zh} for f in blocked],
                    "warnings": [{"rule": w.rule, "reason": w.reason_en,
                                  "reason_zh": w.reason_zh} for w in decision.warnings],
                    "assessment": None if a is None else {
                        "version": a.version, "assessed_on": a.assessed_on.isoformat(),
                        "stale": a.stale, "stale_reason": a.stale_reason},
                    "next_device_test": next_test.isoformat() if next_test else None,
                    "device_test_due": bool(next_test and next_test <= today + DUE_SOON),
                    "notice_version": dep.notice_version,
                })
        return out

    def person_counts(self, actor: Actor, days: int = 90) -> list[dict[str, Any]]:
        """Persons with face data, one count per day (``filing.threshold``)."""
        self.gate.role(actor, "filing.read")
        since = self.clock.today() - timedelta(days=days)
        with self.uow() as uow:
            rows = uow.session.execute(select(PersonCount).where(PersonCount.day >= since)
                                       .order_by(PersonCount.day)).scalars()
            return [{"day": r.day.isoformat(), "persons": r.persons} for r in rows]
