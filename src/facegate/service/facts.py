"""Building the gate's facts from the store: a deployment's state, its assessment, a
subject's age and consent, a transaction's history. No decision is taken here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from facegate.policy import AssessmentFacts, ConsentFacts, Facts, Manifest, SubjectFacts
from facegate.service import records
from facegate.service.actors import NOBODY, Actor
from facegate.service.clock import Clock
from facegate.service.identities import Identities
from facegate.store.models import Consent, Deployment

# Kinds of filing tasks of a deployment's operator past their due date.
OverdueFilings = Callable[[Session, Deployment], tuple[str, ...]]


SEALED = "(sealed)"


def consent_facts(c: Consent | None) -> ConsentFacts | None:
    """A consent for the gate; a record of processing under a cited law is no consent
    (``consent.lawful-basis`` decides on the deployment's legal basis)."""
    if c is None or c.method == records.LEGAL_BASIS:
        return None
    return ConsentFacts(subject_id=c.subject_id, deployment_id=c.deployment_id,
                        purpose=c.purpose, notice_version=c.notice_version, method=c.method,
                        # the gate asks only whether a guardian's reference was recorded
                        guardian_ref=SEALED if c.guardian_sealed is not None
                        else c.guardian_ref,
                        guardian_relationship=c.guardian_relationship,
                        withdrawn=c.withdrawn_at is not None, id=c.id)


def assessment_facts(s: Session, dep: Deployment) -> AssessmentFacts | None:
    """The deployment's latest assessment; stale when the purpose or method it assessed is no
    longer the deployment's, or an incident was recorded (``pia.before-use``)."""
    a = records.assessment(s, dep)
    if a is None:
        return None
    reason = a.stale_reason
    if a.purpose != dep.purpose:
        reason = f"purpose changed from {a.purpose} to {dep.purpose}"
    elif a.mode != dep.mode:
        reason = f"method changed from {a.mode} to {dep.mode}"
    return AssessmentFacts(a.version, a.assessed_on, a.keep_until, reason is not None, reason)


class FactBuilder:
    def __init__(self, identities: Identities, clock: Clock, overdue: OverdueFilings) -> None:
        self._identities = identities
        self._clock = clock
        self._overdue = overdue

    def at_deployment(self, s: Session, actor: Actor | None, operation: str, dep: Deployment,
                      manifest: Manifest, **extra: Any) -> Facts:
        """Facts of an operation at a deployment: its state, assessment and transaction."""
        declined = records.transaction_declined(s, dep.id, extra.get("transaction"))
        return Facts(operation=operation, pack=dep.rule_pack, on=self._clock.today(),
                     **(actor.facts() if actor else NOBODY), deployment=manifest,
                     deployment_active=dep.status == "active",
                     deployment_terminated=dep.status == "terminated",
                     assessment=assessment_facts(s, dep),
                     declined_in_transaction=declined, **extra)

    def of_use(self, s: Session, actor: Actor, operation: str, subject_id: str,
               deployment_id: str, purpose: str | None, attributes: Sequence[str] = (),
               **extra: Any) -> tuple[Facts, Deployment]:
        """Facts of using a subject's face data at a deployment: the subject's age on the day,
        their consent there, and (to enrol) any overdue filing."""
        dep, manifest = records.deployment(s, deployment_id)
        records.subject(s, subject_id)
        _, birth = self._identities.open(s, subject_id)
        consent = records.latest_consent(s, subject_id, deployment_id)
        if operation == "enrol":
            extra["overdue_filings"] = self._overdue(s, dep)
        return self.at_deployment(
            s, actor, operation, dep, manifest, subject=SubjectFacts(subject_id, birth),
            consent=consent_facts(consent), purpose=purpose,
            requested_attributes=tuple(attributes), **extra), dep
