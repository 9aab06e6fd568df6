"""Chinese working days, for legal deadlines such as the filing duty (rule ``filing.threshold``).

A Chinese working day is Monday to Friday, minus the public holidays of the State Council's
yearly schedule, plus the make-up working days (调休) that the schedule moves onto a Saturday
or Sunday. The schedules of 2004-2026 come from the ``chinese_calendar`` package. The State
Council announces each year's schedule late in the year before; until a package release has it,
the operator loads it from a file. A date in a year whose schedule is unknown raises
:class:`UnknownCalendarYear`: working days are never guessed from weekends alone.

Schedule files
--------------
One year per file, YAML (``*.yaml``, ``*.yml``) or JSON (``*.json``); the same mapping can be
passed to :meth:`WorkdayCalendar.load_schedule`. An illustrative file (not a real schedule)::

    year: 2027
    source: "State Council General Office notice on the 2027 public holiday arrangements"
    holidays:                     # days off: single dates or inclusive ranges
      - "2027-01-01"
      - {name: Spring Festival, from: "2027-02-06", to: "2027-02-12"}
    workdays:                     # make-up working days, each on a Saturday or Sunday
      - "2027-01-31"
      - "2027-02-20"

- ``year`` (integer) and ``source`` (where the schedule was published) are required;
- ``holidays`` (required, may be empty) lists dates ``YYYY-MM-DD`` or ranges with ``from`` and
  ``to`` (inclusive, ``from`` <= ``to``) and an optional ``name``;
- ``workdays`` (optional) lists make-up working days; each must be a Saturday or Sunday and
  must not also be a holiday;
- every date must lie in ``year`` (a make-up day of late December belongs in that year's
  schedule); unknown keys are refused;
- the schedule must be plausible: at most :data:`MAX_WEEKDAY_HOLIDAYS` days off on a Monday to
  Friday and at most :data:`MAX_MAKEUP_DAYS` make-up working days (in 2004-2026 a year had 11 to
  23 weekday days off and 5 to 12 make-up days), so that a mistaken or forged file cannot
  push a deadline months out.

``facegate filing calendar FILE`` loads only a year the ``chinese_calendar`` package does not
know (:func:`check_new_year`): the package's State Council data is never replaced from a file.
A file in ``calendars/`` for a year the package knows (for instance after a package upgrade) is
ignored, and the package's schedule is used.

In a loaded year a day is a working day if and only if it is a Monday to Friday that is not a
holiday, or it is listed in ``workdays``. A schedule passed to :class:`WorkdayCalendar` in code
replaces the package's schedule for the same year. The operator loads one with ``facegate filing
calendar FILE``, which validates it and keeps it as ``calendars/<year>.yaml`` in the data
directory, where every process reads it.

Years without a schedule
------------------------
A deadline that runs into a year whose schedule is not known still gets a *provisional* date:
the earliest day it can possibly fall on (:meth:`WorkdayCalendar.earliest_working_day`). Public
holidays only remove working days, so they can only push a deadline later; make-up working
days (调休) turn a Saturday or Sunday into a working day and can pull it *earlier* than a
Monday-to-Friday count. No rule caps the number of make-up days, so in such a year every
calendar day counts as a potential working day. For every day ``d`` the potential count over
``(start, d]`` is then at least the true count, whatever the schedule turns out to be, so the
``n``-th potential working day is never later than the true ``n``-th working day: filing by the
provisional date is always on time, and a filing not made by then is overdue.

A cap from history would not give a later date for a 30-working-day deadline: in 2004-2026 a
year had 5 to 12 make-up days (12 in 2013, most years 6 or 7), while 30 consecutive calendar
days hold at most 10 weekend days, so "at most 12 make-up days a year" counts every day of such
a span too. (No 60-day span of 2004-2026 held more than 4 make-up days; a cap of 4 would be
tighter but has no margin over history and no legal basis, so it is not used.) Loading the
year's schedule replaces the provisional date with the true one, which is the same or later.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml

from facegate.errors import BadInput

SCHEDULE_SUFFIXES = (".yaml", ".yml", ".json")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SCHEDULE_KEYS = {"year", "source", "holidays", "workdays"}
_RANGE_KEYS = {"name", "from", "to"}
_DAY = timedelta(days=1)
MAX_WEEKDAY_HOLIDAYS = 40
"""Most days off on a Monday to Friday a schedule may have (history: at most 23)."""
MAX_MAKEUP_DAYS = 20
"""Most make-up working days a schedule may have (history: at most 12)."""


class UnknownCalendarYear(BadInput):
    """A date lies in a year with no known holiday schedule (rule ``filing.threshold``)."""

    code = "calendar_year_unknown"

    def __init__(self, year: int, known_years: Iterable[int]) -> None:
        known = sorted(known_years)
        super().__init__(
            f"no Chinese working-day calendar for {year}: holiday schedules are known for "
            f"{describe_years(known)}. Load the State Council's {year} holiday schedule with "
            f"`facegate filing calendar FILE` (YAML or JSON: year, source, holidays, workdays); "
            f"it is kept in the data directory's calendars/ folder. Until then a due date in "
            f"{year} is provisional: the earliest it can be.",
            rules=["filing.threshold"],
            details={"year": year, "known_years": known},
        )
        self.year = year


@dataclass(frozen=True)
class YearSchedule:
    """One year's holiday schedule, loaded by the operator and validated."""

    year: int
    source: str
    holidays: frozenset[date]
    workdays: frozenset[date]

    def is_workday(self, d: date) -> bool:
        return d in self.workdays or (d.weekday() < 5 and d not in self.holidays)


