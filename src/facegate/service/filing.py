"""The filing duty (``filing.threshold``, ``filing.change``, ``filing.deregister``): persons
counted, the day the duty arose, its due date in Chinese working days, warnings, and what was
filed. Other use cases tell it when face data or a deployment changed.

An operator (personal information handler) is known by its names: a manifest names it by a
plain string or by ``{zh, en}``, and deployments whose operator names share any name (compared
after Unicode NFKC normalisation, with whitespace collapsed and case folded) belong to one
operator, counted together, with one clock and one dossier. Manifests carry no registration
number, so the names are the only identity there is; joining on any shared name errs towards
counting more persons, never fewer. Filing clocks store the display name they were recorded
under and are matched by the same rule, so clocks stored under either name keep working."""

from __future__ import annotations

import contextlib
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from facegate.compliance import (
    FilingStatus,
    WorkdayCalendar,
    check_new_year,
    compute_status,
    earliest_due_date,
    parse_schedule,
)
from facegate.crypto import KeyRing
from facegate.errors import BadInput, NotFound
from facegate.policy import Facts, Permit, decide
from facegate.policy.packs import get_pack
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.config import Settings
from facegate.service.gatekeeper import Gatekeeper
from facegate.store.models import Deployment, FilingEvent, PersonCount
from facegate.store.repository import TemplateRepository

UNNAMED = "(operator not named)"
WHAT_TO_FILE = ["operator details and contact", "purposes and methods of each deployment",
                "number of persons whose face data is stored", "security measures",
                "processing rules", "the impact assessment of each deployment"]


@dataclass
class OperatorGroup:
    """One operator: its display name, every name it goes by, its active deployments."""

    name: str
    names: list[str] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    deployments: list[Deployment] = field(default_factory=list)
    listed: bool = False  # has an active deployment or a filing clock

    def add_name(self, name: str) -> None:
        if name_key(name) not in self.keys:
            self.keys.add(name_key(name))
            self.names.append(name)


