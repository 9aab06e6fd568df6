"""The filing duty (``filing.threshold``, ``filing.change``, ``filing.deregister``): persons
counted, the day the duty arose, its due date in Chinese working days, warnings, and what was
filed. Other use cases tell it when face data or a deployment changed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from facegate.compliance import (
    FilingStatus,
    WorkdayCalendar,
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

    def _rows(self, s: Session, operator: str | None = None) -> list[FilingEvent]:
        q = select(FilingEvent).order_by(FilingEvent.id)
        rows = list(s.execute(q).scalars())
        return rows if operator is None else [r for r in rows
                                              if (r.operator or UNNAMED) == operator]

    def _permit(self) -> Permit:
        return decide(Facts(operation="filing.read", pack=self._settings.rule_pack,
                            on=self._clock.today())).permit()

    def operators(self, s: Session) -> dict[str, list[Deployment]]:
        """Each operator (personal information handler) with its active deployments; an
        operator whose deployments all ended stays while it has filing clocks."""
        out: dict[str, list[Deployment]] = {}
        for d in s.execute(select(Deployment).order_by(Deployment.id)).scalars():
            if d.status == "active":
                out.setdefault(operator_of(d.manifest), []).append(d)
        for r in self._rows(s):
            out.setdefault(r.operator or UNNAMED, [])
        return dict(sorted(out.items()))

    def compute(self, s: Session, record: bool = True) -> dict[str, FilingStatus]:
        """Each operator's filing status under the rule pack: persons counted at its own
        deployments, its own clocks. When a duty arises now, the day is recorded (in the
        caller's transaction)."""
        pack = get_pack(self._settings.rule_pack)
        out: dict[str, FilingStatus] = {}
        for name, deps in self.operators(s).items():
            rows = self._rows(s, name)
            initial = next((r for r in rows if r.kind == "filing"), None)
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
            out[name] = status
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
        kinds = []
        for r in self._rows(s, operator_of(dep.manifest)):
            if r.filed_on is not None:
                continue
            # provisional while a year has no schedule: the earliest the date can be
            due, _ = earliest_due_date(r.started_on, params, self.calendar)
            if due < today:
                kinds.append(r.kind)
        return tuple(dict.fromkeys(kinds))

    def track(self, s: Session) -> None:
        """After face data is added or deleted: count persons, record the day a duty arose."""
        self.compute(s, record=True)

    def event(self, s: Session, kind: str, detail: str, operator: str) -> None:
        """A substantive change or the end of face recognition after the operator's filing
        duty arose starts its own clock, where the pack has that rule."""
        pack = get_pack(self._settings.rule_pack)
        if pack.has(f"filing.{kind}") and any(r.kind == "filing"
                                                for r in self._rows(s, operator)):
            s.add(FilingEvent(kind=kind, operator=operator, started_on=self._clock.today(),
                              detail=detail, created_at=self._clock.now()))

    # ---- the officer's use cases -----------------------------------------------------------

    def _view(self, name: str, status: FilingStatus, deps: list[Deployment]
              ) -> dict[str, Any]:
        pack = get_pack(self._settings.rule_pack)
        return {"operator": name, "deployments": [d.id for d in deps], **status.to_dict(),
                "what_to_file": list(WHAT_TO_FILE) if status.required else [],
                "working_days": pack.params["filing_working_days"]}

    def statuses(self, actor: Actor) -> list[dict[str, Any]]:
        """Every operator's count, threshold, dates, tasks and warnings, and what to file."""
        self._gate.role(actor, "filing.read")
        with self._uow() as uow:
            all_ = self.compute(uow.session)
            deps = self.operators(uow.session)
            uow.commit()
        return [self._view(name, st, deps[name]) for name, st in all_.items()]

    def status(self, actor: Actor, operator: str | None = None) -> dict[str, Any]:
        """One operator's filing status; ``operator`` may be left out when there is only
        one."""
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
            self.compute(s)
            name = _one([{"operator": o} for o in self.operators(s)], operator)["operator"]
            row = next((r for r in self._rows(s, name)
                        if r.kind == kind and r.filed_on is None), None)
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
    """The operator (personal information handler) a manifest names: the filing duty is its
    own. A bilingual name is known by its Chinese form."""
    op = manifest.get("operator")
    name = op.get("name") if isinstance(op, Mapping) else None
    if isinstance(name, Mapping):
        name = name.get("zh") or name.get("en")
    return (str(name).strip() if name else "") or UNNAMED


def _public_place(manifest: Mapping[str, Any]) -> bool:
    location = manifest.get("location")
    return isinstance(location, Mapping) and bool(location.get("public_place"))


def _one(found: list[dict[str, Any]], operator: str | None) -> dict[str, Any]:
    names = [f["operator"] for f in found]
    if operator is None and len(found) == 1:
        return found[0]
    if operator is None:
        raise BadInput("the filing duty is each operator's; name one: " + "; ".join(names)
                       if names else "no operator has a deployment yet",
                       rules=["filing.threshold"])
    for f in found:
        if f["operator"] == operator.strip():
            return f
    raise NotFound(f"no operator {operator!r}; operators: {'; '.join(names) or 'none'}",
                   rules=["filing.threshold"])
