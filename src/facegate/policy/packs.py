"""Rule packs: which rules apply and with which parameters.

Parameters live here, not in the checks: ages, closed lists, thresholds. A check reads
``pack.params`` and never hard-codes a value that a pack could change.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from facegate.policy.rules import DRAFT, FINAL, RULES

PURPOSES = (
    "access_control", "attendance", "payment", "identity_verification", "public_security",
    "internal_management", "service_access", "education_management", "social_assistance",
)
# How people read each purpose: (Chinese, English). Pages and documents show these, never
# the codes.
PURPOSE_NAMES: dict[str, tuple[str, str]] = {
    "access_control": ("门禁通行", "Access control"),
    "attendance": ("考勤", "Attendance"),
    "payment": ("支付", "Payment"),
    "identity_verification": ("身份核验", "Identity verification"),
    "public_security": ("维护公共安全", "Public security"),
    "internal_management": ("内部管理", "Internal management"),
    "service_access": ("办理业务身份确认", "Access to a service"),
    "education_management": ("教育管理", "Education management"),
    "social_assistance": ("社会救助", "Social assistance"),
}
PRIVATE_PLACES = (
    "hotel_room", "public_bath", "bathroom", "changing_room", "fitting_room", "toilet",
    "dormitory_room", "medical_examination_room",
)
LOCATION_TYPES = (
    "office_entrance", "building_entrance", "residential_entrance", "reception", "counter",
    "checkout", "gate", "platform", "hall", "classroom", "campus_entrance", "street", "square",
    "lobby", "kiosk", "service_window", "other", *PRIVATE_PLACES,
)
VENUES = (
    "hotel", "bank", "railway_station", "airport", "sports_venue", "exhibition_hall", "museum",
    "art_gallery", "library", "residential_property", "office", "school", "hospital", "retail",
    "government_service", "public_street", "transport", "factory", "other",
)
SENSITIVE_ATTRIBUTES = (
    "race", "ethnicity", "religion", "beliefs", "health", "social_class", "disability",
    "sexual_orientation", "political_opinion", "pregnancy", "emotion", "criminal_record",
)
# Building and residential-area access points (alternative.building-access).
BUILDING_ACCESS = ("office_entrance", "building_entrance", "residential_entrance",
                   "campus_entrance", "gate", "residential_property")
# Venues where identity verification by face needs the person's explicit choice per
# transaction (coercion.prohibited, cn-draft-2023).
COERCION_VENUES = ("hotel", "bank", "railway_station", "airport", "sports_venue",
                   "exhibition_hall", "museum", "art_gallery", "library")
# Purposes that verify a person's identity "to handle business" or "improve service" there
# (coercion.prohibited): the venue checks a customer or visitor in order to serve them. The other
# purposes of PURPOSES are outside it: the venue's own staff (attendance, internal_management),
# a school's pupils (education_management), and public security, which only the check itself
# can place (in a public place or remotely it is outside; at a counter it is business).
COERCION_PURPOSES = ("identity_verification", "payment", "service_access", "access_control",
                     "social_assistance")
# Transactions of major personal interest (major-interest.manual-review).
MAJOR_INTEREST = ("social_assistance", "real_estate_disposal", "pension_certification",
                  "medical_insurance_claim")
# Alternatives staffed by a person, usable with assistance (notice.accessible).
ASSISTED_ALTERNATIVES = ("badge_at_guard_desk", "staff_check", "id_document_check",
                         "manual_check", "reception_desk", "counter_service", "guard_desk")
REMOTE_ID_BASES = ("national_security", "public_safety", "emergency")
ENROLMENT_SOURCES = ("live", "research", "training")
MODES = ("verify", "identify")
CONSENT_METHODS = ("electronic", "written")


@dataclass(frozen=True)
class Pack:
    name: str
    title: str
    params: MappingProxyType[str, Any]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in RULES.values() if r.in_pack(self.name))

    def has(self, rule_id: str) -> bool:
        return RULES[rule_id].in_pack(self.name)


_COMMON: dict[str, Any] = {
    "purposes": PURPOSES,
    "private_places": PRIVATE_PLACES,
    "location_types": LOCATION_TYPES,
    "venues": VENUES,
    "modes": MODES,
    "consent_methods": CONSENT_METHODS,
    "sensitive_attributes": SENSITIVE_ATTRIBUTES,
    "guardian_age": 14,
    # A person reaches an age on the birthday itself (RULES.md: "has not reached their 14th
    # birthday on the day of processing"); set True to count from the day after instead.
    "age_reached_day_after_birthday": False,
    "filing_working_days": 30,
    "filing_warn_ratio": 0.8,  # warn when stored persons reach 80% of the threshold
    "filing_warn_working_days": 5,  # warn this many working days before a filing is due
    "building_access_locations": BUILDING_ACCESS,
    "coercion_venues": (),
    "coercion_purposes": COERCION_PURPOSES,
    "major_interest_transactions": MAJOR_INTEREST,
    "assisted_alternatives": ASSISTED_ALTERNATIVES,
    "remote_id_bases": REMOTE_ID_BASES,
    "rnd_sources": ("research", "training"),
    "device_test_months": 12,
    "pia_keep_years": 3,
    "pia_stale_on": ("purpose", "mode"),  # a change of these makes the assessment stale
    "housekeeping_interval_s": 3600,
}

PACKS: dict[str, Pack] = {
    DRAFT: Pack(
        DRAFT,
        "Provisions on the Security Management of Face Recognition Technology Applications "
        "(Trial), Draft for Comment, 2023-08-08",
        MappingProxyType({
            **_COMMON,
            "require_least_impact": False,
            "coercion_venues": COERCION_VENUES,
            "filing_threshold_persons": 10_000,
            "filing_threshold_inclusive": False,  # "more than 10,000"
            "filing_public_place": True,
            "filing_authority": "city-level cyberspace administration or above",
        }),
    ),
    FINAL: Pack(
        FINAL,
        "Measures for the Security Management of Face Recognition Technology Applications "
        "(CAC/MPS Order No. 19), in force 2025-06-01",
        MappingProxyType({
            **_COMMON,
            "require_least_impact": True,
            "filing_threshold_persons": 100_000,
            "filing_threshold_inclusive": True,  # "100,000 or more"
            "filing_public_place": False,
            "filing_authority": "provincial-level cyberspace administration or above",
        }),
    ),
}

DEFAULT_PACK = DRAFT


def get_pack(name: str | None) -> Pack:
    if name is None:
        return PACKS[DEFAULT_PACK]
    try:
        return PACKS[name]
    except KeyError:
        raise KeyError(f"unknown rule pack {name!r}; known: {', '.join(PACKS)}") from None
