"""The policy gate: facts in, a decision with rule ids out. Pure: no I/O, no clock."""

from __future__ import annotations

from facegate.policy.checks import REGISTRY
from facegate.policy.decision import Decision, Finding
from facegate.policy.facts import Facts
from facegate.policy.packs import get_pack


def decide(facts: Facts) -> Decision:
    """Run every check of the pack that applies to ``facts.operation``."""
    pack = get_pack(facts.pack)
    findings: list[Finding] = []
    for rule_id, operations, fn in REGISTRY:
        if facts.operation in operations and pack.has(rule_id):
            findings.extend(fn(facts, pack))
    return Decision(
        operation=facts.operation,
        pack=pack.name,
        findings=tuple(findings),
        subject_id=facts.subject.id if facts.subject else None,
        deployment_id=facts.deployment.id if facts.deployment else None,
    )
