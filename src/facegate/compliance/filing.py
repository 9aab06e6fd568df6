"""The duty to file with the cyberspace authority: whether it exists, by when, what is late.

Rules (ids of ``policy.rules``):

- ``filing.threshold`` (cn-draft-2023 Draft Art. 17; cn-2025 Measures Art. 15): once stored face
  data covers more distinct persons than the pack's threshold (cn-draft-2023: more than 10,000;
  cn-2025: 100,000 or more), or, under cn-draft-2023, once any deployment is in a public place,
  the operator files with the cyberspace authority (cn-draft-2023: city level or above; cn-2025:
  provincial level or above) within 30 Chinese working days after the day the duty arose.
- ``filing.change`` (cn-2025 only): a substantive change of the filed information starts its own
  30-working-day clock.
- ``filing.deregister`` (cn-2025 only): ending face recognition starts its own 30-working-day
  clock for deregistration; ending also deletes the face data.

Everything here is pure: no I/O and no clock (``today`` is a parameter). The numbers come from
the pack parameters (``PACKS[name].params``): ``filing_threshold_persons``,
``filing_threshold_inclusive``, ``filing_public_place``, ``filing_authority`` and
``filing_working_days``. Working days are counted by a :class:`WorkdayCalendar`; the day the
clock starts never counts.

A due date that runs into a year whose holiday schedule is not loaded is *provisional*: the
earliest day it can fall on (:func:`earliest_due_date`; why it is never later than the true date
is in :mod:`facegate.compliance.workdays`). The task says so (``due_provisional``), a
``calendar`` warning tells how to load the schedule, and the task is overdue from the day after
the provisional date, so no deadline is missed while the schedule is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from math import ceil
from typing import Any, Literal, TypeAlias, TypeVar

from facegate.compliance.workdays import WorkdayCalendar, describe_years
from facegate.errors import BadInput
from facegate.policy.rules import RULES

TaskKind = Literal["filing", "change", "deregister"]
Level = Literal["info", "warning", "overdue", "calendar"]
Event: TypeAlias = tuple[str, date, date | None, str]
"""A recorded change or deregistration: ``(kind, started_on, filed_on, detail)``."""

RULE_OF_KIND: dict[str, str] = {
    "filing": "filing.threshold", "change": "filing.change", "deregister": "filing.deregister",
}
_LEVEL_ORDER = {"overdue": 0, "calendar": 1, "warning": 2, "info": 3}
_LABEL_EN = {"filing": "Filing", "change": "Change filing", "deregister": "Deregistration"}
_LABEL_ZH = {"filing": "备案", "change": "变更备案", "deregister": "注销备案"}

_T = TypeVar("_T")


def _param(params: Mapping[str, Any], key: str, kind: type[_T]) -> _T:
    """A pack parameter: ``KeyError`` when it is missing, ``TypeError`` when mistyped."""
    if key not in params:
        raise KeyError(f"rule pack parameter {key!r} is missing")
    value = params[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"rule pack parameter {key!r} must be {kind.__name__}, got {value!r}")
    return value


def threshold_reached(persons: int, params: Mapping[str, Any]) -> bool:
    """Whether ``persons`` distinct persons reach the ``filing.threshold`` person count."""
    threshold = _param(params, "filing_threshold_persons", int)
    if _param(params, "filing_threshold_inclusive", bool):
        return persons >= threshold
    return persons > threshold


def duty_reasons(
    persons: int, public_place_deployments: Sequence[str], params: Mapping[str, Any],
) -> list[str]:
    """Why ``filing.threshold`` applies now: ``"persons"`` and ``"public_place:<id>"`` items."""
    reasons = ["persons"] if threshold_reached(persons, params) else []
    if _param(params, "filing_public_place", bool):
        reasons += [f"public_place:{d}" for d in dict.fromkeys(public_place_deployments)]
    return reasons


def due_date(start: date, params: Mapping[str, Any], calendar: WorkdayCalendar) -> date:
    """The last day to file: ``filing_working_days`` working days after ``start``."""
    return calendar.add_working_days(start, _param(params, "filing_working_days", int))


def earliest_due_date(start: date, params: Mapping[str, Any], calendar: WorkdayCalendar
                      ) -> tuple[date, tuple[int, ...]]:
    """:func:`due_date` where every year it runs into is known; else the earliest it can be
    (provisional), with the years whose schedule is missing (empty: the date is exact)."""
    return calendar.earliest_working_day(start, _param(params, "filing_working_days", int))


@dataclass(frozen=True)
class FilingTask:
    """One filing to make: the initial filing, a change, or a deregistration."""

    kind: TaskKind
    rule: str
    started_on: date
    due_on: date  # the earliest it can be while ``missing_years`` is not empty
    filed_on: date | None
    detail: str
    missing_years: tuple[int, ...] = ()  # years without a known schedule the count runs into

    @property
    def due_provisional(self) -> bool:
        """The due date is the earliest possible one until ``missing_years`` are loaded."""
        return bool(self.missing_years)

    @property
    def filed(self) -> bool:
        return self.filed_on is not None

    @property
    def filed_late(self) -> bool:
        """Filed after the due date; with a provisional date, whether it was late is not known
        until the schedule is loaded, so it is not reported as late."""
        return (self.filed_on is not None and not self.due_provisional
                and self.filed_on > self.due_on)

    def overdue(self, today: date) -> bool:
        """Not filed and the due date (the provisional one too) has passed; filing on the due
        date is on time."""
        return self.filed_on is None and today > self.due_on

    def working_days_left(self, today: date, calendar: WorkdayCalendar) -> int:
        """Working days in ``(today, due_on]``: 0 on the due date, negative once overdue; every
        day of a year without a known schedule counts."""
        return calendar.potential_working_days_between(today, self.due_on)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind, "rule": self.rule, "started_on": self.started_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "filed_on": self.filed_on.isoformat() if self.filed_on else None,
            "detail": self.detail,
        }
        if self.due_provisional:  # only then, so that exact tasks read as before
            out |= {"due_provisional": True, "missing_years": list(self.missing_years)}
        return out


@dataclass(frozen=True)
class FilingStatus:
    """Where an operator stands with the filing rules on ``as_of``.

    ``crossed_on`` is the day the ``filing.threshold`` duty arose: the recorded day, or
    ``as_of`` when the duty arises now and none was recorded (the caller then records it).
    ``working_days_left`` has one item per task, ``None`` for a filed task.
    """

    pack: str
    persons: int
    threshold: int
    inclusive: bool
    authority: str
    required: bool
    reasons: list[str]
    crossed_on: date | None
    tasks: list[FilingTask]
    warnings: list[dict[str, str]]
    as_of: date
    working_days_left: list[int | None]

    @property
    def overdue(self) -> bool:
        return any(t.overdue(self.as_of) for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack, "persons": self.persons, "threshold": self.threshold,
            "inclusive": self.inclusive, "authority": self.authority,
            "required": self.required, "reasons": list(self.reasons),
            "crossed_on": self.crossed_on.isoformat() if self.crossed_on else None,
            "as_of": self.as_of.isoformat(),
            "tasks": [
                t.to_dict() | {"overdue": t.overdue(self.as_of), "working_days_left": left}
                for t, left in zip(self.tasks, self.working_days_left, strict=True)
            ],
            "warnings": [dict(w) for w in self.warnings],
        }


def _warning(level: Level, rule: str, en: str, zh: str) -> dict[str, str]:
    return {"level": level, "rule": rule, "en": en, "zh": zh}


def _threshold_text(threshold: int, inclusive: bool) -> tuple[str, str]:
    if inclusive:
        return f"{threshold:,} persons or more", f"{threshold:,}人及以上"
    return f"more than {threshold:,} persons", f"超过{threshold:,}人"


def _task_warnings(
    task: FilingTask, left: int | None, today: date, authority: str, warn_working_days: int,
) -> list[dict[str, str]]:
    """The warnings of one task: overdue, due soon, open, or filed late; and, while its due
    date is provisional, how to learn the true one."""
    en, zh = _LABEL_EN[task.kind], _LABEL_ZH[task.kind]
    due = due_zh = task.due_on.isoformat()
    out: list[dict[str, str]] = []
    if task.due_provisional:
        if task.filed_on is not None and task.filed_on <= task.due_on:
            return []  # on time whatever the schedule: the true date is the same or later
        years = describe_years(task.missing_years)
        load_en = (f"load the State Council's {years} holiday schedule with `facegate filing "
                   "calendar FILE` to learn the true due date, which is the same or later.")
        load_zh = (f"请用 facegate filing calendar 命令加载国务院{years}年节假日安排，"
                   "以确定实际截止日期（不早于暂定日期）。")
        if task.filed_on is not None:
            return [_warning(
                "calendar", task.rule,
                f"{en} ({task.rule}) was filed on {task.filed_on.isoformat()}, after the "
                f"provisional due date {due}; whether it was late is known once you {load_en}",
                f"{zh}（{task.rule}）于{task.filed_on.isoformat()}办理，晚于暂定截止日期{due}；"
                f"是否逾期须待加载该年度安排后确定。{load_zh}")]
        out.append(_warning(
            "calendar", task.rule,
            f"{en} ({task.rule}): the due date {due} is provisional, the earliest it can be, "
            f"counting every day of {years} as a possible working day because that year's "
            f"holiday schedule is not loaded; {load_en}",
            f"{zh}（{task.rule}）的截止日期{due}为暂定日期：尚未加载{years}年节假日安排，"
            f"按该年每天均可能为工作日计算的最早日期。{load_zh}"))
        due, due_zh = f"{due} (provisional)", f"{due_zh}（暂定）"
    extra_en = extra_zh = ""
    if task.kind == "deregister":
        extra_en = " Ending face recognition also deletes the face data."
        extra_zh = "终止使用人脸识别的，还应删除人脸信息。"
    if task.filed_on is not None:
        if not task.filed_late:
            return out
        return [*out, _warning(
            "warning", task.rule,
            f"{en} ({task.rule}) was filed on {task.filed_on.isoformat()}, after its due date "
            f"{due}.",
            f"{zh}（{task.rule}）于{task.filed_on.isoformat()}办理，晚于截止日期{due_zh}。")]
    assert left is not None
    if task.overdue(today):
        days = (today - task.due_on).days
        return [*out, _warning(
            "overdue", task.rule,
            f"{en} ({task.rule}) with the {authority} was due on {due} and is overdue by "
            f"{days} day(s); file now.{extra_en}",
            f"{zh}（{task.rule}）应于{due_zh}前向网信部门办理，已逾期{days}天，请立即办理。"
            f"{extra_zh}")]
    when_en = "today" if left == 0 else f"in {left} working day(s)"
    when_zh = "今天到期" if left == 0 else f"还剩{left}个工作日"
    level: Level = "warning" if left <= warn_working_days else "info"
    return [*out, _warning(
        level, task.rule,
        f"{en} ({task.rule}) with the {authority} is due on {due}, {when_en}.{extra_en}",
        f"{zh}（{task.rule}）应于{due_zh}前向网信部门办理，{when_zh}。{extra_zh}")]


def _task(kind: TaskKind, rule: str, started_on: date, filed_on: date | None, detail: str,
          params: Mapping[str, Any], calendar: WorkdayCalendar) -> FilingTask:
    """A task with its due date, provisional while a year it runs into has no schedule."""
    due, missing = earliest_due_date(started_on, params, calendar)
    return FilingTask(kind, rule, started_on, due, filed_on, detail, missing)


def compute_status(
    *,
    pack: str,
    params: Mapping[str, Any],
    persons: int,
    public_place_deployments: Sequence[str],
    crossed_on: date | None,
    events: Sequence[Event],
    today: date,
    calendar: WorkdayCalendar,
    filed_on: date | None = None,
    warn_ratio: float = 0.8,
    warn_working_days: int = 5,
) -> FilingStatus:
    """The filing status of an operator under ``pack`` on ``today``.

    ``crossed_on`` is the recorded day the ``filing.threshold`` duty first arose (``None`` if it
    never did); once arisen the duty stands even if the count falls back. ``filed_on`` is the
    day the initial filing was made, if it was. ``events`` are recorded changes and
    deregistrations (:data:`Event`); they make ``filing.change`` / ``filing.deregister`` tasks
    only under a pack with that rule and once a filing duty exists. Warnings: ``persons`` at
    ``warn_ratio`` of the threshold before the duty arose; a due date within
    ``warn_working_days`` working days; an overdue or late filing.
    """
    if persons < 0:
        raise BadInput(f"persons must be >= 0, got {persons}")
    if not 0 < warn_ratio <= 1 or warn_working_days < 0:
        raise ValueError("warn_ratio must be in (0, 1] and warn_working_days >= 0")
    for name, day in (("crossed_on", crossed_on), ("filed_on", filed_on)):
        if day is not None and day > today:
            raise BadInput(f"{name} {day.isoformat()} is after today {today.isoformat()}",
                           rules=["filing.threshold"])
    threshold = _param(params, "filing_threshold_persons", int)
    inclusive = _param(params, "filing_threshold_inclusive", bool)
    authority = _param(params, "filing_authority", str)
    rule = "filing.threshold"
    in_pack = RULES[rule].in_pack(pack)
    reasons = duty_reasons(persons, public_place_deployments, params) if in_pack else []
    arose = (crossed_on or (today if reasons else None)) if in_pack else None
    limit_en, limit_zh = _threshold_text(threshold, inclusive)
    warnings: list[dict[str, str]] = []
    tasks: list[FilingTask] = []

    if arose is not None:
        if filed_on is not None and filed_on < arose:
            raise BadInput(f"filed_on {filed_on.isoformat()} is before the duty arose on "
                           f"{arose.isoformat()}", rules=[rule])
        why = ", ".join(reasons) or "recorded earlier"
        tasks.append(_task("filing", rule, arose, filed_on,
                           f"duty arose on {arose.isoformat()}: {why}", params, calendar))
        if crossed_on is None:
            warnings.append(_warning(
                "info", rule,
                f"The filing duty arises today ({why}); record {today.isoformat()} as the day "
                "it arose.",
                f"备案义务自今日产生（{why}），请记录{today.isoformat()}为义务产生之日。"))
        elif not reasons and filed_on is None:
            warnings.append(_warning(
                "info", rule,
                f"The filing duty arose on {arose.isoformat()} and stands although {persons:,} "
                f"persons are now below the threshold ({limit_en}).",
                f"备案义务已于{arose.isoformat()}产生，虽然当前人数{persons:,}人已低于门槛"
                f"（{limit_zh}），义务仍然存在。"))
    elif in_pack:
        level_at = ceil(Decimal(str(warn_ratio)) * threshold)
        if persons >= level_at:
            pct = persons * 100 // threshold
            warnings.append(_warning(
                "warning", rule,
                f"{persons:,} distinct persons are stored, {pct}% of the filing threshold; at "
                f"{limit_en} filing with the {authority} is due within "
                f"{_param(params, 'filing_working_days', int)} working days.",
                f"已存储{persons:,}名不同个人的人脸信息，达到备案门槛的{pct}%；{limit_zh}时须在"
                f"{_param(params, 'filing_working_days', int)}个工作日内向网信部门备案。"))

    for kind, started_on, event_filed_on, detail in events:
        if kind not in ("change", "deregister"):
            raise BadInput(f"unknown filing event kind {kind!r}; expected change or deregister")
        event_rule = RULE_OF_KIND[kind]
        if started_on > today or (event_filed_on is not None
                                  and not started_on <= event_filed_on <= today):
            raise BadInput(f"{kind} event of {started_on.isoformat()}: it must not lie after "
                           "today and must be filed between its start and today",
                           rules=[event_rule])
        if not RULES[event_rule].in_pack(pack):
            continue
        if arose is None:
            warnings.append(_warning(
                "info", event_rule,
                f"A {kind} on {started_on.isoformat()} was recorded, but no filing duty has "
                "arisen, so there is nothing to file.",
                f"已记录{started_on.isoformat()}的{_LABEL_ZH[kind]}事项，但尚未产生备案义务，"
                "无需办理。"))
            continue
        tasks.append(_task("change" if kind == "change" else "deregister", event_rule,
                           started_on, event_filed_on, detail, params, calendar))

    left = [None if t.filed else t.working_days_left(today, calendar) for t in tasks]
    for task, n in zip(tasks, left, strict=True):
        warnings += _task_warnings(task, n, today, authority, warn_working_days)
    warnings.sort(key=lambda w: _LEVEL_ORDER[w["level"]])
    return FilingStatus(
        pack=pack, persons=persons, threshold=threshold, inclusive=inclusive,
        authority=authority, required=arose is not None, reasons=reasons, crossed_on=arose,
        tasks=tasks, warnings=warnings, as_of=today, working_days_left=left,
    )
