"""What the compliance officer looks at: each deployment's health, persons over time, refusals
by rule, withdrawals and deletions, and the audit trail searched and exported. Read-only."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from facegate.audit import trail
from facegate.policy import Manifest, decide
from facegate.policy.checks import add_months
from facegate.policy.packs import get_pack
from facegate.service.base import Actor
from facegate.service.compliance import DocumentOps
from facegate.store.models import Deployment, PersonCount

# Rules decided per person or per transaction: they never block a whole deployment.
PER_PERSON = frozenset({"consent.separate", "consent.lawful-basis", "consent.withdraw",
                        "consent.guardian-under-14", "coercion.prohibited",
                        "retention.minimum"})

EXPORT_FIELDS = ("seq", "at", "actor", "role", "operation", "subject", "deployment", "purpose",
                 "decision", "rules", "detail", "prev_hash", "hash")


class InsightOps(DocumentOps):
    def deployment_health(self, actor: Actor) -> list[dict[str, Any]]:
        """Every deployment: live, blocked (and by which rule, why) or ended; its assessment
        and the next device security test."""
        self._role_only(actor, "deployment.read")
        out = []
        today = self.settings.today()
        with self.uow() as uow:
            s = uow.session
            for dep in s.execute(select(Deployment).order_by(Deployment.id)).scalars():
                manifest = Manifest.model_validate(dep.manifest)
                facts = self._deployment_facts(s, None, "identify" if dep.mode == "identify"
                                               else "verify", dep, manifest)
                decision = decide(facts)
                blocked = [f for f in decision.findings
                           if not f.passed and f.rule not in PER_PERSON]
                state = ("ended" if dep.status == "terminated" else
                         "blocked" if blocked else "live")
                pack = get_pack(dep.rule_pack)
                tests = [d.security_tested_on for d in manifest.devices]
                next_test = (min(add_months(t, pack.params["device_test_months"])
                                 for t in tests if t) if tests and all(tests) else None)
                a = facts.assessment
                out.append({
                    "id": dep.id, "name": dep.name, "purpose": dep.purpose, "mode": dep.mode,
                    "rule_pack": dep.rule_pack, "state": state,
                    "blocked_by": [{"rule": f.rule, "reason": f.reason_en,
                                    "reason_zh": f.reason_zh} for f in blocked],
                    "warnings": [{"rule": w.rule, "reason": w.reason_en,
                                  "reason_zh": w.reason_zh} for w in decision.warnings],
                    "assessment": None if a is None else {
                        "version": a.version, "assessed_on": a.assessed_on.isoformat(),
                        "stale": a.stale, "stale_reason": a.stale_reason},
                    "next_device_test": next_test.isoformat() if next_test else None,
                    "device_test_due": bool(next_test and next_test <= today + timedelta(30)),
                    "notice_version": dep.notice_version,
                })
        return out

    def person_counts(self, actor: Actor, days: int = 90) -> list[dict[str, Any]]:
        self._role_only(actor, "filing.read")
        since = self.settings.today() - timedelta(days=days)
        with self.uow() as uow:
            rows = uow.session.execute(select(PersonCount).where(PersonCount.day >= since)
                                       .order_by(PersonCount.day)).scalars()
            return [{"day": r.day.isoformat(), "persons": r.persons} for r in rows]

    def refusals_by_rule(self, actor: Actor, days: int = 30) -> dict[str, int]:
        self._role_only(actor, "audit.read")
        since = (self.settings.today() - timedelta(days=days)).isoformat()
        with self.uow() as uow:
            counts = trail.rule_counts(uow.session, decision="refused", since=since)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def rule_fired_counts(self, actor: Actor) -> dict[str, dict[str, int]]:
        """Per rule: how many audit records cite it, and how many of those were refusals."""
        self._role_only(actor, "audit.read")
        with self.uow() as uow:
            cited = trail.rule_counts(uow.session)
            refused = trail.rule_counts(uow.session, decision="refused")
        return {r: {"cited": n, "refused": refused.get(r, 0)} for r, n in cited.items()}

    def deletion_counts(self, actor: Actor) -> dict[str, int]:
        self._role_only(actor, "audit.read")
        with self.uow() as uow:
            return trail.operation_counts(uow.session, (
                "consent.withdraw", "subject.delete", "housekeeping", "deployment.terminate"))

    def audit_search(self, actor: Actor, n: int = 200, **filters: Any) -> list[dict[str, Any]]:
        self._role_only(actor, "audit.read")
        with self.uow() as uow:
            return trail.search(uow.session, n, **filters)

    def audit_export(self, actor: Actor, fmt: str, **filters: Any) -> str:
        """The filtered trail as CSV or JSON (the export is itself audited)."""
        if fmt not in ("csv", "json"):
            raise ValueError("format must be csv or json")
        records = list(reversed(self.audit_search(actor, 100_000, **filters)))
        with self.uow() as uow:
            self._audit(uow.session, actor, "audit.export", "allowed", ["security.controls"],
                        detail={"format": fmt, "records": len(records),
                                "filters": {k: v for k, v in filters.items() if v}})
            uow.commit()
        if fmt == "json":
            return json.dumps(records, ensure_ascii=False, indent=1)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS)
        w.writeheader()
        for r in records:
            w.writerow({**r, "rules": " ".join(r["rules"]),
                        "detail": json.dumps(r["detail"], ensure_ascii=False)})
        return buf.getvalue()

    def engine_status(self, actor: Actor) -> dict[str, Any]:
        """The engine in use, its threshold, and the subjects whose templates come from
        another engine or model version: they must be enrolled again to be matched (templates
        of different engines are never compared)."""
        decision = self._role_only(actor, "engine.read")
        with self.uow() as uow:
            rows = uow.templates.engines_in_use(decision.permit())
            self._audit(uow.session, actor, "engine.status", "allowed", decision.rules,
                        detail={"template_groups": len(rows)})
            uow.commit()
        current = (self.engine.name, self.engine.model_version)
        stale = [{"subject": s, "deployment": d, "engine": f"{e}/{m}", "templates": n}
                 for s, d, e, m, n in rows if (e, m) != current]
        return {"engine": self.engine_key, "threshold": self.threshold,
                "templates_current": sum(n for _, _, e, m, n in rows if (e, m) == current),
                "needs_reenrolment": stale}