class Filing:
    def __init__(self, *, uow: UowFactory, gate: Gatekeeper, audit: AuditLog, clock: Clock,
                 keyring: KeyRing, settings: Settings) -> None:
        self._uow = uow
        self._gate = gate
        self._audit = audit
        self._clock = clock
        self._keyring = keyring
        self._settings = settings
        self._calendar: WorkdayCalendar | None = None

    # ---- Chinese working days ------------------------------------------------------------

    @property
    def calendar(self) -> WorkdayCalendar:
        """chinese-calendar's State Council schedules, plus any year the operator loaded into
        ``<data>/calendars/`` (a year the library does not know yet)."""
        if self._calendar is None:
            folder = self._settings.data_dir / "calendars"
            self._calendar = (WorkdayCalendar.from_directory(folder) if folder.is_dir()
                              else WorkdayCalendar())
        return self._calendar

    def load_calendar(self, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        """Validate a year's State Council holiday schedule (a plausible one, for a year the
        chinese-calendar package does not know) and keep it in the data directory's
        ``calendars/`` folder, where every process finds it. The audit record is committed
        first; only then is the file put in place, so no schedule is in effect unrecorded."""
        self._gate.role(actor, "filing.record")
        schedule = parse_schedule(data, "the schedule")
        check_new_year(schedule)
        folder = self._settings.data_dir / "calendars"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{schedule.year}.yaml"
        pending = folder / f".{schedule.year}.yaml.pending"  # not read as a schedule
        pending.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                           encoding="utf-8")
        try:
            with self._uow() as uow:
                self._audit.record(uow.session, actor, "calendar.load", "allowed",
                                   ["filing.threshold"],
                                   detail={"year": schedule.year, "source": schedule.source})
                uow.commit()
        except BaseException:
            with contextlib.suppress(OSError):
                pending.unlink()
            raise
        os.replace(pending, path)
        self._calendar = None
        return {"year": schedule.year, "source": schedule.source, "file": str(path),
                "holidays": len(schedule.holidays), "workdays": len(schedule.workdays),
                "known_years": self.calendar.known_years()}

    # ---- the duty, as other use cases see it ---------------------------------------------

    def _rows(self, s: Session) -> list[FilingEvent]:
        """Every operator's filing clocks (read once per use; :func:`_of` picks one's)."""
        return list(s.execute(select(FilingEvent).order_by(FilingEvent.id)).scalars())

    def groups(self, s: Session, rows: list[FilingEvent] | None = None
               ) -> list[OperatorGroup]:
        """The operators: names that any manifest (of an active or ended deployment) gives
        together are one operator's; filing clocks (``rows``, read here when not given) join
        the operator one of whose names they carry. Listed: those with an active deployment
        or a clock, sorted by display name."""
        parent: dict[str, str] = {}

        def find(k: str) -> str:
            parent.setdefault(k, k)
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        deps = list(s.execute(select(Deployment).order_by(Deployment.id)).scalars())
        rows = self._rows(s) if rows is None else rows
        named = [(d, operator_names(d.manifest) or [UNNAMED]) for d in deps]
        for _, names in named:
            for n in names[1:]:
                parent[find(name_key(n))] = find(name_key(names[0]))
        by_root: dict[str, OperatorGroup] = {}
        for d, names in named:
            group = by_root.setdefault(find(name_key(names[0])),
                                       OperatorGroup(operator_of(d.manifest)))
            for n in names:
                group.add_name(n)
            if d.status == "active":
                group.deployments.append(d)
                group.listed = True
        for r in rows:
            n = r.operator or UNNAMED
            group = by_root.setdefault(find(name_key(n)), OperatorGroup(n))
            group.add_name(n)
            group.listed = True
        listed = [g for g in by_root.values() if g.listed]
        return sorted(listed, key=lambda g: g.name)

    def _group(self, s: Session, name: str, rows: list[FilingEvent]
               ) -> OperatorGroup | None:
        return next((g for g in self.groups(s, rows) if name_key(name) in g.keys), None)

    def _permit(self) -> Permit:
        return decide(Facts(operation="filing.read", pack=self._settings.rule_pack,
                            on=self._clock.today())).permit()

    def compute(self, s: Session, record: bool = True) -> dict[str, FilingStatus]:
        """Each operator's filing status under the rule pack: persons counted at its own
        deployments, its own clocks. When a duty arises now, the day is recorded (in the
        caller's transaction)."""
        return {group.name: status for group, status in self._compute(s, record)}

    def _compute(self, s: Session, record: bool) -> list[tuple[OperatorGroup, FilingStatus]]:
        pack = get_pack(self._settings.rule_pack)
        out: list[tuple[OperatorGroup, FilingStatus]] = []
        every = self._rows(s)
        for group in self.groups(s, every):
            name, deps = group.name, group.deployments
            rows = _of(every, group)
            initial = _initial(rows)
            events = [(r.kind, r.started_on, r.filed_on, r.detail) for r in rows
                      if r.kind != "filing"]
            persons = TemplateRepository(s, self._keyring).persons(
                self._permit(), [d.id for d in deps])
            public = sorted(d.id for d in deps if _public_place(d.manifest))
            status = compute_status(
                pack=pack.name, params=pack.params, persons=persons,
                public_place_deployments=public,
                crossed_on=initial.started_on if initial else None, events=events,
                today=self._clock.today(), calendar=self.calendar,
                filed_on=initial.filed_on if initial else None,
                warn_ratio=pack.params["filing_warn_ratio"],
                warn_working_days=pack.params["filing_warn_working_days"])
            if record and initial is None and status.required and status.crossed_on:
                s.add(FilingEvent(kind="filing", operator=name, started_on=status.crossed_on,
                                  detail=", ".join(status.reasons),
                                  created_at=self._clock.now()))
                s.flush()
            out.append((group, status))
        if record:  # the dashboard's chart: one count per day, every operator together
            today = self._clock.today()
            total = TemplateRepository(s, self._keyring).persons(self._permit())
            day = s.get(PersonCount, today)
            if day is None:
                s.add(PersonCount(day=today, persons=total))
            else:
                day.persons = total
        return out

    def overdue(self, s: Session, dep: Deployment) -> tuple[str, ...]:
        """Kinds of the deployment's operator's filing tasks past their due date
        (``filing.threshold``, ``filing.change``): new face data waits while one is late."""
        today = self._clock.today()
        params = get_pack(self._settings.rule_pack).params

        def late(r: FilingEvent) -> bool:
            # provisional while a year has no schedule: the earliest the date can be
            return r.filed_on is None and earliest_due_date(r.started_on, params,
                                                            self.calendar)[0] < today

        # Asked before every match and enrolment: the operators are grouped (which reads
        # every manifest) only when some clock of any operator is late at all.
        every = self._rows(s)
        if not any(late(r) for r in every):
            return ()
        group = self._group(s, operator_of(dep.manifest), every)
        if group is None:
            return ()
        rows = _of(every, group)
        initial = _initial(rows)
        kinds = [r.kind for r in rows if late(r)
                 and not (r.kind == "filing" and r is not initial)]  # (a second initial
        return tuple(dict.fromkeys(kinds))  # clock of names now known as one operator)

    def track(self, s: Session) -> None:
        """After face data is added or deleted: count persons, record the day a duty arose."""
        self.compute(s, record=True)

    def event(self, s: Session, kind: str, detail: str, operator: str) -> None:
        """A substantive change or the end of face recognition after the operator's filing
        duty arose starts its own clock, where the pack has that rule."""
        pack = get_pack(self._settings.rule_pack)
        every = self._rows(s)
        group = self._group(s, operator, every)
        if group is None:
            return
        if pack.has(f"filing.{kind}") and any(r.kind == "filing" for r in _of(every, group)):
            s.add(FilingEvent(kind=kind, operator=group.name, started_on=self._clock.today(),
                              detail=detail, created_at=self._clock.now()))

    # ---- the officer's use cases -----------------------------------------------------------

    def _view(self, group: OperatorGroup, status: FilingStatus) -> dict[str, Any]:
        pack = get_pack(self._settings.rule_pack)
        return {"operator": group.name, "names": list(group.names),
                "deployments": [d.id for d in group.deployments], **status.to_dict(),
                "what_to_file": list(WHAT_TO_FILE) if status.required else [],
                "working_days": pack.params["filing_working_days"]}

    def statuses(self, actor: Actor) -> list[dict[str, Any]]:
        """Every operator's count, threshold, dates, tasks and warnings, and what to file."""
        self._gate.role(actor, "filing.read")
        with self._uow() as uow:
            computed = self._compute(uow.session, record=True)
            uow.commit()
        return [self._view(group, status) for group, status in computed]

    def status(self, actor: Actor, operator: str | None = None) -> dict[str, Any]:
        """One operator's filing status, found by any of its names; ``operator`` may be left
        out when there is only one."""
        found = self.statuses(actor)
        return _one(found, operator)

    def record(self, actor: Actor, kind: str, filed_on: date, reference: str,
               operator: str | None = None) -> dict[str, Any]:
        """Mark the operator's oldest open filing task of ``kind`` as filed with the
        authority."""
        self._gate.role(actor, "filing.record")
        if kind not in ("filing", "change", "deregister"):
            raise BadInput("kind must be filing, change or deregister")
        if not reference.strip():
            raise BadInput("give the authority's filing reference", rules=["filing.threshold"])
        if filed_on > self._clock.today():
            raise BadInput("filed_on is in the future")
        with self._uow() as uow:
            s = uow.session
            groups = {g.name: g for g, _ in self._compute(s, record=True)}
            name = _one([{"operator": g.name, "names": g.names} for g in groups.values()],
                        operator)["operator"]
            rows = _of(self._rows(s), groups[name])  # with a clock the computing just began
            initial = _initial(rows)
            row = next((r for r in rows if r.kind == kind and r.filed_on is None
                        and (kind != "filing" or r is initial)), None)
            if row is None:
                raise NotFound(f"{name} has no open {kind} task")
            if filed_on < row.started_on:
                raise BadInput(f"filed_on is before the duty arose ({row.started_on})")
            row.filed_on, row.reference = filed_on, reference.strip()
            self._audit.record(s, actor, "filing.record", "allowed",
                               [f"filing.{kind}" if kind != "filing" else "filing.threshold"],
                               detail={"kind": kind, "operator": name,
                                       "filed_on": filed_on.isoformat(),
                                       "reference": row.reference})
            uow.commit()
        return self.status(actor, name)


