"""Provisional due dates (rule ``filing.threshold``): a deadline that runs into a year whose
State Council holiday schedule is not known gets the earliest date it can fall on, marked
provisional; it is overdue after that date, and loading the year's schedule gives the true
date, never an earlier one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from tests.conftest import JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo

from facegate.cli.compliance import _filing_text
from facegate.compliance import (
    FilingStatus,
    UnknownCalendarYear,
    WorkdayCalendar,
    compute_status,
    earliest_due_date,
)
from facegate.compliance import workdays as workdays_module
from facegate.engine import Engine
from facegate.errors import Refused
from facegate.policy.packs import PACKS
from facegate.service import Facegate, Settings

DRAFT, FINAL = "cn-draft-2023", "cn-2025"
DAY = timedelta(days=1)
# A made-up 2027 schedule (not the State Council's): New Year's Day off, one make-up Sunday.
SCHEDULE_2027: dict[str, Any] = {"year": 2027, "source": "test schedule",
                                 "holidays": ["2027-01-01"], "workdays": ["2027-01-10"]}


def status(today: date, crossed_on: date, calendar: WorkdayCalendar | None = None,
           **kw: Any) -> FilingStatus:
    return compute_status(pack=FINAL, params=PACKS[FINAL].params, persons=100_000,
                          public_place_deployments=[], crossed_on=crossed_on, events=(),
                          today=today, calendar=calendar or WorkdayCalendar(), **kw)


# ---- the bound ------------------------------------------------------------------------------


def test_provisional_date_is_never_later_than_the_true_one_in_any_known_year(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each of 2005-2026 in turn is treated as a year without a schedule: for start days from
    mid-November before it to its end (2026: to November), the provisional 30-working-day
    date is never later than the true one of chinese-calendar, make-up days (调休) and all."""
    real_years = workdays_module.library_years()
    checked = 0
    for year in range(2005, 2027):
        known = real_years - {year}
        monkeypatch.setattr(workdays_module, "library_years", lambda k=known: k)
        blind = WorkdayCalendar()
        start = date(year - 1, 11, 15)
        while start <= min(date(year, 12, 31), date(2026, 11, 1)):  # the truth ends in 2026
            provisional, missing = blind.earliest_working_day(start, 30)
            actual, left = start, 30
            while left:
                actual += DAY
                left -= chinese_calendar.is_workday(actual)
            runs_into_year = start < date(year, 12, 31) and provisional.year >= year
            assert missing == ((year,) if runs_into_year else ()), start
            assert provisional <= actual, (start, provisional, actual)
            checked += 1
            start += 5 * DAY
    assert checked > 1500


def test_make_up_days_can_beat_a_weekday_count_but_not_the_provisional_date() -> None:
    """Make-up Saturdays and Sundays pull a deadline earlier than a Monday-to-Friday count
    would, so a weekday count is no safe bound; the provisional date still is."""
    makeup = {"year": 2027, "source": "test schedule", "holidays": [],
              "workdays": ["2027-01-02", "2027-01-03", "2027-01-09", "2027-01-10"]}
    start = date(2026, 12, 31)
    weekday_count = start
    for _ in range(10):
        weekday_count += DAY
        while weekday_count.weekday() >= 5:
            weekday_count += DAY
    actual = WorkdayCalendar(extra_schedules=[makeup]).add_working_days(start, 10)
    provisional, missing = WorkdayCalendar().earliest_working_day(start, 10)
    assert (weekday_count, actual, provisional, missing) == (
        date(2027, 1, 14), date(2027, 1, 10), date(2027, 1, 10), (2027,))


def test_documented_history_of_make_up_days() -> None:
    """The numbers in the workdays module docstring: 5 to 12 make-up days a year in
    2004-2026 (12 in 2013), never more than 4 in 60 days, so a per-year cap at the maximum
    never binds within 30 days (at most 10 weekend days)."""
    days = [date(2004, 1, 1) + k * DAY for k in range((date(2027, 1, 1) - date(2004, 1, 1)).days)]
    makeup = [d.weekday() >= 5 and chinese_calendar.is_workday(d) for d in days]
    per_year: dict[int, int] = {}
    for d, m in zip(days, makeup, strict=True):
        per_year[d.year] = per_year.get(d.year, 0) + m
    assert min(per_year.values()) == 5 and max(per_year.values()) == 12
    assert [y for y, n in per_year.items() if n == 12] == [2013]
    assert max(sum(makeup[i:i + 60]) for i in range(len(days) - 59)) == 4
    assert max(sum(d.weekday() >= 5 for d in days[i:i + 30]) for i in range(7)) == 10


def test_known_years_are_exact() -> None:
    cal = WorkdayCalendar()
    start = date(2025, 9, 15)
    assert cal.earliest_working_day(start, 30) == (date(2025, 10, 31), ())
    assert earliest_due_date(date(2025, 6, 1), PACKS[DRAFT].params, cal) == (
        date(2025, 7, 14), ())
    assert cal.potential_working_days_between(date(2025, 10, 23), date(2025, 10, 31)) == 6
    assert not status(date(2025, 9, 16), start).tasks[0].due_provisional


# ---- the filing status ----------------------------------------------------------------------


