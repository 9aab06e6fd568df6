"""The policy gate (pure): rules, packs, facts, decisions. Only ``facegate.service`` calls it."""

from facegate.policy.decision import Decision, Finding, Permit
from facegate.policy.facts import (
    AssessmentFacts,
    ConsentFacts,
    Facts,
    Manifest,
    ManualCheck,
    SubjectFacts,
)
from facegate.policy.gate import decide
from facegate.policy.packs import DEFAULT_PACK, PACKS, Pack, get_pack
from facegate.policy.rules import RULES, Rule, get_rule

__all__ = [
    "DEFAULT_PACK", "PACKS", "RULES", "AssessmentFacts", "ConsentFacts", "Decision", "Facts",
    "Finding", "Manifest", "ManualCheck", "Pack", "Permit", "Rule", "SubjectFacts", "decide",
    "get_pack", "get_rule",
]
