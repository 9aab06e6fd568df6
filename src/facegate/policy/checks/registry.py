"""The registry every check joins through ``@check(rule_id, *operations)``, kept in ``ORDER``,
and the helpers the checks share: findings (``ok``, ``refuse``, ``warn``) and operation sets."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from facegate.policy.decision import Finding
from facegate.policy.facts import Facts
from facegate.policy.packs import Pack
from facegate.policy.texts import LocalText, blank_text

Check = Callable[[Facts, Pack], list[Finding]]

# The order the gate runs the checks in, and so the order of a decision's findings (its rules,
# message and permit): one entry per rule id that has a check.
ORDER: tuple[str, ...] = (
    "security.controls", "purpose.declared", "alternative.required", "place.private-space",
    "place.public-signage", "consent.separate", "purpose.bound", "consent.guardian-under-14",
    "notice.required", "attributes.sensitive", "nonbiometric.preferred",
    "national-channel.encouraged", "notice.accessible", "alternative.building-access",
    "place.capture-area", "remote-id.restricted", "devices.annual-test", "consent.withdraw",
    "consent.lawful-basis", "coercion.prohibited", "major-interest.manual-review",
    "scope.rnd-excluded", "images.no-retention", "storage.separate-identity", "storage.on-device",
    "retention.minimum", "pia.before-use", "filing.threshold", "filing.change",
    "filing.deregister", "rights.access", "rights.delete",
)
_RANK = {rule_id: i for i, rule_id in enumerate(ORDER)}

# rule id -> [(operations, check)], in ORDER whatever order the modules register in.
REGISTRY: list[tuple[str, frozenset[str], Check]] = []

# Operations that use a stored template and so need a live consent for it.
USES_TEMPLATE = frozenset({"enrol", "verify", "identify.match"})
# Operations that match a face and so are subject to the per-transaction rules.
MATCHES = frozenset({"verify", "identify"})
ALL_OPERATIONS = frozenset({
    "deployment.apply", "deployment.read", "deployment.terminate", "subject.add",
    "subject.read", "subject.delete", "consent.grant", "consent.withdraw", "consent.read",
    "enrol", "verify", "identify", "identify.match", "decline", "detect", "audit.read",
    "audit.verify", "key.manage", "attributes", "transaction.review", "export", "pia.record",
    "pia.read", "pia.delete", "rights.access", "rights.delete", "rights.read", "housekeeping",
    "filing.read", "filing.record", "documents", "engine.read", "engine.migrate",
    "rights.request", "backup", "index.load", "kiosk",
})


def check(rule_id: str, *operations: str) -> Callable[[Check], Check]:
    if rule_id not in _RANK:
        raise ValueError(f"rule {rule_id!r} has no place in checks.registry.ORDER")

    def register(fn: Check) -> Check:
        at = bisect_right(REGISTRY, _RANK[rule_id], key=lambda entry: _RANK[entry[0]])
        REGISTRY.insert(at, (rule_id, frozenset(operations), fn))
        return fn
    return register


def ok(rule: str, en: str, zh: str = "") -> Finding:
    return Finding(rule, True, en, zh)


def refuse(rule: str, en: str, zh: str = "", status: int = 403) -> Finding:
    return Finding(rule, False, en, zh, status)


def warn(rule: str, en: str, zh: str = "") -> Finding:
    return Finding(rule, True, en, zh, warning=True)


def blank(value: str | LocalText | None) -> bool:
    """Whether a text says nothing; a ``{zh, en}`` text with only empty languages is blank."""
    return blank_text(value)
