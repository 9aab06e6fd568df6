"""Calendar arithmetic the checks share: ``age_on`` (``consent.guardian-under-14``) and
``add_months`` / ``add_years`` (the ``devices.annual-test`` interval, periods in years)."""

from __future__ import annotations

from datetime import date


def age_on(birth: date, on: date, day_after: bool = False) -> int:
    """Completed years on day ``on``; a 29 February birthday falls on 1 March in common years."""
    years = on.year - birth.year
    try:
        birthday = birth.replace(year=on.year)
    except ValueError:  # 29 February in a common year
        birthday = date(on.year, 3, 1)
    if on < birthday or (day_after and on == birthday):
        years -= 1
    return years


def add_months(d: date, months: int) -> date:
    """``d`` plus whole months; the 29th-31st fall back to the month's last day."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise ValueError(d)  # pragma: no cover


def add_years(d: date, years: int) -> date:
    return add_months(d, 12 * years)
