"""The filing duty (``filing.threshold``, ``filing.change``, ``filing.deregister``) per pack."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from facegate.compliance import (
    Event,
    FilingStatus,
    UnknownCalendarYear,
    WorkdayCalendar,
    compute_status,
    due_date,
    duty_reasons,
    threshold_reached,
)
from facegate.errors import BadInput
from facegate.policy.packs import PACKS

DRAFT, FINAL = "cn-draft-2023", "cn-2025"
CAL = WorkdayCalendar()
CJK = re.compile(r"[\u4e00-\u9fff]")


def status(pack: str, persons: int, today: date, *, public: Sequence[str] = (),
           crossed_on: date | None = None, events: Sequence[Event] = (),
           calendar: WorkdayCalendar = CAL, **kw: Any) -> FilingStatus:
    return compute_status(pack=pack, params=PACKS[pack].params, persons=persons,
                          public_place_deployments=public, crossed_on=crossed_on, events=events,
                          today=today, calendar=calendar, **kw)


def levels(s: FilingStatus) -> list[tuple[str, str]]:
    return [(w["level"], w["rule"]) for w in s.warnings]


def test_threshold_exclusive_under_draft_inclusive_under_2025() -> None:
    draft, final = PACKS[DRAFT].params, PACKS[FINAL].params
    assert not threshold_reached(10_000, draft) and threshold_reached(10_001, draft)
    assert not threshold_reached(99_999, final) and threshold_reached(100_000, final)
    assert not threshold_reached(10_001, final)


def test_parameters_come_from_the_mapping() -> None:
    params = {**PACKS[FINAL].params, "filing_threshold_persons": 50,
              "filing_threshold_inclusive": False, "filing_working_days": 10}
    assert not threshold_reached(50, params) and threshold_reached(51, params)
    assert due_date(date(2025, 9, 26), params, CAL) == date(2025, 10, 16)
    with pytest.raises(KeyError, match="filing_threshold_persons"):
        threshold_reached(1, {"filing_threshold_inclusive": True})
    with pytest.raises(TypeError, match="filing_public_place"):
        duty_reasons(1, [], {**params, "filing_public_place": "yes"})


def test_due_date_vectors() -> None:
    for pack in (DRAFT, FINAL):
        assert due_date(date(2025, 6, 1), PACKS[pack].params, CAL) == date(2025, 7, 14)
        assert due_date(date(2025, 9, 15), PACKS[pack].params, CAL) == date(2025, 10, 31)


def test_public_place_triggers_filing_only_under_draft() -> None:
    assert duty_reasons(5, ["lobby", "lobby", "gate"], PACKS[DRAFT].params) == [
        "public_place:lobby", "public_place:gate"]
    assert duty_reasons(5, ["lobby"], PACKS[FINAL].params) == []
    assert duty_reasons(100_000, ["lobby"], PACKS[FINAL].params) == ["persons"]
    today = date(2025, 6, 1)
    s = status(DRAFT, 5, today, public=["lobby"])
    assert s.required and s.reasons == ["public_place:lobby"] and s.crossed_on == today
    assert s.tasks[0].due_on == date(2025, 7, 14)
    assert not status(FINAL, 5, today, public=["lobby"]).required


def test_duty_arises_above_10000_under_draft() -> None:
    today = date(2025, 9, 15)
    below = status(DRAFT, 10_000, today)
    assert not below.required and below.tasks == [] and below.crossed_on is None
    s = status(DRAFT, 10_001, today)
    assert s.required and s.reasons == ["persons"] and s.crossed_on == today
    assert s.authority == PACKS[DRAFT].params["filing_authority"]
    (task,) = s.tasks
    assert (task.kind, task.rule, task.started_on, task.due_on) == (
        "filing", "filing.threshold", today, date(2025, 10, 31))
    assert ("info", "filing.threshold") in levels(s)  # record today as the day it arose
    assert "record 2025-09-15" in s.warnings[0]["en"]


def test_duty_arises_at_100000_under_2025() -> None:
    today = date(2025, 9, 15)
    assert not status(FINAL, 99_999, today).required
    s = status(FINAL, 100_000, today)
    assert s.required and s.threshold == 100_000 and s.inclusive
    assert s.tasks[0].due_on == date(2025, 10, 31)


def test_approaching_threshold_warns_at_80_percent() -> None:
    today = date(2025, 9, 15)
    assert levels(status(FINAL, 79_999, today)) == []
    s = status(FINAL, 80_000, today)
    assert levels(s) == [("warning", "filing.threshold")]
    w = s.warnings[0]
    assert "80%" in w["en"] and "100,000 persons or more" in w["en"] and CJK.search(w["zh"])
    assert levels(status(DRAFT, 7_999, today)) == []
    assert "more than 10,000" in status(DRAFT, 8_000, today).warnings[0]["en"]
    assert levels(status(DRAFT, 8_000, today, warn_ratio=0.9)) == []
    arisen = status(DRAFT, 10_001, today, crossed_on=today)  # no "approaching" once arisen
    assert levels(arisen) == [("info", "filing.threshold")]


def test_due_date_warnings_and_overdue() -> None:
    crossed = date(2025, 9, 15)  # due 2025-10-31

    def at(today: date, **kw: Any) -> FilingStatus:
        return status(FINAL, 120_000, today, crossed_on=crossed, **kw)

    early = at(date(2025, 10, 23))
    assert early.working_days_left == [6] and levels(early) == [("info", "filing.threshold")]
    near = at(date(2025, 10, 24))
    assert near.working_days_left == [5] and levels(near) == [("warning", "filing.threshold")]
    assert "in 5 working day(s)" in near.warnings[0]["en"] and CJK.search(near.warnings[0]["zh"])
    assert levels(at(date(2025, 10, 24), warn_working_days=4)) == [("info", "filing.threshold")]
    due_day = at(date(2025, 10, 31))
    assert due_day.working_days_left == [0] and "today" in due_day.warnings[0]["en"]
    assert not due_day.overdue and not due_day.tasks[0].overdue(date(2025, 10, 31))
    late = at(date(2025, 11, 3))
    assert late.overdue and late.tasks[0].overdue(date(2025, 11, 3))
    assert late.working_days_left == [-1]
    assert levels(late) == [("overdue", "filing.threshold")]
    assert "overdue by 3 day(s)" in late.warnings[0]["en"] and "逾期" in late.warnings[0]["zh"]


def test_filed_tasks() -> None:
    crossed = date(2025, 9, 15)
    on_time = status(FINAL, 120_000, date(2025, 11, 3), crossed_on=crossed,
                     filed_on=date(2025, 10, 31))
    assert on_time.warnings == [] and on_time.working_days_left == [None]
    assert not on_time.overdue and on_time.tasks[0].filed
    late = status(FINAL, 120_000, date(2025, 11, 5), crossed_on=crossed,
                  filed_on=date(2025, 11, 3))
    assert levels(late) == [("warning", "filing.threshold")] and late.tasks[0].filed_late
    assert not late.overdue


def test_duty_stands_when_the_count_falls_back() -> None:
    s = status(FINAL, 90_000, date(2025, 9, 20), crossed_on=date(2025, 9, 15))
    assert s.required and s.reasons == [] and s.crossed_on == date(2025, 9, 15)
    assert ("info", "filing.threshold") in levels(s)
    assert all(w["level"] != "warning" for w in s.warnings)  # no "approaching" warning


def test_change_and_deregister_tasks_only_under_2025() -> None:
    crossed, today = date(2025, 6, 1), date(2025, 9, 26)
    events: list[Event] = [("change", date(2025, 9, 15), None, "purpose added: attendance"),
                           ("deregister", date(2025, 9, 26), None, "all deployments ended")]
    s = status(FINAL, 100_000, today, crossed_on=crossed, filed_on=date(2025, 7, 1),
               events=events)
    assert [(t.kind, t.rule) for t in s.tasks] == [
        ("filing", "filing.threshold"), ("change", "filing.change"),
        ("deregister", "filing.deregister")]
    change, dereg = s.tasks[1], s.tasks[2]
    assert change.due_on == date(2025, 10, 31) and change.detail == "purpose added: attendance"
    assert dereg.due_on == date(2025, 11, 13)
    assert s.working_days_left == [None, 21, 30]
    dereg_warning = next(w for w in s.warnings if w["rule"] == "filing.deregister")
    assert "deletes the face data" in dereg_warning["en"] and "删除人脸信息" in dereg_warning["zh"]
    draft = status(DRAFT, 100_000, today, crossed_on=crossed, filed_on=date(2025, 7, 1),
                   events=events)
    assert [t.kind for t in draft.tasks] == ["filing"]
    assert {w["rule"] for w in draft.warnings} <= {"filing.threshold"}


def test_change_without_a_filing_duty_makes_no_task() -> None:
    s = status(FINAL, 10, date(2025, 9, 26), events=[("change", date(2025, 9, 15), None, "x")])
    assert s.tasks == [] and levels(s) == [("info", "filing.change")]


def test_warnings_are_sorted_by_severity() -> None:
    s = status(FINAL, 100_000, date(2025, 11, 3), crossed_on=date(2025, 9, 15),
               events=[("change", date(2025, 10, 31), None, "new camera model")])
    assert [w["level"] for w in s.warnings] == ["overdue", "info"]


def test_to_dict_is_json_ready() -> None:
    s = status(FINAL, 100_000, date(2025, 11, 3), crossed_on=date(2025, 9, 15),
               events=[("change", date(2025, 10, 31), None, "new camera model")])
    body = json.loads(json.dumps(s.to_dict(), ensure_ascii=False))
    assert body["pack"] == FINAL and body["required"] is True
    assert body["crossed_on"] == "2025-09-15" and body["as_of"] == "2025-11-03"
    assert body["tasks"][0] == {
        "kind": "filing", "rule": "filing.threshold", "started_on": "2025-09-15",
        "due_on": "2025-10-31", "filed_on": None, "detail": "duty arose on 2025-09-15: persons",
        "overdue": True, "working_days_left": -1}
    assert body["warnings"][0]["level"] == "overdue"
    assert set(body["warnings"][0]) == {"level", "rule", "en", "zh"}


def test_unknown_year_gives_a_provisional_due_date_until_loaded() -> None:
    """The status still answers, with the earliest date the deadline can fall on, marked
    provisional, and says which schedule is missing; ``due_date`` itself never guesses."""
    crossed, today = date(2026, 12, 1), date(2026, 12, 2)  # due in 2027
    with pytest.raises(UnknownCalendarYear):
        due_date(crossed, PACKS[FINAL].params, WorkdayCalendar())
    open_ = status(FINAL, 100_000, today, crossed_on=crossed)
    assert open_.required and open_.tasks[0].due_on == date(2027, 1, 8)
    assert open_.tasks[0].due_provisional and open_.tasks[0].missing_years == (2027,)
    assert not open_.overdue and open_.working_days_left == [29]
    assert open_.warnings[0]["level"] == "calendar"
    assert "holiday schedule" in open_.warnings[0]["en"]
    assert open_.to_dict()["tasks"][0]["due_provisional"] is True
    schedule = {"year": 2027, "source": "test schedule", "holidays": ["2027-01-01"]}
    s = status(FINAL, 100_000, today, crossed_on=crossed,
               calendar=WorkdayCalendar(extra_schedules=[schedule]))
    assert s.tasks[0].due_on == date(2027, 1, 13) and not s.tasks[0].due_provisional


def test_bad_inputs() -> None:
    today = date(2025, 9, 15)
    with pytest.raises(BadInput, match="unknown filing event kind"):
        status(FINAL, 100_000, today, crossed_on=today, events=[("rename", today, None, "")])
    with pytest.raises(BadInput, match="after today"):
        status(FINAL, 100_000, today, crossed_on=date(2025, 9, 16))
    with pytest.raises(BadInput, match="change event"):  # checked under every pack
        status(DRAFT, 100_000, today, crossed_on=today,
               events=[("change", date(2025, 9, 16), None, "")])
    with pytest.raises(BadInput, match="persons"):
        status(FINAL, -1, today)
