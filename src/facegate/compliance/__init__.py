"""Compliance duties with deadlines: Chinese working days and the filing duty (``filing.*``)."""

from facegate.compliance.filing import (
    Event,
    FilingStatus,
    FilingTask,
    compute_status,
    due_date,
    duty_reasons,
    earliest_due_date,
    threshold_reached,
)
from facegate.compliance.workdays import (
    UnknownCalendarYear,
    WorkdayCalendar,
    YearSchedule,
    check_new_year,
    parse_schedule,
)

__all__ = [
    "Event",
    "FilingStatus",
    "FilingTask",
    "UnknownCalendarYear",
    "WorkdayCalendar",
    "YearSchedule",
    "check_new_year",
    "compute_status",
    "due_date",
    "duty_reasons",
    "earliest_due_date",
    "parse_schedule",
    "threshold_reached",
]
