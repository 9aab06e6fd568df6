"""Holiday schedules loaded by the operator (``filing.threshold``): only for a year the
chinese-calendar package does not know, only plausible ones, and never in effect without
their audit record."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import OFFICER

from facegate.compliance import WorkdayCalendar, parse_schedule
from facegate.engine import Engine
from facegate.errors import BadInput
from facegate.service import Facegate, Settings

SCHEDULE_2027: dict[str, Any] = {
    "year": 2027, "source": "test schedule",
    "holidays": ["2027-01-01", {"name": "Spring Festival", "from": "2027-02-06",
                                "to": "2027-02-12"}],
    "workdays": ["2027-01-31", "2027-02-20"],
}


class Clock:
    def __call__(self) -> datetime:
        return datetime(2027, 1, 19, 2, 0, tzinfo=UTC)


@pytest.fixture()
def svc(data_dir: Path, engine: Engine) -> Iterator[Facegate]:
    settings = Settings(data_dir=data_dir, clock=Clock())
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    yield service
    service.close()


def test_a_year_the_library_knows_is_refused(svc: Facegate, data_dir: Path) -> None:
    fake = {"year": 2026, "source": "forged", "holidays": ["2026-01-01"]}
    with pytest.raises(BadInput, match="already known") as info:
        svc.filing.load_calendar(OFFICER, fake)
    assert list(info.value.rules) == ["filing.threshold"]
    assert not (data_dir / "calendars" / "2026.yaml").exists()
    assert not svc.filing.calendar.is_workday(date(2026, 10, 1))  # National Day stands


def test_a_file_for_a_library_year_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "2026.yaml").write_text(yaml.safe_dump(
        {"year": 2026, "source": "forged", "holidays": ["2026-01-01"]}), encoding="utf-8")
    cal = WorkdayCalendar.from_directory(tmp_path)
    assert not cal.is_workday(date(2026, 10, 1))
    assert cal.source_of(2026) == "chinese-calendar package"


def _range_off(days: int) -> dict[str, Any]:
    last = date(2027, 3, 1) + timedelta(days=days - 1)
    return {"year": 2027, "source": "test", "holidays": [
        {"from": "2027-03-01", "to": last.isoformat()}]}


@pytest.mark.parametrize("data, words", [
    (_range_off(181), "not a plausible"),  # half a year off
    (_range_off(80), "not a plausible"),
    ({"year": 2027, "source": "test", "holidays": [],
      "workdays": [d.isoformat() for d in (date(2027, 1, 2) + timedelta(days=7 * k)
                                           for k in range(25))]}, "not a plausible"),
    ({"year": 2027, "source": "test", "holidays": [], "workdays": ["2027-03-03"]},
     "Wednesday"),
    ({"year": 2027, "source": "test", "holidays": ["2028-01-03"]}, "not in 2027"),
])
def test_implausible_schedules_are_refused(svc: Facegate, data_dir: Path, data: dict[str, Any],
                                           words: str) -> None:
    with pytest.raises(BadInput, match=words) as info:
        svc.filing.load_calendar(OFFICER, data)
    assert list(info.value.rules) == ["filing.threshold"]
    assert not (data_dir / "calendars" / "2027.yaml").exists()
    assert not svc.filing.calendar.knows(2027)


def test_a_real_sized_schedule_is_accepted() -> None:
    assert parse_schedule(_range_off(40)).year == 2027  # about 30 weekdays off: within bounds


def test_no_schedule_in_effect_without_its_audit_record(
        svc: Facegate, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: Any, **__: Any) -> None:
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr(svc.filing._audit, "record", fail)
    with pytest.raises(RuntimeError):
        svc.filing.load_calendar(OFFICER, SCHEDULE_2027)
    assert list((data_dir / "calendars").iterdir()) == []
    assert not svc.filing.calendar.knows(2027)
    monkeypatch.undo()
    out = svc.filing.load_calendar(OFFICER, SCHEDULE_2027)
    assert Path(out["file"]).name == "2027.yaml" and svc.filing.calendar.knows(2027)
    assert svc.filing.calendar.source_of(2027) == "test schedule"
