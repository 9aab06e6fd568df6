"""The engines in use: the installation's, each deployment's and the one it moves to, with the
migration's progress; who needs re-enrolment (templates of an engine their deployment no
longer uses are never compared); and re-keying a deployment's protected templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from facegate.errors import Conflict
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.faces import Recogniser
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.indexes import IndexRegistry
from facegate.service.migration import EngineMigration
from facegate.store.models import Deployment
from facegate.store.repository import record_change


@dataclass(frozen=True, kw_only=True)
class Engines:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    recogniser: Recogniser
    migration: EngineMigration
    indexes: IndexRegistry

    def status(self, actor: Actor) -> dict[str, Any]:
        """The installation's engine and threshold; per deployment its engine, the one it
        moves to and how far (subjects moved, subjects left); who needs re-enrolment."""
        decision = self.gate.role(actor, "engine.read")
        with self.uow() as uow:
            rows = uow.templates.engines_in_use(decision.permit())
            deps = list(uow.session.execute(select(Deployment).order_by(Deployment.id))
                        .scalars())
            self.audit.record(uow.session, actor, "engine.status", "allowed", decision.rules,
                              detail={"template_groups": len(rows)})
            uow.commit()
        default = self.recogniser.key
        uses = {d.id: d.engine or default for d in deps}
        targets = {d.id: d.migrating_to for d in deps}
        deployments = []
        for d in deps:
            subjects: dict[str, set[str]] = {}
            templates: dict[str, int] = {}
            for s, dep, e, m, n in rows:
                if dep == d.id:
                    subjects.setdefault(f"{e}/{m}", set()).add(s)
                    templates[f"{e}/{m}"] = templates.get(f"{e}/{m}", 0) + n
            out: dict[str, Any] = {"deployment": d.id, "engine": uses[d.id],
                                   "migrating_to": targets[d.id], "templates": templates}
            target = targets[d.id]
            if target is not None:
                moved = len(subjects.get(target, set()))
                left = len(subjects.get(uses[d.id], set()))
                out["progress"] = {"subjects_moved": moved, "subjects_left": left,
                                   "share": round(moved / (moved + left), 4)
                                   if moved + left else 1.0}
            deployments.append(out)
        stale = [{"subject": s, "deployment": d, "engine": f"{e}/{m}", "templates": n}
                 for s, d, e, m, n in rows
                 if f"{e}/{m}" not in (uses.get(d), targets.get(d))]
        return {"engine": default, "threshold": self.recogniser.threshold,
                "templates_current": sum(n for _, d, e, m, n in rows
                                         if f"{e}/{m}" == uses.get(d)),
                "deployments": deployments, "needs_reenrolment": stale}

    def migrate(self, actor: Actor, deployment_id: str, target: str | None = None
                ) -> dict[str, Any]:
        """Put a deployment into migration towards ``target`` (``EngineMigration.start``)."""
        return self.migration.start(actor, deployment_id, target)

    def rekey(self, actor: Actor, deployment_id: str) -> dict[str, Any]:
        """Renew a deployment's protected templates (ISO/IEC 24745): a new epoch, so a new
        secret rotation; every process rebuilds the deployment's indexes under it (a
        ``rebuild`` change in the index change log), so vectors taken from an index before
        are worthless."""
        decision = self.gate.role(actor, "engine.migrate", deployment=deployment_id,
                                  detail={"requested": "engine.rekey"})
        with self.uow() as uow, self.indexes.lock:
            s = uow.session
            dep, _ = records.deployment(s, deployment_id)
            s.refresh(dep, with_for_update=True)  # two re-keys do not both take one epoch
            if dep.status == "terminated":
                raise Conflict(f"{deployment_id} ended face recognition")
            before = dep.index_epoch
            dep.index_epoch = before + 1
            record_change(s, dep.id, "rebuild", datetime.now(UTC))
            self.audit.record(s, actor, "engine.rekey", "allowed",
                              list(dict.fromkeys([*decision.rules, "security.controls"])),
                              deployment=dep.id, purpose=dep.purpose,
                              detail={"epoch_from": before, "epoch_to": dep.index_epoch})
            self.indexes.rekeyed(dep.id, dep.index_epoch)
            uow.commit()
            return {"deployment": dep.id, "epoch": dep.index_epoch, "previous_epoch": before}
