"""The catalogue as people read it: ``facegate rules list`` / ``rules explain`` and
``GET /v1/rules``. Pure: built from ``rules``, ``packs`` and the checks' registry."""

from __future__ import annotations

from typing import Any

from facegate.policy.checks import REGISTRY
from facegate.policy.packs import PACKS, get_pack
from facegate.policy.rules import RULES, get_rule

# Which pack parameters each rule reads (shown by ``rules explain``).
RULE_PARAMS: dict[str, tuple[str, ...]] = {
    "purpose.declared": ("purposes", "modes", "require_least_impact"),
    "place.private-space": ("private_places", "location_types", "venues"),
    "consent.separate": ("consent_methods",),
    "consent.guardian-under-14": ("guardian_age", "age_reached_day_after_birthday"),
    "attributes.sensitive": ("sensitive_attributes",),
    "notice.accessible": ("assisted_alternatives",),
    "alternative.building-access": ("building_access_locations",),
    "coercion.prohibited": ("coercion_venues", "coercion_purposes", "purposes"),
    "major-interest.manual-review": ("major_interest_transactions",),
    "remote-id.restricted": ("remote_id_bases",),
    "devices.annual-test": ("device_test_months",),
    "scope.rnd-excluded": ("rnd_sources",),
    "pia.before-use": ("pia_keep_years", "pia_stale_on"),
    "filing.threshold": ("filing_threshold_persons", "filing_threshold_inclusive",
                         "filing_public_place", "filing_authority", "filing_working_days",
                         "filing_warn_ratio", "filing_warn_working_days"),
    "filing.change": ("filing_working_days",),
    "filing.deregister": ("filing_working_days",),
    "retention.minimum": ("housekeeping_interval_s",),
}


def rule_summary(rule_id: str) -> dict[str, Any]:
    r = get_rule(rule_id)
    return {"id": r.id, "title": {"en": r.title_en, "zh": r.title_zh},
            "packs": [p for p in PACKS if r.in_pack(p)], "sources": dict(r.sources),
            "advisory": r.advisory}


def rules_catalogue(pack: str | None = None) -> list[dict[str, Any]]:
    """Every rule, or the rules of one pack (an unknown pack is a ``KeyError``)."""
    if pack is not None:
        name = get_pack(pack).name
        return [rule_summary(r) for r in RULES if RULES[r].in_pack(name)]
    return [rule_summary(r) for r in RULES]


def explain(rule_id: str) -> dict[str, Any]:
    """What a rule checks, on which operations, with which parameters per pack, and why."""
    r = get_rule(rule_id)
    checks = [(sorted(ops), fn) for rid, ops, fn in REGISTRY if rid == rule_id]
    return {
        **rule_summary(rule_id),
        "checks": [{"operations": ops, "what": (fn.__doc__ or "").strip() or None,
                    "function": fn.__name__} for ops, fn in checks],
        "remedy": {"en": r.remedy_en, "zh": r.remedy_zh} if r.remedy_en else None,
        "parameters": {p: {k: _plain(PACKS[p].params[k]) for k in RULE_PARAMS.get(rule_id, ())}
                       for p in PACKS if r.in_pack(p)},
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
