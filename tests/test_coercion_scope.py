"""Where ``coercion.prohibited`` asks for the person's choice per transaction: identity
verification to do business at the draft's listed venues, not public-security identification in
a public place or at a distance, which ``place.public-signage`` and ``remote-id.restricted``
govern. A recorded decline is honoured everywhere.

Pure gate cases for every listed venue and purpose, then the station square and the hotel
examples through the service (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import JOLIE, OFFICER, OPERATOR, assessed, photo

from facegate.engine import Engine
from facegate.errors import Refused
from facegate.policy import AssessmentFacts, ConsentFacts, Facts, Manifest, SubjectFacts, decide
from facegate.policy.packs import COERCION_PURPOSES, COERCION_VENUES, PACKS, PURPOSES
from facegate.service import Facegate, Settings

TODAY = date(2026, 11, 24)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DRAFT = "cn-draft-2023"
# Known purposes that are not business with the person at the venue.
STAFF_AND_PUPILS = ("attendance", "internal_management", "education_management")
REMOTE_OK = {"basis": "public_safety", "until": "2027-01-31", "area": "north square",
             "people": "persons on the court-ordered watch list"}


def manifest(venue: str, purpose: str, mode: str = "verify", **over: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "dep", "name": "Desk", "rule_pack": DRAFT,
        "operator": {"name": "Example Co.", "contact": "privacy@example.com"},
        "purpose": purpose, "necessity": "stated", "least_impact": "1:1 only", "mode": mode,
        "location": {"type": "counter", "venue": venue, "public_place": False,
                     "capture_area": "the customer side of the counter"},
        "alternative": {"method": "staff_check", "description": "staff compare the document"},
        "retention_days": 30,
    }
    for key, value in over.items():
        raw[key] = raw[key] | value if isinstance(raw.get(key), dict) else value
    return raw


def facts(raw: dict[str, Any], op: str = "verify", **kw: Any) -> Facts:
    m = Manifest.model_validate(raw)
    base: dict[str, Any] = {
        "operation": op, "pack": m.rule_pack or DRAFT, "on": TODAY, "deployment": m,
        "assessment": AssessmentFacts(1, date(2026, 1, 5), date(2029, 1, 5))}
    if op == "verify":
        base |= {"subject": SubjectFacts("sub_1"),
                 "consent": ConsentFacts("sub_1", m.id, m.purpose or "", 1, "written")}
    return Facts(**(base | kw))


def example(name: str, **over: Any) -> dict[str, Any]:
    raw = yaml.safe_load((EXAMPLES / name / "deployment.yaml").read_text())
    assert isinstance(raw, dict)
    for key, value in over.items():
        raw[key] = raw[key] | value if isinstance(raw.get(key), dict) else value
    return raw


def coercion_passed(raw: dict[str, Any], op: str, **kw: Any) -> bool:
    d = decide(facts(raw, op, **kw))
    return d.allowed and "coercion.prohibited" in d.rules


# ---- the pure gate ------------------------------------------------------------------------


def test_every_purpose_is_placed_inside_or_outside_the_choice() -> None:
    """A new purpose must be placed on one side; an unknown one stays under the choice."""
    assert set(COERCION_PURPOSES) | set(STAFF_AND_PUPILS) | {"public_security"} == set(PURPOSES)
    assert all(p.params["coercion_purposes"] == COERCION_PURPOSES for p in PACKS.values())
    unknown = facts(manifest("bank", "mood_tracking"))
    assert decide(unknown).refused_by == ["coercion.prohibited"]


@pytest.mark.parametrize("op", ["verify", "identify"])
@pytest.mark.parametrize("purpose", COERCION_PURPOSES)
@pytest.mark.parametrize("venue", COERCION_VENUES)
def test_business_at_a_listed_venue_needs_the_choice_per_transaction(
        venue: str, purpose: str, op: str) -> None:
    raw = manifest(venue, purpose, "identify" if op == "identify" else "verify")
    assert decide(facts(raw, op)).refused_by == ["coercion.prohibited"]
    # the choice belongs to a transaction: choice=face alone is not enough
    assert decide(facts(raw, op, choice="face")).refused_by == ["coercion.prohibited"]
    assert decide(facts(raw, op, transaction="tx-1")).refused_by == ["coercion.prohibited"]
    assert coercion_passed(raw, op, transaction="tx-1", choice="face")
    declined = facts(raw, op, transaction="tx-1", choice="face", declined_in_transaction=True)
    assert decide(declined).refused_by == ["coercion.prohibited"]


@pytest.mark.parametrize("purpose", STAFF_AND_PUPILS)
@pytest.mark.parametrize("venue", COERCION_VENUES)
def test_staff_and_pupils_at_a_listed_venue_are_not_asked_per_transaction(
        venue: str, purpose: str) -> None:
    raw = manifest(venue, purpose)
    assert coercion_passed(raw, "verify")
    # a recorded decline is honoured all the same
    declined = facts(raw, "verify", transaction="shift-1", declined_in_transaction=True)
    assert decide(declined).refused_by == ["coercion.prohibited"]


@pytest.mark.parametrize("venue", COERCION_VENUES)
def test_public_security_identification_in_a_public_place_needs_no_choice(venue: str) -> None:
    square = manifest(venue, "public_security", "identify",
                      location={"type": "square", "public_place": True,
                                "signage": "sign-photos-1",
                                "public_security_necessity": "order no. 2026-118"})
    assert coercion_passed(square, "identify")
    assert decide(facts(square, "deployment.apply")).allowed
    # place.public-signage still governs the deployment
    unsigned = manifest(venue, "public_security", "identify",
                        location={"type": "square", "public_place": True})
    assert decide(facts(unsigned, "deployment.apply")).refused_by == ["place.public-signage"]
    # a decline recorded in a transaction is still never overridden
    declined = facts(square, "identify", transaction="t-1", declined_in_transaction=True)
    assert decide(declined).refused_by == ["coercion.prohibited"]


@pytest.mark.parametrize("venue", COERCION_VENUES)
def test_remote_public_security_identification_is_governed_by_remote_id(venue: str) -> None:
    unlimited = manifest(venue, "public_security", "identify", remote_identification=True)
    assert decide(facts(unlimited, "identify")).refused_by == ["remote-id.restricted"]
    limited = manifest(venue, "public_security", "identify", remote_identification=True,
                       remote_identification_scope=REMOTE_OK)
    assert coercion_passed(limited, "identify")
    ended = manifest(venue, "public_security", "identify", remote_identification=True,
                     remote_identification_scope=REMOTE_OK | {"until": "2026-11-23"})
    assert decide(facts(ended, "identify")).refused_by == ["remote-id.restricted"]


@pytest.mark.parametrize("op", ["verify", "identify"])
@pytest.mark.parametrize("venue", COERCION_VENUES)
def test_public_security_named_at_a_counter_is_still_business(venue: str, op: str) -> None:
    """Only the public place or remote identification takes public security out of the
    choice; a business does not escape it by naming its desk check public security."""
    counter = manifest(venue, "public_security", "identify" if op == "identify" else "verify")
    assert decide(facts(counter, op)).refused_by == ["coercion.prohibited"]
    square = manifest(venue, "public_security", "identify" if op == "identify" else "verify",
                      location={"public_place": True})
    assert coercion_passed(square, op)


def test_the_station_square_example_identifies_without_a_choice() -> None:
    square = example("public-square")
    d = decide(facts(square, "identify"))
    assert d.allowed, d.message()
    assert "coercion.prohibited" in d.rules
    remote = example("public-square", remote_identification=True)
    assert decide(facts(remote, "identify")).refused_by == ["remote-id.restricted"]
    unsigned = example("public-square", location={"signage": None})
    assert decide(facts(unsigned, "deployment.apply")).refused_by == ["place.public-signage"]


def test_the_hotel_example_needs_the_choice_with_a_transaction() -> None:
    hotel = example("hotel-checkin")
    assert decide(facts(hotel, "verify", choice="face")).refused_by == ["coercion.prohibited"]
    assert coercion_passed(hotel, "verify", transaction="checkin-1", choice="face")


# ---- through the service ------------------------------------------------------------------


@pytest.fixture()
def svc(data_dir: Path, engine: Engine, backend: str | None) -> Iterator[Facegate]:
    day = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    settings = Settings(data_dir=data_dir, database_url=backend, clock=lambda: day)
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    yield service
    service.close()


def enrolled(svc: Facegate, dep: str, purpose: str) -> str:
    sid = str(svc.subjects.add(OFFICER, "P-1")["id"])
    svc.consents.grant(OFFICER, sid, dep, purpose)
    assert svc.matching.enrol(OPERATOR, sid, dep, [photo(JOLIE[0])])["templates"]
    return sid


def refused(call: Any, *args: Any, **kw: Any) -> list[str]:
    with pytest.raises(Refused) as e:
        call(*args, **kw)
    return list(e.value.rules)


def test_station_square_identifies_for_public_security_without_a_choice(svc: Facegate) -> None:
    dep = assessed(svc, example("public-square"))
    sid = enrolled(svc, dep, "public_security")
    out = svc.matching.identify(OPERATOR, dep, photo(JOLIE[1]))
    assert [c["subject"] for c in out["candidates"]][:1] == [sid]
    # the rules that govern public-place identification still refuse an unlawful square
    assert refused(svc.deployments.apply, OFFICER,
                   example("public-square", id="south-square", remote_identification=True)
                   ) == ["remote-id.restricted"]
    assert refused(svc.deployments.apply, OFFICER,
                   example("public-square", id="west-square", location={"signage": None})
                   ) == ["place.public-signage"]


def test_hotel_check_in_needs_the_choice_and_no_reprompt(svc: Facegate) -> None:
    dep = assessed(svc, example("hotel-checkin"))
    sid = enrolled(svc, dep, "identity_verification")
    image = photo(JOLIE[1])
    assert refused(svc.matching.verify, OPERATOR, sid, dep, image) == ["coercion.prohibited"]
    assert refused(svc.matching.verify, OPERATOR, sid, dep, image,
                   choice="face") == ["coercion.prohibited"]
    svc.consents.decline(OPERATOR, dep, sid, transaction="checkin-1")
    assert refused(svc.matching.verify, OPERATOR, sid, dep, image, transaction="checkin-1",
                   choice="face") == ["coercion.prohibited"]
    assert svc.matching.verify(OPERATOR, sid, dep, image, transaction="checkin-2",
                               choice="face")["match"]
