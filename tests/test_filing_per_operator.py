"""The filing duty is each operator's own (``filing.threshold``): with two operators, persons
are counted at each one's deployments, each has its own clock and dossier, and one operator's
overdue filing holds back new face data at its own deployments only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.conftest import (
    ID02,
    JOLIE,
    OFFICER,
    OPERATOR,
    assessed,
    office_manifest,
    photo,
    running,
)

from facegate.api.app import create_app
from facegate.engine import Engine
from facegate.errors import BadInput, NotFound, Refused
from facegate.service import Actor, Facegate, Settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
OFFICE = "Example Trading Co., Ltd."
STATION = "Central Station Security Co., Ltd."
ADMIN = Actor("test-admin", "admin")


def square() -> dict[str, Any]:
    raw = yaml.safe_load((EXAMPLES / "public-square" / "deployment.yaml").read_text())
    assert raw["operator"]["name"] == STATION
    return dict(raw)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def two(data_dir: Path, engine: Engine, clock: Clock) -> Iterator[tuple[Facegate, str, str]]:
    settings = Settings(data_dir=data_dir, clock=clock)
    Facegate.initialise(settings)
    svc = Facegate(settings, engine)
    door = assessed(svc, office_manifest(mode="identify"))
    station = assessed(svc, square())
    yield svc, door, station
    svc.close()


def enrolled(svc: Facegate, dep: str, ref: str, pic: str) -> str:
    sid = str(svc.subjects.add(OFFICER, ref)["id"])
    svc.consents.grant(OFFICER, sid, dep, svc.deployments.get(OFFICER, dep)["purpose"])
    svc.matching.enrol(OPERATOR, sid, dep, [photo(pic)])
    return sid


def test_each_operator_is_counted_and_filed_apart(two: tuple[Facegate, str, str]) -> None:
    svc, door, station = two
    enrolled(svc, door, "E-1", JOLIE[0])
    enrolled(svc, door, "E-2", ID02[0])
    by = {s["operator"]: s for s in svc.filing.statuses(OFFICER)}
    assert set(by) == {OFFICE, STATION}
    assert by[OFFICE]["persons"] == 2 and by[OFFICE]["deployments"] == [door]
    assert by[STATION]["persons"] == 0 and by[STATION]["deployments"] == [station]
    # a public place makes the station's duty arise under cn-draft-2023; not the office's
    assert by[STATION]["required"] and not by[OFFICE]["required"]
    assert by[STATION]["reasons"] == [f"public_place:{station}"]
    with pytest.raises(BadInput, match="each operator's"):
        svc.filing.status(OFFICER)
    with pytest.raises(NotFound):
        svc.filing.status(OFFICER, "Nobody Ltd.")
    with pytest.raises(NotFound, match="no open filing task"):
        svc.filing.record(OFFICER, "filing", svc.settings.today(), "BA-1", OFFICE)
    filed = svc.filing.record(OFFICER, "filing", svc.settings.today(), "BA-7", STATION)
    assert filed["operator"] == STATION and filed["tasks"][0]["filed_on"]


def test_each_dossier_names_its_own_operator(two: tuple[Facegate, str, str]) -> None:
    svc, door, station = two
    enrolled(svc, door, "E-1", JOLIE[0])
    office = svc.documents.make(OFFICER, "filing", lang="en", operator=OFFICE).html
    assert OFFICE in office and STATION not in office
    assert door in office and station not in office
    zh = svc.documents.make(OFFICER, "filing", lang="zh", operator=STATION).html
    assert STATION in zh and OFFICE not in zh and station in zh and door not in zh
    with pytest.raises(BadInput):
        svc.documents.make(OFFICER, "filing", lang="en")


def test_an_overdue_filing_holds_back_only_its_own_operator(
        two: tuple[Facegate, str, str], clock: Clock) -> None:
    svc, door, station = two
    svc.filing.statuses(OFFICER)  # the station's duty arose on 2026-03-02
    clock.now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)  # well past 30 working days
    by = {s["operator"]: s for s in svc.filing.statuses(OFFICER)}
    assert by[STATION]["tasks"][0]["overdue"] and not by[OFFICE]["tasks"]
    sid = str(svc.subjects.add(OFFICER, "P-1")["id"])
    svc.consents.grant(OFFICER, sid, station, "public_security")
    with pytest.raises(Refused) as e:
        svc.matching.enrol(OPERATOR, sid, station, [photo(JOLIE[0])])
    assert e.value.rules == ["filing.threshold"]
    enrolled(svc, door, "E-3", JOLIE[1])  # the office's operator owes nothing


def test_the_api_gives_every_operator_and_each_dossier(
        two: tuple[Facegate, str, str]) -> None:
    svc, _, _ = two
    key = svc.keys.create(ADMIN, "officer", "officer")["key"]
    for base in running(create_app(svc, housekeeping_every_s=0)):
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as c:
            body = c.get("/v1/filing").json()
            assert [o["operator"] for o in body["operators"]] == sorted([OFFICE, STATION])
            r = c.get("/v1/filing/dossier", params={"operator": STATION, "format": "html"})
            assert r.status_code == 200 and STATION in r.text and OFFICE not in r.text
            r = c.get("/v1/filing/dossier", params={"format": "html"})
            assert r.status_code == 422 and r.json()["rules"] == ["filing.threshold"]
            r = c.post("/v1/filing", json={"filed_on": "2026-03-02", "reference": "BA-9",
                                           "operator": STATION})
            assert r.status_code == 200 and r.json()["operator"] == STATION
