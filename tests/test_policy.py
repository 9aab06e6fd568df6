"""The pure gate: each rule allows a lawful case and refuses an unlawful one, by rule id."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from facegate.policy import AssessmentFacts, ConsentFacts, Facts, Manifest, SubjectFacts, decide
from facegate.policy.checks import age_on
from facegate.policy.decision import Permit
from facegate.policy.rules import RULES

SHARED = Path(__file__).resolve().parents[2] / "shared"
TODAY = date(2026, 11, 24)


def office() -> dict[str, Any]:
    return {
        "id": "hq-door", "name": "HQ door", "rule_pack": "cn-draft-2023",
        "operator": {"name": "Example Co.", "contact": "privacy@example.com"},
        "purpose": "access_control", "necessity": "badges are lent and lost",
        "least_impact": "1:1 only", "mode": "verify",
        "location": {"type": "office_entrance", "venue": "office", "public_place": False,
                     "capture_area": "2 m in front of the door"},
        "alternative": {"method": "badge_at_guard_desk",
                        "description": "show the badge to the guard"},
        "retention_days": 365,
    }


def apply(raw: dict[str, Any], pack: str = "cn-draft-2023"):
    return decide(Facts(operation="deployment.apply", pack=pack, on=TODAY,
                        deployment=Manifest.model_validate(raw)))


def test_reference_manifest_is_lawful_in_both_packs() -> None:
    raw = yaml.safe_load((SHARED / "examples" / "office-door.yaml").read_text())
    for pack in ("cn-draft-2023", "cn-2025"):
        d = apply(raw, pack)
        assert d.allowed, d.message()
        assert {"purpose.declared", "alternative.required", "place.private-space"} <= set(d.rules)


def test_purpose_declared() -> None:
    raw = office()
    del raw["purpose"]
    d = apply(raw)
    assert not d.allowed and d.refused_by == ["purpose.declared"] and d.status == 422
    raw = office() | {"purpose": "mood_tracking"}
    assert apply(raw).refused_by == ["purpose.declared"]
    raw = office() | {"necessity": "  "}
    assert apply(raw).refused_by == ["purpose.declared"]


def test_least_impact_needed_only_under_2025_measures() -> None:
    raw = office()
    del raw["least_impact"]
    assert apply(raw, "cn-draft-2023").allowed
    d = apply(raw, "cn-2025")
    assert d.refused_by == ["purpose.declared"] and "least-impact" in d.message()


def test_alternative_required() -> None:
    raw = office() | {"location": office()["location"] | {"type": "counter", "venue": "bank"}}
    del raw["alternative"]
    raw["accessibility"] = {"alternative": "staff help at the counter"}
    d = apply(raw)
    assert d.refused_by == ["alternative.required"] and d.status == 403
    assert apply(raw | {"legal_basis": "Anti-Terrorism Law Art. 21"}).allowed


def test_building_access_needs_another_way_in_whatever_the_law() -> None:
    raw = office() | {"legal_basis": "Anti-Terrorism Law Art. 21",
                      "accessibility": {"alternative": "staff help"}}
    del raw["alternative"]
    assert apply(raw).refused_by == ["alternative.building-access"]
    assert apply(raw, "cn-2025").allowed  # a draft-only rule


@pytest.mark.parametrize("place", ["hotel_room", "public_bath", "changing_room",
                                   "fitting_room", "toilet"])
def test_private_space_always_refused(place: str) -> None:
    raw = office()
    raw["location"] = raw["location"] | {"type": place}
    for pack in ("cn-draft-2023", "cn-2025"):
        d = apply(raw | {"legal_basis": "any"}, pack)
        assert d.refused_by == ["place.private-space"]


def test_public_place_needs_necessity_area_and_signs() -> None:
    raw = office()
    raw["location"] = raw["location"] | {"public_place": True}
    d = apply(raw)
    assert d.refused_by == ["place.public-signage"]
    assert "signs" in d.message() and "public-security" in d.message()
    raw["location"] |= {"signage": "sign-photo-1",
                        "public_security_necessity": "crowd safety at the entrance"}
    assert apply(raw).allowed


def consent(**kw: Any) -> ConsentFacts:
    base = {"subject_id": "sub_1", "deployment_id": "hq-door", "purpose": "access_control",
            "notice_version": 1, "method": "electronic"}
    return ConsentFacts(**(base | kw))


ASSESSED = AssessmentFacts(1, date(2026, 1, 5), date(2029, 1, 5))


def use(op: str = "enrol", c: ConsentFacts | None = None, born: date | None = None,
        **kw: Any):
    return decide(Facts(operation=op, pack="cn-draft-2023", on=TODAY,
                        deployment=Manifest.model_validate(office()),
                        subject=SubjectFacts("sub_1", born), consent=c,
                        assessment=kw.pop("assessment", ASSESSED), **kw))


def test_enrol_needs_a_consent() -> None:
    assert use(c=consent()).allowed
    assert use(c=None).refused_by == ["consent.separate", "consent.lawful-basis"]
    assert use(c=consent(withdrawn=True)).refused_by == ["consent.withdraw"]


def test_purpose_bound() -> None:
    assert use(c=consent(purpose="attendance")).refused_by == ["purpose.bound"]
    assert use(c=consent(deployment_id="other")).refused_by == ["purpose.bound"]
    assert use(c=consent(), purpose="payment").refused_by == ["purpose.bound"]
    # identification at a 1:1 deployment is a use beyond what was declared
    assert use("identify").refused_by == ["purpose.bound"]


def test_guardian_under_14_counts_on_the_day_of_processing() -> None:
    child = date(2012, 11, 25)  # 14 tomorrow
    d = use(c=consent(), born=child)
    assert d.refused_by == ["consent.guardian-under-14"]
    assert "under 14" in d.message()
    guardian = consent(guardian_ref="parent-1", guardian_relationship="mother")
    d = use(c=guardian, born=child)
    assert d.refused_by == ["consent.guardian-under-14"] and "minors_rules" in d.message()
    with_rules = office() | {"minors_rules": "rules-for-minors-v1"}
    ok = decide(Facts(operation="enrol", pack="cn-draft-2023", on=TODAY,
                      deployment=Manifest.model_validate(with_rules),
                      subject=SubjectFacts("sub_1", child), consent=guardian,
                      assessment=ASSESSED))
    assert ok.allowed and "consent.guardian-under-14" in ok.rules
    assert use(c=consent(), born=date(2012, 11, 24)).allowed  # 14 today


def test_age_on_leap_day() -> None:
    assert age_on(date(2012, 2, 29), date(2026, 2, 28)) == 13
    assert age_on(date(2012, 2, 29), date(2026, 3, 1)) == 14
    assert age_on(date(2012, 2, 29), date(2028, 2, 29)) == 16


def test_notice_version_must_be_current_on_grant() -> None:
    def grant(v: int):
        return decide(Facts(operation="consent.grant", pack="cn-draft-2023", on=TODAY,
                            deployment=Manifest.model_validate(office()),
                            subject=SubjectFacts("sub_1"), consent=consent(notice_version=v),
                            purpose="access_control", current_notice_version=2,
                            assessment=ASSESSED))
    assert grant(2).allowed
    assert grant(1).refused_by == ["notice.required"]


def test_sensitive_attributes_refused() -> None:
    d = decide(Facts(operation="detect", pack="cn-2025", on=TODAY,
                     requested_attributes=("Race", "age")))
    assert d.refused_by == ["attributes.sensitive"] and "race" in d.message()
    d = decide(Facts(operation="detect", pack="cn-draft-2023", on=TODAY,
                     requested_attributes=("religion",)))
    assert d.refused_by == ["attributes.sensitive"]


def test_roles() -> None:
    d = decide(Facts(operation="enrol", pack="cn-draft-2023", on=TODAY, actor_role="auditor",
                     deployment=Manifest.model_validate(office()),
                     subject=SubjectFacts("sub_1"), consent=consent(), assessment=ASSESSED))
    assert d.refused_by == ["security.controls"]


def test_decisions_carry_bilingual_reasons_and_remedies() -> None:
    raw = office()
    del raw["alternative"]
    f = apply(raw).to_dict()["findings"]
    refused = next(x for x in f if not x["passed"])
    assert refused["reason"]["en"] and refused["reason"]["zh"]
    assert "alternative" in refused["remedy"]["en"]


def test_permits_come_only_from_allowing_decisions() -> None:
    with pytest.raises(TypeError):
        Permit("enrol", "sub_1", "hq-door", ())
    raw = office()
    del raw["alternative"]
    with pytest.raises(PermissionError):
        apply(raw).permit()
    p = use(c=consent()).permit()
    assert p.operation == "enrol" and p.subject_id == "sub_1"


def test_every_rule_in_the_catalogue_has_a_source_and_bilingual_title() -> None:
    text = (SHARED / "RULES.md").read_text()
    for rid, rule in RULES.items():
        assert f"`{rid}`" in text, rid
        assert rule.sources and rule.title_en and rule.title_zh
