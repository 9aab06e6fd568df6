"""Chinese working days: the real State Council schedules, operator-loaded years, bad files."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from facegate.compliance import UnknownCalendarYear, WorkdayCalendar
from facegate.errors import BadInput

CAL = WorkdayCalendar()

# A made-up 2027 schedule for the tests (not the real one): New Year's Day, a Spring Festival
# week from Saturday 6 to Friday 12 February, make-up working days on Sunday 31 January and
# Saturday 20 February.
SCHEDULE_2027: dict[str, Any] = {
    "year": 2027,
    "source": "test schedule",
    "holidays": ["2027-01-01",
                 {"name": "Spring Festival", "from": "2027-02-06", "to": "2027-02-12"}],
    "workdays": ["2027-01-31", "2027-02-20"],
}

# The same schedule as an operator would write it (YAML reads unquoted dates as dates).
SCHEDULE_2027_YAML = """\
year: 2027
source: test schedule
holidays:
  - 2027-01-01                   # New Year's Day
  - {name: Spring Festival, from: 2027-02-06, to: 2027-02-12}
workdays: [2027-01-31, 2027-02-20]
"""


def write_yaml(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_rule_catalogue_vectors() -> None:
    assert CAL.add_working_days(date(2025, 6, 1), 30) == date(2025, 7, 14)
    assert CAL.add_working_days(date(2025, 9, 15), 30) == date(2025, 10, 31)


def test_spring_festival_2025_counts_make_up_weekend_days() -> None:
    assert CAL.is_workday(date(2025, 1, 26))  # Sunday, make-up working day
    assert CAL.is_workday(date(2025, 2, 8))  # Saturday, make-up working day
    assert not CAL.is_workday(date(2025, 1, 29))  # Spring Festival, a Wednesday
    assert not CAL.is_workday(date(2025, 2, 9))  # an ordinary Sunday
    start = date(2025, 1, 24)  # Friday before the holiday
    assert CAL.add_working_days(start, 1) == date(2025, 1, 26)
    assert CAL.add_working_days(start, 2) == date(2025, 1, 27)
    assert CAL.add_working_days(start, 3) == date(2025, 2, 5)
    assert CAL.add_working_days(start, 6) == date(2025, 2, 8)
    assert CAL.add_working_days(start, 7) == date(2025, 2, 10)
    assert CAL.working_days_between(start, date(2025, 2, 10)) == 7


def test_spring_festival_2026() -> None:
    start = date(2026, 2, 13)  # Friday; Saturday 14 and Saturday 28 February are make-up days
    assert CAL.add_working_days(start, 1) == date(2026, 2, 14)
    assert CAL.add_working_days(start, 2) == date(2026, 2, 24)
    assert CAL.add_working_days(start, 6) == date(2026, 2, 28)
    assert CAL.add_working_days(start, 7) == date(2026, 3, 2)


def test_national_day_2025() -> None:
    assert CAL.is_workday(date(2025, 9, 28)) and CAL.is_workday(date(2025, 10, 11))
    start = date(2025, 9, 26)  # Friday
    assert CAL.add_working_days(start, 1) == date(2025, 9, 28)
    assert CAL.add_working_days(start, 3) == date(2025, 9, 30)
    assert CAL.add_working_days(start, 4) == date(2025, 10, 9)
    assert CAL.add_working_days(start, 6) == date(2025, 10, 11)
    assert CAL.add_working_days(start, 7) == date(2025, 10, 13)


def test_start_day_never_counts() -> None:
    # 2025-06-01 is a Sunday inside the Dragon Boat holiday; see also the vector above.
    assert not CAL.is_workday(date(2025, 6, 1))
    assert CAL.add_working_days(date(2025, 10, 3), 1) == date(2025, 10, 9)  # holiday start
    assert CAL.add_working_days(date(2025, 3, 8), 1) == date(2025, 3, 10)  # Saturday start
    assert CAL.add_working_days(date(2025, 10, 9), 1) == date(2025, 10, 10)  # workday start
    assert CAL.add_working_days(date(2025, 10, 3), 0) == date(2025, 10, 3)
    with pytest.raises(ValueError):
        CAL.add_working_days(date(2025, 10, 3), -1)


def test_working_days_between_is_half_open_and_signed() -> None:
    assert CAL.working_days_between(date(2025, 10, 24), date(2025, 10, 31)) == 5
    assert CAL.working_days_between(date(2025, 10, 31), date(2025, 10, 31)) == 0
    assert CAL.working_days_between(date(2025, 10, 31), date(2025, 10, 24)) == -5
    assert CAL.working_days_between(date(2025, 6, 1), date(2025, 7, 14)) == 30


def test_unknown_year_is_an_error_not_a_guess() -> None:
    assert CAL.known_years() == list(range(2004, 2027))
    with pytest.raises(UnknownCalendarYear) as info:
        CAL.is_workday(date(2027, 3, 3))
    err = info.value
    assert isinstance(err, BadInput)
    assert err.code == "calendar_year_unknown" and err.http_status == 422
    assert err.rules == ["filing.threshold"] and err.year == 2027
    assert "2027" in err.message and "2004-2026" in err.message
    assert "load" in err.message.lower()
    assert err.to_dict()["error"] == "calendar_year_unknown"
    with pytest.raises(UnknownCalendarYear, match="2003"):
        CAL.is_workday(date(2003, 6, 2))
    with pytest.raises(UnknownCalendarYear):  # the count runs into 2027
        CAL.add_working_days(date(2026, 12, 20), 30)


def test_loaded_year_from_directory(tmp_path: Path) -> None:
    with pytest.raises(UnknownCalendarYear):
        WorkdayCalendar.from_directory(tmp_path).add_working_days(date(2027, 2, 5), 1)
    (tmp_path / "2027.yaml").write_text(SCHEDULE_2027_YAML, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a schedule")
    cal = WorkdayCalendar.from_directory(tmp_path)
    assert cal.known_years() == [*range(2004, 2027), 2027]
    assert cal.schedules[2027].source == "test schedule"
    assert not cal.is_workday(date(2027, 1, 1))
    assert cal.is_workday(date(2027, 1, 31))  # make-up Sunday
    assert not cal.is_workday(date(2027, 2, 8))  # Monday in the holiday
    assert not cal.is_workday(date(2027, 2, 21))  # ordinary Sunday
    assert cal.add_working_days(date(2027, 2, 5), 1) == date(2027, 2, 15)
    assert cal.add_working_days(date(2027, 2, 18), 2) == date(2027, 2, 20)  # make-up Saturday
    assert cal.add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)  # across the year
    with pytest.raises(UnknownCalendarYear, match="2028"):
        cal.add_working_days(date(2027, 12, 1), 30)


def test_json_schedule_and_extra_schedules(tmp_path: Path) -> None:
    (tmp_path / "2027.json").write_text(json.dumps(SCHEDULE_2027), encoding="utf-8")
    from_json = WorkdayCalendar.from_directory(tmp_path)
    from_arg = WorkdayCalendar(extra_schedules=[SCHEDULE_2027])
    loaded = WorkdayCalendar()
    loaded.load_schedule(SCHEDULE_2027)
    for cal in (from_json, from_arg, loaded):
        assert cal.add_working_days(date(2027, 1, 29), 1) == date(2027, 1, 31)


def test_loaded_schedule_overrides_the_package_year() -> None:
    assert not CAL.is_workday(date(2025, 6, 2))  # Dragon Boat Festival holiday, a Monday
    override = {"year": 2025, "source": "test override", "holidays": ["2025-01-01"]}
    cal = WorkdayCalendar(extra_schedules=[override])
    assert cal.is_workday(date(2025, 6, 2))
    assert not cal.is_workday(date(2025, 2, 8))  # no make-up days in the override
    assert not WorkdayCalendar().is_workday(date(2025, 6, 2))  # other calendars unaffected


def bad(**changes: Any) -> dict[str, Any]:
    data = dict(SCHEDULE_2027)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(("data", "message"), [
    (bad(workdays=["2027-02-07"]), "2027-02-07 is also listed as a holiday"),
    (bad(holidays=[{"from": "2027-02-12", "to": "2027-02-06"}]), "is after 'to'"),
    (bad(holidays=["2026-12-31"]), "2026-12-31 is not in 2027"),
    (bad(workdays=["2028-01-01"]), "is not in 2027"),
    (bad(workdays=["2027-02-10"]), "is a Wednesday"),
    (bad(holidays=["2027-02-30"]), "not a valid date"),
    (bad(holidays=["27/02/2027"]), "expected a date YYYY-MM-DD"),
    (bad(holidays=[{"from": "2027-02-06"}]), "a range has keys 'from', 'to'"),
    (bad(holidays="2027-01-01"), "'holidays' must be a list"),
    (bad(source=None), "missing required key 'source'"),
    (bad(year="2027"), "'year' must be a year"),
    (bad(holiday=["2027-01-01"]), "unknown keys \\['holiday'\\]"),
    ([SCHEDULE_2027], "expected a mapping"),
])
def test_bad_schedules_are_refused(data: Any, message: str) -> None:
    with pytest.raises(BadInput, match=message) as info:
        WorkdayCalendar().load_schedule(data)
    assert info.value.rules == ["filing.threshold"]


def test_bad_files_name_the_file(tmp_path: Path) -> None:
    write_yaml(tmp_path, "2027.yml", bad(workdays=["2027-02-07"]))
    with pytest.raises(BadInput, match=r"2027\.yml: holiday schedule: workdays\[0\]"):
        WorkdayCalendar.from_directory(tmp_path)
    (tmp_path / "2027.yml").write_text("year: [2027\n", encoding="utf-8")
    with pytest.raises(BadInput, match="cannot read holiday schedule"):
        WorkdayCalendar.from_directory(tmp_path)


def test_two_files_for_one_year_are_refused(tmp_path: Path) -> None:
    write_yaml(tmp_path, "a.yaml", SCHEDULE_2027)
    write_yaml(tmp_path, "b.yaml", SCHEDULE_2027)
    with pytest.raises(BadInput, match="two holiday schedules for 2027"):
        WorkdayCalendar.from_directory(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        WorkdayCalendar.from_directory(tmp_path / "absent")