def operator_of(manifest: Mapping[str, Any]) -> str:
    """The display name of the operator (personal information handler) a manifest names: the
    filing duty is its own. A bilingual name is shown by its Chinese form; the operator is
    found by any of its names (:func:`operator_names`)."""
    names = operator_names(manifest)
    return names[0] if names else UNNAMED


def operator_names(manifest: Mapping[str, Any]) -> list[str]:
    """Every name a manifest gives its operator, trimmed: the Chinese one first."""
    op = manifest.get("operator")
    name = op.get("name") if isinstance(op, Mapping) else None
    given = [name.get("zh"), name.get("en")] if isinstance(name, Mapping) else [name]
    return [str(n).strip() for n in given if n and str(n).strip()]


def name_key(name: str) -> str:
    """An operator name as compared: NFKC-normalised, whitespace collapsed, case folded."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def _of(rows: list[FilingEvent], group: OperatorGroup) -> list[FilingEvent]:
    """The clocks of one operator, stored under any of its names."""
    return [r for r in rows if name_key(r.operator or UNNAMED) in group.keys]


def _initial(rows: list[FilingEvent]) -> FilingEvent | None:
    """The operator's initial filing clock: the earliest, where names recorded apart (before
    they were known as one operator) left more than one."""
    initial = [r for r in rows if r.kind == "filing"]
    return min(initial, key=lambda r: (r.started_on, r.id)) if initial else None


def _public_place(manifest: Mapping[str, Any]) -> bool:
    location = manifest.get("location")
    return isinstance(location, Mapping) and bool(location.get("public_place"))


def _one(found: list[dict[str, Any]], operator: str | None) -> dict[str, Any]:
    names = [f["operator"] for f in found]
    if operator is None and len(found) == 1:
        return found[0]
    listed = "; ".join(names)
    if operator is None:
        raise BadInput("the filing duty is each operator's; name one: " + listed
                       if names else "no operator has a deployment yet",
                       message_zh="备案义务由各运营者分别承担，请指明其一：" + listed
                       if names else "尚无运营者登记部署",
                       rules=["filing.threshold"])
    for f in found:
        if name_key(operator) in {name_key(n) for n in f.get("names") or [f["operator"]]}:
            return f
    raise NotFound(f"no operator {operator!r}; operators: {listed or 'none'}",
                   message_zh=f"没有运营者“{operator}”；现有运营者：{listed or '无'}",
                   rules=["filing.threshold"])