@cache
def library_years() -> frozenset[int]:
    """The years whose schedule the installed ``chinese_calendar`` knows (probed once)."""
    years = set()
    for year in range(1900, 2200):
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            continue
        years.add(year)
    return frozenset(years)


def describe_years(years: Iterable[int]) -> str:
    """``[2004, 2005, 2006, 2028]`` -> ``"2004-2006, 2028"``."""
    spans: list[list[int]] = []
    for y in sorted(years):
        if spans and y == spans[-1][1] + 1:
            spans[-1][1] = y
        else:
            spans.append([y, y])
    if not spans:
        return "no year"
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def parse_schedule(data: Mapping[str, Any], origin: str = "") -> YearSchedule:
    """Validate a schedule mapping (format in the module docstring); raise ``BadInput``."""
    where = f"{origin}: " if origin else ""

    def bad(message: str) -> BadInput:
        return BadInput(f"{where}holiday schedule: {message}", rules=["filing.threshold"])

    if not isinstance(data, Mapping):
        raise bad(f"expected a mapping with keys {sorted(_SCHEDULE_KEYS)}, got "
                  f"{type(data).__name__}")
    unknown = set(data) - _SCHEDULE_KEYS
    if unknown:
        raise bad(f"unknown keys {sorted(map(str, unknown))}; allowed: {sorted(_SCHEDULE_KEYS)}")
    for key in ("year", "source", "holidays"):
        if key not in data:
            raise bad(f"missing required key {key!r}")
    year = data["year"]
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 9999:
        raise bad(f"'year' must be a year such as 2027, got {year!r}")
    source = data["source"]
    if not isinstance(source, str) or not source.strip():
        raise bad("'source' must name where the schedule was published")

    def day(value: Any, what: str) -> date:
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise bad(f"{what}: {value!r} is not a valid date") from None
        if not isinstance(value, date) or isinstance(value, datetime):
            raise bad(f"{what}: expected a date YYYY-MM-DD, got {value!r}")
        if value.year != year:
            raise bad(f"{what}: {value.isoformat()} is not in {year}")
        return value

    def items(key: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise bad(f"{key!r} must be a list, got {type(value).__name__}")
        return value

    holidays: set[date] = set()
    for i, item in enumerate(items("holidays")):
        what = f"holidays[{i}]"
        if not isinstance(item, Mapping):
            holidays.add(day(item, what))
            continue
        extra = set(item) - _RANGE_KEYS
        if extra or "from" not in item or "to" not in item:
            raise bad(f"{what}: a range has keys 'from', 'to' and optional 'name', got "
                      f"{sorted(map(str, item))}")
        if "name" in item and not isinstance(item["name"], str):
            raise bad(f"{what}: 'name' must be text")
        first, last = day(item["from"], f"{what}.from"), day(item["to"], f"{what}.to")
        if first > last:
            raise bad(f"{what}: 'from' {first.isoformat()} is after 'to' {last.isoformat()}")
        holidays.update(first + k * _DAY for k in range((last - first).days + 1))
    workdays: set[date] = set()
    for i, item in enumerate(items("workdays")):
        d = day(item, f"workdays[{i}]")
        if d.weekday() < 5:
            raise bad(f"workdays[{i}]: {d.isoformat()} is a {d:%A}; only make-up working days "
                      "on a Saturday or Sunday belong in 'workdays'")
        if d in holidays:
            raise bad(f"workdays[{i}]: {d.isoformat()} is also listed as a holiday")
        workdays.add(d)
    weekday_off = sum(1 for d in holidays if d.weekday() < 5)
    if weekday_off > MAX_WEEKDAY_HOLIDAYS:
        raise bad(f"{weekday_off} days off fall on a Monday to Friday; no State Council "
                  f"schedule has more than {MAX_WEEKDAY_HOLIDAYS} (2004-2026: at most 23), so "
                  "this is not a plausible holiday schedule")
    if len(workdays) > MAX_MAKEUP_DAYS:
        raise bad(f"{len(workdays)} make-up working days; no State Council schedule has more "
                  f"than {MAX_MAKEUP_DAYS} (2004-2026: at most 12), so this is not a plausible "
                  "holiday schedule")
    return YearSchedule(year, source.strip(), frozenset(holidays), frozenset(workdays))


def check_new_year(schedule: YearSchedule) -> None:
    """Refuse (``BadInput``, rule ``filing.threshold``) a schedule for a year the
    ``chinese_calendar`` package already knows: its State Council data is not replaced."""
    if schedule.year in library_years():
        raise BadInput(
            f"holiday schedule: {schedule.year} is already known from the State Council "
            f"schedules in the chinese-calendar package ({describe_years(library_years())}); "
            "a schedule is loaded only for a year the package does not know yet",
            rules=["filing.threshold"], details={"year": schedule.year})


class WorkdayCalendar:
    """Chinese working days from ``chinese_calendar`` plus operator-loaded schedules.

    ``extra_schedules`` are schedule mappings (or parsed :class:`YearSchedule`); two for the
    same year are refused. Any date outside :meth:`known_years` raises
    :class:`UnknownCalendarYear`.
    """

    def __init__(
        self, extra_schedules: Iterable[Mapping[str, Any] | YearSchedule] = (),
    ) -> None:
        self._loaded: dict[int, YearSchedule] = {}
        self._load_all((s, f"extra_schedules[{i}]") for i, s in enumerate(extra_schedules))

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> WorkdayCalendar:
        """Load every ``*.yaml``, ``*.yml`` and ``*.json`` file of ``path`` (not recursive)."""
        folder = Path(path)
        if not folder.is_dir():
            raise BadInput(f"holiday schedule directory {folder} does not exist",
                           rules=["filing.threshold"])
        calendar = cls()
        files = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in SCHEDULE_SUFFIXES)
        parsed = [(parse_schedule(_read(p), str(p)), str(p)) for p in files]
        # the package's State Council data wins over a file for a year it knows
        calendar._load_all((s, o) for s, o in parsed if s.year not in library_years())
        return calendar

    def _load_all(self, items: Iterable[tuple[Mapping[str, Any] | YearSchedule, str]]) -> None:
        origins: dict[int, str] = {}
        for data, origin in items:
            schedule = data if isinstance(data, YearSchedule) else parse_schedule(data, origin)
            if schedule.year in origins:
                raise BadInput(f"two holiday schedules for {schedule.year}: "
                               f"{origins[schedule.year]} and {origin}",
                               rules=["filing.threshold"])
            origins[schedule.year] = origin
            self._loaded[schedule.year] = schedule

    def load_schedule(self, data: Mapping[str, Any] | YearSchedule) -> YearSchedule:
        """Validate and add one year's schedule; it replaces any schedule of that year."""
        schedule = data if isinstance(data, YearSchedule) else parse_schedule(data)
        self._loaded[schedule.year] = schedule
        return schedule

    @property
    def schedules(self) -> dict[int, YearSchedule]:
        """The operator-loaded schedules by year."""
        return dict(self._loaded)

    def source_of(self, year: int) -> str | None:
        """Where ``year``'s schedule comes from: a loaded schedule's ``source``, the
        ``chinese_calendar`` package, or ``None`` for a year without a schedule."""
        if year in self._loaded:
            return self._loaded[year].source
        return "chinese-calendar package" if year in library_years() else None

    def known_years(self) -> list[int]:
        return sorted(library_years() | self._loaded.keys())

    def knows(self, year: int) -> bool:
        """Whether ``year``'s schedule is known (from the package or loaded)."""
        return year in self._loaded or year in library_years()

    def could_be_workday(self, d: date) -> bool:
        """:meth:`is_workday` in a known year; ``True`` in any other year, where every day could
        be a working day (see "Years without a schedule" in the module docstring)."""
        return self.is_workday(d) if self.knows(d.year) else True

    def is_workday(self, d: date) -> bool:
        if isinstance(d, datetime):
            d = d.date()
        schedule = self._loaded.get(d.year)
        if schedule is not None:
            return schedule.is_workday(d)
        if d.year in library_years():
            return bool(chinese_calendar.is_workday(d))
        raise UnknownCalendarYear(d.year, self.known_years())

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day strictly after ``start``; ``start`` itself never counts."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        d = start.date() if isinstance(start, datetime) else start
        while n:
            d += _DAY
            if self.is_workday(d):
                n -= 1
        return d

    def earliest_working_day(self, start: date, n: int) -> tuple[date, tuple[int, ...]]:
        """:meth:`add_working_days`, or the earliest date it can be while a year it runs into has
        no known schedule; with those years (empty when the date is exact)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        d = start.date() if isinstance(start, datetime) else start
        missing: dict[int, None] = {}
        while n:
            d += _DAY
            if not self.knows(d.year):
                missing[d.year] = None
            if self.could_be_workday(d):
                n -= 1
        return d, tuple(missing)

    def potential_working_days_between(self, a: date, b: date) -> int:
        """:meth:`working_days_between`, counting every day of a year without a known schedule
        (the most working days there can be)."""
        if b < a:
            return -self.potential_working_days_between(b, a)
        return sum(self.could_be_workday(a + k * _DAY) for k in range(1, (b - a).days + 1))

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in ``(a, b]``; negative (minus those in ``(b, a]``) when ``b < a``."""
        if b < a:
            return -self.working_days_between(b, a)
        return sum(self.is_workday(a + k * _DAY) for k in range(1, (b - a).days + 1))


def _read(path: Path) -> Any:
    """A schedule file's content; unreadable or malformed files raise ``BadInput``."""
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise BadInput(f"{path}: cannot read holiday schedule: {exc}",
                       rules=["filing.threshold"]) from None