def test_december_duty_gets_a_provisional_2027_date_with_a_bilingual_warning() -> None:
    crossed = date(2026, 12, 15)  # 12 working days left in 2026, then every day of 2027
    s = status(date(2026, 12, 16), crossed)
    (task,) = s.tasks
    assert (task.due_on, task.due_provisional, task.missing_years) == (
        date(2027, 1, 18), True, (2027,))
    body = s.to_dict()["tasks"][0]
    assert body["due_on"] == "2027-01-18" and body["due_provisional"] is True
    assert body["missing_years"] == [2027] and body["working_days_left"] == 29
    calendar, due = s.warnings
    assert calendar["level"] == "calendar" and due["level"] == "info"
    assert "provisional" in calendar["en"] and "facegate filing calendar FILE" in calendar["en"]
    assert "2027" in calendar["en"] and "暂定" in calendar["zh"] and "2027" in calendar["zh"]
    assert "facegate filing calendar" in calendar["zh"]
    assert "2027-01-18 (provisional)" in due["en"] and "2027-01-18（暂定）" in due["zh"]
    text = _filing_text(s.to_dict() | {"what_to_file": [], "operator": "Example Co.",
                                       "deployments": ["office-door"]})
    assert "due 2027-01-18 (provisional" in text and "facegate filing calendar FILE" in text


def test_overdue_fires_the_day_after_the_provisional_date() -> None:
    crossed = date(2026, 12, 15)
    on_the_day = status(date(2027, 1, 18), crossed)
    assert not on_the_day.overdue and on_the_day.working_days_left == [0]
    late = status(date(2027, 1, 19), crossed)
    assert late.overdue and late.working_days_left == [-1]
    assert [w["level"] for w in late.warnings] == ["overdue", "calendar"]
    assert "2027-01-18 (provisional)" in late.warnings[0]["en"]
    assert "逾期" in late.warnings[0]["zh"]


def test_filing_by_the_provisional_date_is_on_time_later_is_not_yet_known() -> None:
    crossed = date(2026, 12, 15)
    on_time = status(date(2027, 1, 20), crossed, filed_on=date(2027, 1, 18))
    assert on_time.warnings == [] and not on_time.tasks[0].filed_late
    after = status(date(2027, 1, 20), crossed, filed_on=date(2027, 1, 19))
    assert not after.overdue and not after.tasks[0].filed_late
    assert [w["level"] for w in after.warnings] == ["calendar"]
    assert "whether it was late" in after.warnings[0]["en"]


def test_loading_the_schedule_gives_the_true_date_never_earlier() -> None:
    crossed, today = date(2026, 12, 15), date(2027, 1, 19)
    loaded = WorkdayCalendar(extra_schedules=[SCHEDULE_2027])
    s = status(today, crossed, loaded)
    (task,) = s.tasks
    assert task.due_on == date(2027, 1, 26) and not task.due_provisional
    assert task.due_on >= status(today, crossed).tasks[0].due_on
    assert not s.overdue and "due_provisional" not in s.to_dict()["tasks"][0]
    assert all(w["level"] != "calendar" for w in s.warnings)


def test_the_error_names_the_command_that_loads_a_schedule() -> None:
    with pytest.raises(UnknownCalendarYear) as info:
        WorkdayCalendar().is_workday(date(2027, 3, 3))
    assert "facegate filing calendar FILE" in info.value.message
    assert "calendars/" in info.value.message


# ---- the service, with a frozen clock ------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 15, 2, 0, tzinfo=UTC)  # 10:00 in Beijing

    def __call__(self) -> datetime:
        return self.now

    def day(self, d: date) -> None:
        self.now = datetime(d.year, d.month, d.day, 2, 0, tzinfo=UTC)


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def svc(data_dir: Path, engine: Engine, clock: Clock) -> Iterator[Facegate]:
    settings = Settings(data_dir=data_dir, clock=clock)  # the draft pack: public places file
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    yield service
    service.close()


def _enrol(svc: Facegate, dep: str, ref: str) -> dict[str, Any]:
    sid = str(svc.subjects.add(OFFICER, ref)["id"])
    svc.consents.grant(OFFICER, sid, dep, svc.deployments.get(OFFICER, dep)["purpose"])
    out: dict[str, Any] = svc.matching.enrol(OPERATOR, sid, dep, [photo(JOLIE[0])])
    return out


def test_service_refuses_new_face_data_past_the_provisional_date(
        svc: Facegate, clock: Clock) -> None:
    square = office_manifest(id="north-square")
    square["location"] = {"type": "square", "venue": "railway_station", "public_place": True,
                          "capture_area": "North square", "signage": "sign-photos-1",
                          "public_security_necessity": "crowd safety"}
    assessed(svc, square)
    door = assessed(svc, office_manifest())
    (task,) = svc.filing.status(OFFICER)["tasks"]  # the duty arises today, 2026-12-15
    assert task["due_on"] == "2027-01-18" and task["due_provisional"] is True
    assert _enrol(svc, door, "E-1")["templates"]

    clock.day(date(2027, 1, 19))
    after = svc.filing.status(OFFICER)
    assert after["tasks"][0]["overdue"] and after["warnings"][0]["level"] == "overdue"
    with pytest.raises(Refused) as refused:
        _enrol(svc, door, "E-2")
    assert list(refused.value.rules) == ["filing.threshold"]

    svc.filing.load_calendar(OFFICER, SCHEDULE_2027)  # the true date is later: 2027-01-26
    (task,) = svc.filing.status(OFFICER)["tasks"]
    assert task["due_on"] == "2027-01-26" and "due_provisional" not in task
    assert not task["overdue"]
    assert _enrol(svc, door, "E-3")["templates"]
