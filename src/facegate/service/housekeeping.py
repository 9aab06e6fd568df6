"""Housekeeping (``retention.minimum``): every template whose retention ended is deleted, and
a filing duty that arose is recorded; the indexes' change log forgets rows older than
``INDEX_LOG_KEEP`` (a process whose index is older than that rebuilds it from the store). Run
by ``facegate housekeeping`` and periodically by the service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from facegate.localtime import iso_local
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.filing import Filing
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.indexes import IndexRegistry
from facegate.store.repository import prune_changes

# How long the indexes' change log keeps a row. Every serving process applies the log before
# each search, so only a process idle for longer has to rebuild its index.
INDEX_LOG_KEEP = timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class Housekeeping:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    indexes: IndexRegistry
    filing: Filing

    def run(self, actor: Actor) -> dict[str, Any]:
        """Delete the expired templates; a report of what went and any filing warnings."""
        decision = self.gate.role(actor, "housekeeping")
        now = self.clock.now()
        with self.uow() as uow, self.indexes.lock:
            gone = uow.templates.delete_expired(decision.permit(), now)
            status = self.filing.compute(uow.session)
            pruned = prune_changes(uow.session, now - INDEX_LOG_KEEP)
            deps = sorted({t.deployment_id for t in gone})
            by_subject: dict[str, int] = {}
            for t in gone:
                by_subject[t.subject_id] = by_subject.get(t.subject_id, 0) + 1
            self.audit.record(uow.session, actor, "housekeeping", "allowed",
                              ["retention.minimum"],
                              detail={"expired_templates": len(gone), "deployments": deps,
                                      "subjects": len(by_subject),
                                      "index_log_pruned": pruned})
            for dep in deps:  # the other processes apply the logged removals
                self.indexes.drop_templates(dep, [t.id for t in gone if t.deployment_id == dep])
            self.indexes.commit_or_invalidate(uow)
        return {"at": iso_local(now, self.clock.tz), "expired_templates": len(gone),
                "subjects": len(by_subject), "deployments": deps, "index_log_pruned": pruned,
                "filing_warnings": [w | {"operator": name} for name, st in status.items()
                                    for w in st.warnings]}
