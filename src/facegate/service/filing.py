"""The filing duty (``filing.threshold``, ``filing.change``, ``filing.deregister``): persons
counted, the day the duty arose, its due date in Chinese working days, warnings, and what was
filed. Other use cases tell it when face data or a deployment changed."""

from __future__ import annotations

from datetime import date
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from facegate.compliance import (
    FilingStatus,
    UnknownCalendarYear,
    WorkdayCalendar,
    compute_status,
    due_date,
    parse_schedule,
)
from facegate.crypto import KeyRing
from facegate.errors import BadInput, NotFound
from facegate.policy import Facts, decide
from facegate.policy.packs import get_pack
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.config import Settings
from facegate.service.gatekeeper import Gatekeeper
from facegate.store.models import Deployment, FilingEvent, PersonCount
from facegate.store.repository import TemplateRepository

WHAT_TO_FILE = ["operator details and contact", "purposes and methods of each deployment",
                "number of persons whose face data is stored", "security measures",
                "processing rules", "the impact assessment of each deployment"]


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
        """Validate a year's State Council holiday schedule and keep it in the data
        directory's ``calendars/`` folder, where every process finds it."""
        self._gate.role(actor, "filing.record")
        schedule = parse_schedule(data, "the schedule")
        folder = self._settings.data_dir / "calendars"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{schedule.year}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
        self._calendar = None
        self._audit.alone(actor, "calendar.load", "allowed", ["filing.threshold"],
                          detail={"year": schedule.year, "source": schedule.source})
        return {"year": schedule.year, "source": schedule.source, "file": str(path),
                "holidays": len(schedule.holidays), "workdays": len(schedule.workdays),
                "known_years": self.calendar.known_years()}

    # ---- the duty, as other use cases see it ---------------------------------------------

    def _rows(self, s: Session) -> list[FilingEvent]:
        return list(s.execute(select(FilingEvent).order_by(FilingEvent.id)).scalars())

    def _persons(self, s: Session) -> int:
        permit = decide(Facts(operation="filing.read", pack=self._settings.rule_pack,
                              on=self._clock.today())).permit()
        return TemplateRepository(s, self._keyring).persons(permit)

    def _public_places(self, s: Session) -> list[str]:
        deps = s.execute(select(Deployment).where(Deployment.status == "active")).scalars()
        out = []
        for d in deps:
            location = d.manifest.get("location")
            if isinstance(location, dict) and location.get("public_place"):
                out.append(d.id)
        return sorted(out)

    def compute(self, s: Session, record: bool = True) -> FilingStatus:
        """The installation's filing status under its rule pack; when the duty arises now,
        the day is recorded (in the caller's transaction)."""
        pack = get_pack(self._settings.rule_pack)
        rows = self._rows(s)
        initial = next((r for r in rows if r.kind == "filing"), None)
        events = [(r.kind, r.started_on, r.filed_on, r.detail) for r in rows
                  if r.kind != "filing"]
        status = compute_status(
            pack=pack.name, params=pack.params, persons=self._persons(s),
            public_place_deployments=self._public_places(s),
            crossed_on=initial.started_on if initial else None, events=events,
            today=self._clock.today(), calendar=self.calendar,
            filed_on=initial.filed_on if initial else None,
            warn_ratio=pack.params["filing_warn_ratio"],
            warn_working_days=pack.params["filing_warn_working_days"])
        if record:  # the dashboard's chart: one count per day
            day = s.get(PersonCount, status.as_of)
            if day is None:
                s.add(PersonCount(day=status.as_of, persons=status.persons))
            else:
                day.persons = status.persons
        if record and initial is None and status.required and status.crossed_on is not None:
            s.add(FilingEvent(kind="filing", started_on=status.crossed_on,
                              detail=", ".join(status.reasons), created_at=self._clock.now()))
            s.flush()
        return status

    def overdue(self, s: Session, pack: str) -> tuple[str, ...]:
        """Kinds of filing tasks past their due date (``filing.threshold``,
        ``filing.change``)."""
        today = self._clock.today()
        params = get_pack(self._settings.rule_pack).params
        kinds = []
        for r in self._rows(s):
            if r.filed_on is not None:
                continue
            try:
                due = due_date(r.started_on, params, self.calendar)
            except UnknownCalendarYear:
                continue  # not known to be overdue; filing status says which year is missing
            if due < today:
                kinds.append(r.kind)
        return tuple(dict.fromkeys(kinds))

    def track(self, s: Session) -> None:
        """After face data is added or deleted: count persons, record the day a duty arose."""
        self.compute(s, record=True)

    def event(self, s: Session, kind: str, detail: str) -> None:
        """A substantive change or the end of face recognition after a filing duty arose
        starts its own clock, where the pack has that rule."""
        pack = get_pack(self._settings.rule_pack)
        if pack.has(f"filing.{kind}") and any(r.kind == "filing" for r in self._rows(s)):
            s.add(FilingEvent(kind=kind, started_on=self._clock.today(), detail=detail,
                              created_at=self._clock.now()))

    # ---- the officer's use cases -----------------------------------------------------------

    def status(self, actor: Actor) -> dict[str, Any]:
        """Count, threshold, dates, tasks and warnings, and what to file."""
        self._gate.role(actor, "filing.read")
        with self._uow() as uow:
            status = self.compute(uow.session)
            uow.commit()
        pack = get_pack(self._settings.rule_pack)
        out = status.to_dict()
        out["what_to_file"] = list(WHAT_TO_FILE) if status.required else []
        out["working_days"] = pack.params["filing_working_days"]
        return out

    def record(self, actor: Actor, kind: str, filed_on: date, reference: str
               ) -> dict[str, Any]:
        """Mark the oldest open filing task of ``kind`` as filed with the authority."""
        self._gate.role(actor, "filing.record")
        if kind not in ("filing", "change", "deregister"):
            raise BadInput("kind must be filing, change or deregister")
        if not reference.strip():
            raise BadInput("give the authority's filing reference", rules=["filing.threshold"])
        if filed_on > self._clock.today():
            raise BadInput("filed_on is in the future")
        with self._uow() as uow:
            s = uow.session
            self.compute(s)
            row = next((r for r in self._rows(s) if r.kind == kind and r.filed_on is None),
                       None)
            if row is None:
                raise NotFound(f"no open {kind} task")
            if filed_on < row.started_on:
                raise BadInput(f"filed_on is before the duty arose ({row.started_on})")
            row.filed_on, row.reference = filed_on, reference.strip()
            self._audit.record(s, actor, "filing.record", "allowed",
                               [f"filing.{kind}" if kind != "filing" else "filing.threshold"],
                               detail={"kind": kind, "filed_on": filed_on.isoformat(),
                                       "reference": row.reference})
            uow.commit()
        return self.status(actor)
