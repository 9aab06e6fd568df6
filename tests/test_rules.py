"""Every rule of RULES.md, in every pack that has it: a lawful case the gate allows and an
unlawful one it refuses *by that rule id*. Remove a rule's check and its case fails here.

The cases are pure facts (no store, no engine): the gate is tested as the pure function it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from facegate.policy import (
    PACKS,
    RULES,
    AssessmentFacts,
    ConsentFacts,
    Facts,
    Manifest,
    ManualCheck,
    SubjectFacts,
    decide,
)
from facegate.policy.checks import REGISTRY

TODAY = date(2026, 11, 24)
ASSESSED = AssessmentFacts(1, date(2026, 1, 5), date(2029, 1, 5))


def manifest(**over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "dep", "name": "Door", "operator": {"name": "Example Co.",
                                                  "contact": "privacy@example.com"},
        "purpose": "access_control", "necessity": "badges are lent and lost",
        "least_impact": "1:1 only", "mode": "verify",
        "location": {"type": "office_entrance", "venue": "office", "public_place": False,
                     "capture_area": "2 m in front of the door"},
        "alternative": {"method": "badge_at_guard_desk", "description": "the guard opens"},
        "retention_days": 365,
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = raw[key] | value
        elif value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def consent(**kw: Any) -> ConsentFacts:
    return ConsentFacts(**({"subject_id": "sub_1", "deployment_id": "dep",
                            "purpose": "access_control", "notice_version": 1,
                            "method": "electronic"} | kw))


def facts(op: str, m: dict[str, Any] | None = None, **kw: Any) -> Facts:
    base: dict[str, Any] = {"operation": op, "pack": "cn-draft-2023", "on": TODAY,
                            "deployment": Manifest.model_validate(m or manifest())}
    if op in ("enrol", "verify", "identify.match", "consent.grant"):
        base |= {"subject": SubjectFacts("sub_1"), "consent": consent()}
    if op in ("enrol", "verify", "identify", "identify.match", "consent.grant"):
        base["assessment"] = ASSESSED
    if op == "consent.grant":
        base |= {"purpose": "access_control", "current_notice_version": 1}
    return Facts(**(base | kw))


def apply(**over: Any) -> Facts:
    return facts("deployment.apply", manifest(**over))


PUBLIC = {"type": "square", "venue": "public_street", "public_place": True}
SIGNED = PUBLIC | {"signage": "sign-photo-1", "public_security_necessity": "crowd safety"}
REMOTE_OK = {"basis": "public_safety", "until": "2027-01-31", "area": "north square",
             "people": "persons on the wanted list"}
IDENTIFY = manifest(mode="identify")

# rule id -> (lawful facts, unlawful facts)
Case = tuple[Facts, Facts]
CASES: dict[str, Callable[[], Case]] = {
    "purpose.declared": lambda: (apply(), apply(purpose="mood_tracking")),
    "purpose.bound": lambda: (facts("verify"),
                              facts("verify", consent=consent(purpose="attendance"))),
    "nonbiometric.preferred": lambda: (
        apply(nonbiometric_sufficient=True, face_reason="badges are lent; audits found misuse"),
        apply(nonbiometric_sufficient=True)),
    "national-channel.encouraged": lambda: (
        apply(purpose="identity_verification", national_identity_service=True),
        apply(purpose="identity_verification")),
    "scope.rnd-excluded": lambda: (facts("enrol"), facts("enrol", source="training")),
    "notice.required": lambda: (facts("consent.grant"),
                                facts("consent.grant", current_notice_version=2)),
    "notice.accessible": lambda: (
        apply(alternative={"method": "pin_code"},
              accessibility={"alternative": "staff enter the PIN for the person on request"}),
        apply(alternative={"method": "pin_code"})),
    "consent.separate": lambda: (facts("enrol"), facts("enrol", consent=None)),
    "consent.guardian-under-14": lambda: (
        facts("enrol", manifest(minors_rules="minors-rules-v1"),
              subject=SubjectFacts("sub_1", date(2015, 3, 1)),
              consent=consent(guardian_ref="g-1", guardian_relationship="father")),
        facts("enrol", manifest(minors_rules="minors-rules-v1"),
              subject=SubjectFacts("sub_1", date(2015, 3, 1)))),
    "consent.withdraw": lambda: (facts("verify"),
                                 facts("verify", consent=consent(withdrawn=True))),
    "consent.lawful-basis": lambda: (
        facts("verify", manifest(legal_basis="Counter-Terrorism Law Art. 21"), consent=None),
        facts("verify", consent=None)),
    "alternative.required": lambda: (
        apply(location={"type": "counter", "venue": "bank"}),
        apply(location={"type": "counter", "venue": "bank"}, alternative=None,
              accessibility={"alternative": "staff help"})),
    "alternative.building-access": lambda: (
        apply(legal_basis="a statute"),
        apply(legal_basis="a statute", alternative=None,
              accessibility={"alternative": "staff help"})),
    "coercion.prohibited": lambda: (
        facts("verify", manifest(location={"type": "counter", "venue": "bank"}),
              transaction="tx-1", choice="face"),
        facts("verify", manifest(location={"type": "counter", "venue": "bank"}),
              transaction="tx-1", declined_in_transaction=True)),
    "major-interest.manual-review": lambda: (
        facts("transaction.review", manifest(transactions=["social_assistance"]),
              manual_check=ManualCheck("Officer Wang", "confirmed")),
        facts("transaction.review", manifest(transactions=["social_assistance"]))),
    "place.private-space": lambda: (apply(), apply(location={"type": "changing_room"})),
    "place.public-signage": lambda: (apply(location=SIGNED), apply(location=PUBLIC)),
    "place.capture-area": lambda: (
        apply(devices=[{"id": "cam-1", "capture_area": "door", "security_tested_on":
                        "2026-06-01"}]),
        apply(devices=[{"id": "cam-1", "security_tested_on": "2026-06-01"}])),
    "remote-id.restricted": lambda: (
        apply(remote_identification=True, remote_identification_scope=REMOTE_OK),
        apply(remote_identification=True,
              remote_identification_scope=REMOTE_OK | {"basis": "marketing"})),
    "devices.annual-test": lambda: (
        apply(devices=[{"id": "cam-1", "capture_area": "door",
                        "security_tested_on": "2025-11-24"}]),
        apply(devices=[{"id": "cam-1", "capture_area": "door",
                        "security_tested_on": "2025-11-23"}])),
    "attributes.sensitive": lambda: (facts("enrol"),
                                     facts("enrol", requested_attributes=("ethnicity",))),
    "images.no-retention": lambda: (facts("enrol"), facts("enrol", keep_image=True)),
    "storage.separate-identity": lambda: (
        facts("export", export_basis="written consent c-9"),
        facts("export", export_basis="written consent c-9", export_with_identity=True)),
    "storage.on-device": lambda: (facts("export", export_basis="written consent c-9"),
                                  facts("export")),
    "retention.minimum": lambda: (
        facts("verify", template_expires_on=date(2026, 11, 25)),
        facts("verify", template_expires_on=date(2026, 11, 24))),
    "security.controls": lambda: (facts("enrol", actor_role="operator"),
                                  facts("enrol", actor_role="auditor")),
    "pia.before-use": lambda: (facts("verify"), facts("verify", assessment=None)),
    "filing.threshold": lambda: (facts("enrol", overdue_filings=("change",)),
                                 facts("enrol", overdue_filings=("filing",))),
    "filing.change": lambda: (facts("enrol"), facts("enrol", overdue_filings=("change",))),
    "filing.deregister": lambda: (facts("verify"), facts("verify", deployment_terminated=True,
                                                         deployment_active=False)),
    "rights.access": lambda: (facts("rights.access", requester_verified=True),
                              facts("rights.access")),
    "rights.delete": lambda: (facts("rights.delete", requester_verified=True),
                              facts("rights.delete")),
}

# Rules whose "unlawful" case is advice or a flag, never a refusal.
ADVISORY = {"national-channel.encouraged"}
# filing.threshold's lawful case (an overdue *change* filing) is lawful only where the pack
# has no filing.change rule.
LAWFUL_ONLY_IN = {"filing.threshold": "cn-draft-2023"}

PAIRS = [(rid, pack) for rid, rule in RULES.items() for pack in PACKS if rule.in_pack(pack)]


def test_every_rule_has_a_case_and_a_check() -> None:
    assert set(CASES) == set(RULES)
    checked = {rid for rid, _, _ in REGISTRY}
    assert checked == set(RULES), set(RULES) - checked


@pytest.mark.parametrize(("rule_id", "pack"), PAIRS, ids=[f"{r}@{p}" for r, p in PAIRS])
def test_lawful_allowed_unlawful_refused(rule_id: str, pack: str) -> None:
    lawful, unlawful = (replace(f, pack=pack) for f in CASES[rule_id]())
    if LAWFUL_ONLY_IN.get(rule_id, pack) == pack:
        ok = decide(lawful)
        assert ok.allowed, ok.message()
        assert rule_id not in [w.rule for w in ok.warnings]
    bad = decide(unlawful)
    if rule_id in ADVISORY:
        assert bad.allowed and rule_id in [w.rule for w in bad.warnings]
        return
    assert rule_id in bad.refused_by, (rule_id, pack, bad.to_dict())
    refused = [f for f in bad.findings if f.rule == rule_id and not f.passed]
    assert all(f.reason_en and f.reason_zh for f in refused)


@pytest.mark.parametrize("rule_id", [r for r, rule in RULES.items() if len(rule.sources) == 1])
def test_a_rule_outside_the_pack_does_not_fire(rule_id: str) -> None:
    """The packs differ: a one-pack rule never refuses under the other pack."""
    (other,) = [p for p in PACKS if not RULES[rule_id].in_pack(p)]
    _, unlawful = CASES[rule_id]()
    assert rule_id not in decide(replace(unlawful, pack=other)).rules


def test_major_interest_match_is_only_auxiliary() -> None:
    m = manifest(transactions=["real_estate_disposal"])
    d = decide(facts("verify", m))
    (flag,) = [w for w in d.warnings if w.rule == "major-interest.manual-review"]
    assert d.allowed and "auxiliary" in flag.reason_en


def test_coercion_venues_need_an_explicit_choice_under_the_draft() -> None:
    bank = manifest(location={"type": "counter", "venue": "bank"})
    assert decide(facts("verify", bank)).refused_by == ["coercion.prohibited"]
    assert decide(facts("verify", bank, pack="cn-2025")).allowed
    office = decide(facts("verify", manifest()))
    assert office.allowed and "coercion.prohibited" not in office.rules


def test_overdue_device_test_blocks_registration_but_only_flags_use() -> None:
    stale = manifest(devices=[{"id": "cam-1", "capture_area": "door",
                               "security_tested_on": "2024-01-01"}])
    assert decide(facts("deployment.apply", stale)).refused_by == ["devices.annual-test"]
    use = decide(facts("verify", stale))
    assert use.allowed and "devices.annual-test" in [w.rule for w in use.warnings]


def test_remote_identification_ends_on_its_date() -> None:
    m = manifest(mode="identify", remote_identification=True,
                 remote_identification_scope=REMOTE_OK | {"until": "2026-11-23"})
    d = decide(facts("identify", m))
    assert d.refused_by == ["remote-id.restricted"] and "ended 2026-11-23" in d.message()


def test_public_place_filing_differs_between_packs() -> None:
    draft = decide(facts("deployment.apply", manifest(location=SIGNED)))
    final = decide(facts("deployment.apply", manifest(location=SIGNED), pack="cn-2025"))
    assert "filing.threshold" in [w.rule for w in draft.warnings]
    assert "filing.threshold" not in final.rules


def test_assessment_is_kept_three_years() -> None:
    keep = AssessmentFacts(1, date(2025, 1, 1), date(2028, 1, 1))
    assert decide(facts("pia.delete", assessment=keep)).refused_by == ["pia.before-use"]
    assert decide(facts("pia.delete", assessment=keep, on=date(2028, 1, 1))).allowed


def test_stale_assessment_blocks_use() -> None:
    stale = replace(ASSESSED, stale=True, stale_reason="purpose changed")
    d = decide(facts("enrol", assessment=stale))
    assert d.refused_by == ["pia.before-use"] and "stale" in d.message()


def test_identify_uses_the_identify_manifest() -> None:
    assert decide(facts("identify", IDENTIFY)).allowed


RULES_MD = Path(__file__).resolve().parents[2] / "shared" / "RULES.md"
# The module of ``facegate.policy.checks`` that holds the checks of each RULES.md section.
SECTION_MODULES = {
    "Purpose and necessity": "purpose",
    "Notice and consent": "consent",
    "The alternative, coercion and special transactions": "alternative",
    "Places and devices": "places",
    "What may be computed and kept": "keeping",
    "Assessments and filing": "assessments",
    "Rights": "rights",
}


def rules_md_sections() -> dict[str, str]:
    """Rule id -> the RULES.md section (``## ...``) whose list (``- `id` / `id` ...``) names it."""
    where: dict[str, str] = {}
    section = None
    for line in RULES_MD.read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif section is not None and (m := re.match(r"- ((?:`[^`]+`(?: / )?)+)", line)):
            for rule_id in re.findall(r"`([^`]+)`", m.group(1)):
                assert rule_id not in where, f"{rule_id} is listed twice in RULES.md"
                where[rule_id] = section
    return where


def test_each_check_lives_in_the_module_of_its_rules_md_section() -> None:
    where = rules_md_sections()
    assert set(where.values()) == set(SECTION_MODULES), set(where.values()) ^ set(SECTION_MODULES)
    assert set(RULES) <= set(where), set(RULES) - set(where)
    for rule_id in RULES:
        module = f"facegate.policy.checks.{SECTION_MODULES[where[rule_id]]}"
        checks = [fn for rid, _, fn in REGISTRY if rid == rule_id]
        assert checks, f"{rule_id} has no check"
        for fn in checks:
            assert fn.__module__ == module, (rule_id, fn.__name__, fn.__module__, module)
