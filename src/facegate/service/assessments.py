"""Personal information impact assessments (``pia.before-use``): recorded with their four
sections before any use, stale when the purpose or method changes or after an incident, kept
at least three years.

The sections and the conclusion are texts a person reads: each a plain string or
``{"zh": ..., "en": ...}`` with at least one language (``facegate.policy.texts``), bounded per
language. The assessor is a person's name, plain text. The conclusion is kept as JSON in its
text column (a JSON string or an object of the languages given; migration 0012).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from facegate.errors import BadInput, NotFound
from facegate.policy import AssessmentFacts, Facts
from facegate.policy.checks import add_years
from facegate.policy.packs import get_pack
from facegate.policy.texts import LocalText, Said, as_json, blank_text
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.facts import assessment_facts
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.limits import TEXT_MAX, bounded
from facegate.service.views import assessment_view, digest_of
from facegate.store.models import Assessment

PIA_SECTIONS = ("lawfulness", "impact", "risks", "protections")
PIA_TITLES = {
    "lawfulness": "Lawfulness, legitimacy and necessity of the purpose and method",
    "impact": "Impact on the person's rights and whether the mitigations work",
    "risks": "Risks of leakage, tampering, loss or misuse",
    "protections": "Whether the protections are lawful, effective and proportionate",
}


_SAID: TypeAdapter[str | LocalText | None] = TypeAdapter(Said)


def _blank(value: Any) -> bool:
    """Nothing said: missing, an empty string, or a mapping whose languages are all empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    return isinstance(value, Mapping) and all(
        v is None or (isinstance(v, str) and not v.strip()) for v in value.values())


def readable(value: Any, what: str) -> str | dict[str, str]:
    """A text a person reads, as stored: a plain string, or the languages given of a
    ``{zh, en}`` mapping; each language stripped and at most ``TEXT_MAX`` characters."""
    try:
        said = _SAID.validate_python(value)
    except ValidationError as e:
        why = str(e.errors()[0]["msg"]).removeprefix("Value error, ")
        raise BadInput(f"{what}: {why}", rules=["pia.before-use"]) from None
    if said is None or blank_text(said):
        raise BadInput(f"{what} is empty", rules=["pia.before-use"])
    if isinstance(said, str):
        return str(bounded(said.strip(), what, TEXT_MAX))
    out = as_json(LocalText(**{k: v.strip() for k, v in said.model_dump().items()}))
    assert isinstance(out, dict)
    for lang, text in out.items():
        bounded(text, f"{what} ({lang})", TEXT_MAX)
    return out


def stored_conclusion(text: str | dict[str, str]) -> str:
    """The conclusion for its text column: JSON, a string or an object of the languages."""
    return json.dumps(text, ensure_ascii=False, sort_keys=True)


