"""Reading the audit trail: verifying its chain, the latest records, searches and exports
(the export is itself audited), and the counts the officer's dashboard draws."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from facegate.audit import tail, trail, verify_chain
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.gatekeeper import Gatekeeper

EXPORT_FIELDS = ("seq", "at", "actor", "role", "operation", "subject", "deployment", "purpose",
                 "decision", "rules", "detail", "prev_hash", "hash")
DELETIONS = ("consent.withdraw", "subject.delete", "housekeeping", "deployment.terminate")


@dataclass(frozen=True, kw_only=True)
class AuditQueries:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock

    def verify(self, actor: Actor) -> dict[str, Any]:
        """Check the whole hash chain; names the first broken record."""
        self.gate.role(actor, "audit.verify")
        with self.uow() as uow:
            return verify_chain(uow.session).to_dict()

    def tail(self, actor: Actor, n: int = 20, **filters: Any) -> list[dict[str, Any]]:
        self.gate.role(actor, "audit.read")
        with self.uow() as uow:
            return tail(uow.session, n, **filters)

    def search(self, actor: Actor, n: int = 200, **filters: Any) -> list[dict[str, Any]]:
        self.gate.role(actor, "audit.read")
        with self.uow() as uow:
            return trail.search(uow.session, n, **filters)

    def export(self, actor: Actor, fmt: str, **filters: Any) -> str:
        """The filtered trail as CSV or JSON (the export is itself audited)."""
        if fmt not in ("csv", "json"):
            raise ValueError("format must be csv or json")
        records = list(reversed(self.search(actor, 100_000, **filters)))
        self.audit.alone(actor, "audit.export", "allowed", ["security.controls"],
                         detail={"format": fmt, "records": len(records),
                                 "filters": {k: v for k, v in filters.items() if v}})
        if fmt == "json":
            return json.dumps(records, ensure_ascii=False, indent=1)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS)
        w.writeheader()
        for r in records:
            w.writerow({**r, "rules": " ".join(r["rules"]),
                        "detail": json.dumps(r["detail"], ensure_ascii=False)})
        return buf.getvalue()

    def refusals_by_rule(self, actor: Actor, days: int = 30) -> dict[str, int]:
        """Refusals of the last ``days`` days per rule, most frequent first."""
        self.gate.role(actor, "audit.read")
        since = (self.clock.today() - timedelta(days=days)).isoformat()
        with self.uow() as uow:
            counts = trail.rule_counts(uow.session, decision="refused", since=since)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def rule_counts(self, actor: Actor) -> dict[str, dict[str, int]]:
        """Per rule: how many audit records cite it, and how many of those were refusals."""
        self.gate.role(actor, "audit.read")
        with self.uow() as uow:
            cited = trail.rule_counts(uow.session)
            refused = trail.rule_counts(uow.session, decision="refused")
        return {r: {"cited": n, "refused": refused.get(r, 0)} for r, n in cited.items()}

    def deletion_counts(self, actor: Actor) -> dict[str, int]:
        """How many withdrawals, deletions, housekeepings and terminations were recorded."""
        self.gate.role(actor, "audit.read")
        with self.uow() as uow:
            return trail.operation_counts(uow.session, DELETIONS)
