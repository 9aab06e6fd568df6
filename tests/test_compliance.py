"""The rule catalogue end to end: real store (SQLite and PostgreSQL), real dlib, real photos.
Assessments, retention and housekeeping, the end of a deployment, legal bases, transactions of
major interest, exports, the person's rights and the filing count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.conftest import (
    ASSESSMENT,
    ID02,
    JOLIE,
    OFFICER,
    OPERATOR,
    assessed,
    office_manifest,
    photo,
)

from facegate.engine import Engine
from facegate.errors import Conflict, Refused
from facegate.service import Facegate, Settings
from facegate.store.models import Template


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def svc(data_dir: Path, engine: Engine, backend: str | None, clock: Clock
        ) -> Iterator[Facegate]:
    settings = Settings(data_dir=data_dir, database_url=backend, clock=clock)
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    yield service
    service.close()


def enrol(svc: Facegate, dep: str, ref: str, photos: list[str], **consent: str) -> str:
    sid = str(svc.subjects.add(OFFICER, ref)["id"])
    svc.consents.grant(OFFICER, sid, dep, svc.deployments.get(OFFICER, dep)["purpose"],
                      **consent)
    assert svc.matching.enrol(OPERATOR, sid, dep, [photo(p) for p in photos])["templates"]
    return sid


def refused(call, *args, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused) as e:
        call(*args, **kw)
    return list(e.value.rules)


def test_assessment_gates_use_and_goes_stale_on_a_change(svc: Facegate) -> None:
    dep = svc.deployments.apply(OFFICER, office_manifest())["id"]
    sid = str(svc.subjects.add(OFFICER, "E-1")["id"])
    assert refused(svc.consents.grant, OFFICER, sid, dep, "access_control") == [
        "pia.before-use"]
    svc.assessments.record(OFFICER, dep, ASSESSMENT)
    svc.consents.grant(OFFICER, sid, dep, "access_control")
    svc.matching.enrol(OPERATOR, sid, dep, [photo(JOLIE[0])])
    assert svc.matching.verify(OPERATOR, sid, dep, photo(JOLIE[1]))["match"]
    # a change of method makes the assessment stale: the changed deployment is blocked
    out = svc.deployments.apply(OFFICER, office_manifest(mode="identify"))
    assert out["changed"] == ["mode"] and out["assessment"]["stale"]
    assert refused(svc.matching.verify, OPERATOR, sid, dep, photo(JOLIE[1])) == ["pia.before-use"]
    assert svc.assessments.all(OFFICER, dep)[-1]["stale_reason"].startswith("method")
    svc.assessments.record(OFFICER, dep, ASSESSMENT)
    assert svc.matching.verify(OPERATOR, sid, dep, photo(JOLIE[1]))["match"]
    # kept three years: deleting it now is refused
    assert refused(svc.assessments.delete, OFFICER, dep, 1) == ["pia.before-use"]
    svc.assessments.incident(OFFICER, dep, "templates copied to a laptop")
    assert refused(svc.matching.verify, OPERATOR, sid, dep, photo(JOLIE[1])) == ["pia.before-use"]


def test_retention_ends_use_and_housekeeping_deletes(svc: Facegate, clock: Clock) -> None:
    dep = assessed(svc, office_manifest(mode="identify", retention_days=30))
    sid = enrol(svc, dep, "E-1", JOLIE[:1])
    probe = photo(JOLIE[1])
    assert svc.matching.identify(OPERATOR, dep, probe)["candidates"][0]["subject"] == sid
    clock.now += timedelta(days=31)
    assert refused(svc.matching.verify, OPERATOR, sid, dep, probe) == ["retention.minimum"]
    assert svc.matching.identify(OPERATOR, dep, probe)["candidates"] == []
    out = svc.housekeeping.run(OFFICER)
    assert out["expired_templates"] == 1 and out["deployments"] == [dep]
    with svc.uow() as uow:
        assert uow.session.execute(select(Template)).first() is None
    assert svc.audit.tail(OFFICER, 1)[0]["operation"] == "housekeeping"


def test_terminated_deployment_deletes_and_refuses(svc: Facegate) -> None:
    dep = assessed(svc, office_manifest())
    sid = enrol(svc, dep, "E-1", JOLIE[:2])
    receipt = svc.deployments.terminate(OFFICER, dep)
    assert receipt["deleted"] == {"templates": 2, "subjects": 1, "consents_closed": 1}
    assert "purpose.bound" in refused(svc.matching.verify, OPERATOR, sid, dep, photo(JOLIE[2]))
    with pytest.raises(Conflict):
        svc.deployments.apply(OFFICER, office_manifest())


def test_enrolment_under_a_cited_law_needs_no_consent(svc: Facegate) -> None:
    dep = assessed(svc, office_manifest(legal_basis="Exit and Entry Administration Law "
                                                    "Art. 11"))
    sid = str(svc.subjects.add(OFFICER, "E-1")["id"])
    out = svc.matching.enrol(OPERATOR, sid, dep, [photo(JOLIE[0])])
    assert "consent.lawful-basis" in out["decision"]["rules"]
    assert svc.consents.all(OFFICER, sid)[0]["method"] == "legal_basis"
    assert svc.matching.verify(OPERATOR, sid, dep, photo(JOLIE[1]))["match"]


def test_major_interest_needs_a_named_staff_check(svc: Facegate) -> None:
    m = office_manifest(id="assist", purpose="social_assistance",
                        transactions=["social_assistance"])
    m["location"] = {"type": "service_window", "venue": "government_service",
                     "capture_area": "window 3"}
    dep = assessed(svc, m)
    sid = enrol(svc, dep, "R-1", JOLIE[:1])
    out = svc.matching.verify(OPERATOR, sid, dep, photo(JOLIE[1]), transaction="pay-2026-11")
    assert out["match"] and not out["approved"] and out["manual_review_required"]
    assert refused(svc.reviews.review, OPERATOR, dep, "pay-2026-11", None, None) == [
        "major-interest.manual-review"]
    ok = svc.reviews.review(OPERATOR, dep, "pay-2026-11", "Zhou Min", "confirmed", sid)
    assert ok["approved"]
    rec = svc.audit.tail(OFFICER, 1)[0]
    assert rec["operation"] == "transaction.review" and rec["detail"]["staff"] == "Zhou Min"


def test_no_reprompt_after_a_decline_in_the_same_transaction(svc: Facegate) -> None:
    dep = assessed(svc, office_manifest())
    sid = enrol(svc, dep, "E-1", JOLIE[:1])
    svc.consents.decline(OPERATOR, dep, sid, transaction="visit-7")
    assert refused(svc.matching.verify, OPERATOR, sid, dep, photo(JOLIE[1]),
                   transaction="visit-7") == ["coercion.prohibited"]
    assert svc.matching.verify(OPERATOR, sid, dep, photo(JOLIE[1]), transaction="visit-8")["match"]


def test_images_are_never_kept_and_research_data_stays_out(svc: Facegate) -> None:
    dep = assessed(svc, office_manifest())
    sid = str(svc.subjects.add(OFFICER, "E-1")["id"])
    svc.consents.grant(OFFICER, sid, dep, "access_control")
    assert refused(svc.matching.enrol, OPERATOR, sid, dep, [photo(JOLIE[0])], keep_image=True) == [
        "images.no-retention"]
    final = assessed(svc, office_manifest(id="final-door", rule_pack="cn-2025"))
    svc.consents.grant(OFFICER, sid, final, "access_control")
    assert refused(svc.matching.enrol, OPERATOR, sid, final, [photo(JOLIE[0])],
                   source="training") == ["scope.rnd-excluded"]


def test_exports_need_a_basis_and_stay_pseudonymous(data_dir: Path, engine: Engine,
                                                    backend: str | None) -> None:
    settings = Settings(data_dir=data_dir, database_url=backend, rule_pack="cn-2025")
    Facegate.initialise(settings)
    svc = Facegate(settings, engine)
    try:
        dep = assessed(svc, office_manifest(rule_pack="cn-2025"))
        sid = enrol(svc, dep, "E-1", JOLIE[:1])
        assert refused(svc.exports.templates, OFFICER, sid, None) == ["storage.on-device"]
        assert refused(svc.exports.templates, OFFICER, sid, "consent c-1",
                       with_identity=True) == ["storage.separate-identity"]
        out = svc.exports.templates(OFFICER, sid, "separate written consent c-1")
        assert len(out["templates"]) == 1 and len(out["templates"][0]["vector"]) == 128
        assert "E-1" not in str(out)
        assert refused(svc.exports.templates, OPERATOR, sid, "x") == ["security.controls"]
    finally:
        svc.close()


def test_rights_requests_for_verified_requesters(svc: Facegate) -> None:
    dep = assessed(svc, office_manifest())
    sid = enrol(svc, dep, "E-1", JOLIE[:2])
    assert refused(svc.rights.access, OFFICER, sid, False) == ["rights.access"]
    held = svc.rights.access(OFFICER, sid, True)
    assert len(held["templates"]) == 2 and held["deployments"][0]["purpose"] == "access_control"
    assert "vector" not in str(held["templates"])
    assert refused(svc.rights.delete, OFFICER, sid, False) == ["rights.delete"]
    receipt = svc.rights.delete(OFFICER, sid, True)
    assert len(receipt["deleted"]["templates"]) == 2 and receipt["request"] == "rights.delete"
    ops = [r["operation"] for r in svc.audit.tail(OFFICER, 5)]
    assert "rights.access" in ops and "subject.delete" in ops


def test_filing_counts_distinct_persons(svc: Facegate) -> None:
    dep = assessed(svc, office_manifest(mode="identify"))
    enrol(svc, dep, "E-1", JOLIE[:2])
    enrol(svc, dep, "E-2", ID02[:1])
    status = svc.filing.status(OFFICER)
    assert status["persons"] == 2 and not status["required"]
    assert status["threshold"] == 10_000 and status["inclusive"] is False
    square = office_manifest(id="square")
    square["location"] = {"type": "square", "venue": "railway_station", "public_place": True,
                          "capture_area": "north square", "signage": "sign-photos-1",
                          "public_security_necessity": "crowd safety"}
    svc.deployments.apply(OFFICER, square)
    status = svc.filing.status(OFFICER)
    assert status["required"] and status["reasons"] == ["public_place:square"]
    assert status["crossed_on"] == svc.settings.today().isoformat()