def _day(value: Any, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadInput(f"{what} must be a date (YYYY-MM-DD), got {value!r}") from None


@dataclass(frozen=True, kw_only=True)
class Assessments:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock

    def record(self, actor: Actor, deployment_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Record an impact assessment with its four sections; it covers the deployment's
        current purpose and method and is kept at least three years."""
        self.gate.role(actor, "pia.record", deployment=deployment_id)
        sections = data.get("sections") or {}
        if not isinstance(sections, Mapping):
            raise BadInput("sections must be a mapping of the four sections",
                           rules=["pia.before-use"])
        missing = [k for k in PIA_SECTIONS if _blank(sections.get(k))]
        unknown = sorted(str(k) for k in set(sections) - set(PIA_SECTIONS))
        if missing or unknown:
            raise BadInput("an impact assessment has four sections: "
                           + ", ".join(PIA_SECTIONS)
                           + (f"; missing: {', '.join(missing)}" if missing else "")
                           + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
                           rules=["pia.before-use"])
        texts = {k: readable(sections[k], f"section {k}") for k in PIA_SECTIONS}
        named = data.get("assessor")
        if named is not None and not isinstance(named, str):
            raise BadInput("assessor is a person's name, given as plain text (not a mapping "
                           "of languages or another value)", rules=["pia.before-use"])
        assessor = str(bounded((named or "").strip(), "assessor"))
        if not assessor or _blank(data.get("conclusion")):
            raise BadInput("an impact assessment names its assessor and its conclusion",
                           rules=["pia.before-use"])
        conclusion = readable(data.get("conclusion"), "conclusion")
        today = self.clock.today()
        assessed_on = _day(data.get("assessed_on") or today, "assessed_on")
        if assessed_on > today:
            raise BadInput("assessed_on is in the future", rules=["pia.before-use"])
        with self.uow() as uow:
            s = uow.session
            dep, _ = records.deployment(s, deployment_id)
            last = records.assessment(s, dep)
            years = get_pack(dep.rule_pack).params["pia_keep_years"]
            a = Assessment(deployment_id=dep.id, version=(last.version + 1) if last else 1,
                           purpose=dep.purpose, mode=dep.mode, assessor=assessor,
                           assessed_on=assessed_on, keep_until=add_years(assessed_on, years),
                           sections=texts, conclusion=stored_conclusion(conclusion),
                           created_at=self.clock.now())
            s.add(a)
            s.flush()
            self.audit.record(s, actor, "pia.record", "allowed", ["pia.before-use"],
                              deployment=dep.id, purpose=dep.purpose,
                              detail={"version": a.version, "sha256": digest_of(a.sections)})
            uow.commit()
            return assessment_view(a)

    def all(self, actor: Actor, deployment_id: str) -> list[dict[str, Any]]:
        """A deployment's assessments, oldest first; the latest says whether it is stale."""
        self.gate.role(actor, "pia.read", deployment=deployment_id)
        with self.uow() as uow:
            dep, _ = records.deployment(uow.session, deployment_id)
            current = assessment_facts(uow.session, dep)
            rows = uow.session.execute(select(Assessment).where(
                Assessment.deployment_id == deployment_id).order_by(Assessment.version))
            out = [assessment_view(a) for a in rows.scalars()]
            if out and current is not None:
                out[-1]["stale"], out[-1]["stale_reason"] = current.stale, current.stale_reason
            return out

    def delete(self, actor: Actor, deployment_id: str, version: int) -> dict[str, Any]:
        """Refused while the assessment must still be kept (three years)."""
        if not 1 <= version <= 2**31 - 1:  # a 32-bit column: larger is never stored
            raise NotFound(f"{deployment_id} has no assessment version {version}")
        with self.uow() as uow:
            dep, manifest = records.deployment(uow.session, deployment_id)
            a = uow.session.execute(select(Assessment).where(
                Assessment.deployment_id == deployment_id, Assessment.version == version)
            ).scalar_one_or_none()
            if a is None:
                raise NotFound(f"{deployment_id} has no assessment version {version}")
            facts = Facts(operation="pia.delete", pack=dep.rule_pack, on=self.clock.today(),
                          **actor.facts(), deployment=manifest,
                          assessment=AssessmentFacts(a.version, a.assessed_on, a.keep_until))
        decision = self.gate.check(actor, facts, deployment=deployment_id)
        with self.uow() as uow:
            a = uow.session.execute(select(Assessment).where(
                Assessment.deployment_id == deployment_id, Assessment.version == version)
            ).scalar_one()
            uow.session.delete(a)
            self.audit.record(uow.session, actor, "pia.delete", "allowed", decision.rules,
                              deployment=deployment_id, detail={"version": version})
            uow.commit()
        return {"deployment": deployment_id, "version": version, "deleted": True}

    def incident(self, actor: Actor, deployment_id: str, what: str) -> dict[str, Any]:
        """A major incident makes the assessment stale until reassessed (``pia.before-use``)."""
        self.gate.role(actor, "pia.record", deployment=deployment_id)
        if not what.strip():
            raise BadInput("describe the incident")
        bounded(what, "the incident", TEXT_MAX)
        with self.uow() as uow:
            dep, _ = records.deployment(uow.session, deployment_id)
            a = records.assessment(uow.session, dep)
            if a is None:
                raise NotFound(f"{deployment_id} has no impact assessment")
            a.stale_reason = f"major incident: {what.strip()}"[:200]
            self.audit.record(uow.session, actor, "pia.incident", "allowed",
                              ["pia.before-use"], deployment=deployment_id,
                              detail={"version": a.version})
            uow.commit()
        return {"deployment": deployment_id, "assessment": a.version, "stale": True}
