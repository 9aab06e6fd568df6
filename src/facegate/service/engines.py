"""The engine in use and the templates made by others: templates of different engines or
model versions are never compared, so their subjects must be enrolled again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.faces import Recogniser
from facegate.service.gatekeeper import Gatekeeper


@dataclass(frozen=True, kw_only=True)
class Engines:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    recogniser: Recogniser

    def status(self, actor: Actor) -> dict[str, Any]:
        """The engine, its threshold, and who needs re-enrolment."""
        decision = self.gate.role(actor, "engine.read")
        with self.uow() as uow:
            rows = uow.templates.engines_in_use(decision.permit())
            self.audit.record(uow.session, actor, "engine.status", "allowed", decision.rules,
                              detail={"template_groups": len(rows)})
            uow.commit()
        engine = self.recogniser.engine
        current = (engine.name, engine.model_version)
        stale = [{"subject": s, "deployment": d, "engine": f"{e}/{m}", "templates": n}
                 for s, d, e, m, n in rows if (e, m) != current]
        return {"engine": self.recogniser.key, "threshold": self.recogniser.threshold,
                "templates_current": sum(n for _, _, e, m, n in rows if (e, m) == current),
                "needs_reenrolment": stale}
