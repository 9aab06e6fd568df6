"""Use cases of the rule catalogue beyond matching: impact assessments (``pia.before-use``),
the filing duty (``filing.*``), housekeeping (``retention.minimum``), the end of a deployment
(``filing.deregister``), transactions of major interest (``major-interest.manual-review``) and
exports (``storage.on-device``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from facegate import documents
from facegate.compliance import (
    FilingStatus,
    UnknownCalendarYear,
    WorkdayCalendar,
    compute_status,
    due_date,
    parse_schedule,
)
from facegate.documents import Document
from facegate.errors import BadInput, Conflict, NotFound
from facegate.policy import Facts, ManualCheck, SubjectFacts, decide
from facegate.policy.checks import add_years
from facegate.policy.facts import AssessmentFacts
from facegate.policy.packs import get_pack
from facegate.service.base import Actor, ServiceBase, digest_of
from facegate.store.models import (
    Assessment,
    Consent,
    Deployment,
    FilingEvent,
    PersonCount,
    TransactionRecord,
)
from facegate.store.repository import TemplateRepository

PIA_SECTIONS = ("lawfulness", "impact", "risks", "protections")
PIA_TITLES = {
    "lawfulness": "Lawfulness, legitimacy and necessity of the purpose and method",
    "impact": "Impact on the person's rights and whether the mitigations work",
    "risks": "Risks of leakage, tampering, loss or misuse",
    "protections": "Whether the protections are lawful, effective and proportionate",
}


def _day(value: Any, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadInput(f"{what} must be a date (YYYY-MM-DD), got {value!r}") from None


class ComplianceOps(ServiceBase):
    _calendar: WorkdayCalendar | None = None

    # ---- Chinese working days ------------------------------------------------------------

    @property
    def calendar(self) -> WorkdayCalendar:
        """chinese-calendar's State Council schedules, plus any year the operator loaded into
        ``<data>/calendars/`` (a year the library does not know yet)."""
        if self._calendar is None:
            folder = self.settings.data_dir / "calendars"
            self._calendar = (WorkdayCalendar.from_directory(folder) if folder.is_dir()
                              else WorkdayCalendar())
        return self._calendar

    def load_calendar(self, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
        """Validate a year's State Council holiday schedule and keep it in the data
        directory's ``calendars/`` folder, where every process finds it."""
        self._role_only(actor, "filing.record")
        schedule = parse_schedule(data, "the schedule")
        folder = self.settings.data_dir / "calendars"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{schedule.year}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                        encoding="utf-8")
        self._calendar = None
        with self.uow() as uow:
            self._audit(uow.session, actor, "calendar.load", "allowed", ["filing.threshold"],
                        detail={"year": schedule.year, "source": schedule.source})
            uow.commit()
        return {"year": schedule.year, "source": schedule.source, "file": str(path),
                "holidays": len(schedule.holidays), "workdays": len(schedule.workdays),
                "known_years": self.calendar.known_years()}

    # ---- impact assessments (pia.before-use) ---------------------------------------------

    def record_assessment(self, actor: Actor, deployment_id: str, data: dict[str, Any]
                          ) -> dict[str, Any]:
        """Record an impact assessment with its four sections; it covers the deployment's
        current purpose and method and is kept at least three years."""
        self._role_only(actor, "pia.record", deployment=deployment_id)
        sections = data.get("sections") or {}
        if not isinstance(sections, dict):
            raise BadInput("sections must be a mapping of the four sections",
                           rules=["pia.before-use"])
        missing = [k for k in PIA_SECTIONS if not str(sections.get(k) or "").strip()]
        unknown = sorted(set(sections) - set(PIA_SECTIONS))
        if missing or unknown:
            raise BadInput("an impact assessment has four sections: "
                           + ", ".join(PIA_SECTIONS)
                           + (f"; missing: {', '.join(missing)}" if missing else "")
                           + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
                           rules=["pia.before-use"])
        assessor = str(data.get("assessor") or "").strip()
        conclusion = str(data.get("conclusion") or "").strip()
        if not assessor or not conclusion:
            raise BadInput("an impact assessment names its assessor and its conclusion",
                           rules=["pia.before-use"])
        assessed_on = _day(data.get("assessed_on") or self.settings.today(), "assessed_on")
        if assessed_on > self.settings.today():
            raise BadInput("assessed_on is in the future", rules=["pia.before-use"])
        with self.uow() as uow:
            s = uow.session
            dep, _ = self._deployment(s, deployment_id)
            last = self._assessment(s, dep)
            years = get_pack(dep.rule_pack).params["pia_keep_years"]
            a = Assessment(deployment_id=dep.id, version=(last.version + 1) if last else 1,
                           purpose=dep.purpose, mode=dep.mode, assessor=assessor,
                           assessed_on=assessed_on, keep_until=add_years(assessed_on, years),
                           sections={k: str(sections[k]).strip() for k in PIA_SECTIONS},
                           conclusion=conclusion, created_at=self._now())
            s.add(a)
            s.flush()
            self._audit(s, actor, "pia.record", "allowed", ["pia.before-use"],
                        deployment=dep.id, purpose=dep.purpose,
                        detail={"version": a.version, "sha256": digest_of(a.sections)})
            uow.commit()
            return assessment_view(a)

    def list_assessments(self, actor: Actor, deployment_id: str) -> list[dict[str, Any]]:
        self._role_only(actor, "pia.read", deployment=deployment_id)
        with self.uow() as uow:
            dep, _ = self._deployment(uow.session, deployment_id)
            current = self._assessment_facts(uow.session, dep)
            rows = uow.session.execute(select(Assessment).where(
                Assessment.deployment_id == deployment_id).order_by(Assessment.version))
            out = [assessment_view(a) for a in rows.scalars()]
            if out and current is not None:
                out[-1]["stale"], out[-1]["stale_reason"] = current.stale, current.stale_reason
            return out

    def delete_assessment(self, actor: Actor, deployment_id: str, version: int
                          ) -> dict[str, Any]:
        """Refused while the assessment must still be kept (three years)."""
        with self.uow() as uow:
            dep, manifest = self._deployment(uow.session, deployment_id)
            a = uow.session.execute(select(Assessment).where(
                Assessment.deployment_id == deployment_id, Assessment.version == version)
            ).scalar_one_or_none()
            if a is None:
                raise NotFound(f"{deployment_id} has no assessment version {version}")
            facts = Facts(operation="pia.delete", pack=dep.rule_pack, on=self.settings.today(),
                          actor_role=actor.role, deployment=manifest,
                          assessment=AssessmentFacts(a.version, a.assessed_on, a.keep_until))
        decision = self._gate(actor, facts, deployment=deployment_id)
        with self.uow() as uow:
            a = uow.session.execute(select(Assessment).where(
                Assessment.deployment_id == deployment_id, Assessment.version == version)
            ).scalar_one()
            uow.session.delete(a)
            self._audit(uow.session, actor, "pia.delete", "allowed", decision.rules,
                        deployment=deployment_id, detail={"version": version})
            uow.commit()
        return {"deployment": deployment_id, "version": version, "deleted": True}

    def report_incident(self, actor: Actor, deployment_id: str, what: str) -> dict[str, Any]:
        """A major incident makes the assessment stale until reassessed (``pia.before-use``)."""
        self._role_only(actor, "pia.record", deployment=deployment_id)
        if not what.strip():
            raise BadInput("describe the incident")
        with self.uow() as uow:
            dep, _ = self._deployment(uow.session, deployment_id)
            a = self._assessment(uow.session, dep)
            if a is None:
                raise NotFound(f"{deployment_id} has no impact assessment")
            a.stale_reason = f"major incident: {what.strip()}"[:200]
            self._audit(uow.session, actor, "pia.incident", "allowed", ["pia.before-use"],
                        deployment=deployment_id, detail={"version": a.version})
            uow.commit()
        return {"deployment": deployment_id, "assessment": a.version, "stale": True}

    # ---- the filing duty (filing.threshold, filing.change, filing.deregister) -------------

    def _filing_rows(self, s: Session) -> list[FilingEvent]:
        return list(s.execute(select(FilingEvent).order_by(FilingEvent.id)).scalars())

    def _persons(self, s: Session) -> int:
        permit = decide(Facts(operation="filing.read", pack=self.settings.rule_pack,
                              on=self.settings.today())).permit()
        return TemplateRepository(s, self.keyring).persons(permit)

    def _public_places(self, s: Session) -> list[str]:
        deps = s.execute(select(Deployment).where(Deployment.status == "active")).scalars()
        out = []
        for d in deps:
            location = d.manifest.get("location")
            if isinstance(location, dict) and location.get("public_place"):
                out.append(d.id)
        return sorted(out)

    def _filing_status(self, s: Session, record: bool = True) -> FilingStatus:
        """The installation's filing status under its rule pack; when the duty arises now,
        the day is recorded (in the caller's transaction)."""
        pack = get_pack(self.settings.rule_pack)
        rows = self._filing_rows(s)
        initial = next((r for r in rows if r.kind == "filing"), None)
        events = [(r.kind, r.started_on, r.filed_on, r.detail) for r in rows
                  if r.kind != "filing"]
        status = compute_status(
            pack=pack.name, params=pack.params, persons=self._persons(s),
            public_place_deployments=self._public_places(s),
            crossed_on=initial.started_on if initial else None, events=events,
            today=self.settings.today(), calendar=self.calendar,
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
                              detail=", ".join(status.reasons), created_at=self._now()))
            s.flush()
        return status

    def _overdue_filings(self, s: Session, pack: str) -> tuple[str, ...]:
        today = self.settings.today()
        params = get_pack(self.settings.rule_pack).params
        kinds = []
        for r in self._filing_rows(s):
            if r.filed_on is not None:
                continue
            try:
                due = due_date(r.started_on, params, self.calendar)
            except UnknownCalendarYear:
                continue  # not known to be overdue; filing status says which year is missing
            if due < today:
                kinds.append(r.kind)
        return tuple(dict.fromkeys(kinds))

    def _track_filing(self, s: Session) -> None:
        """After face data is added: record the day a filing duty arose."""
        self._filing_status(s, record=True)

    def _filing_event(self, s: Session, kind: str, detail: str) -> None:
        """A substantive change or the end of face recognition after a filing duty arose
        starts its own clock, where the pack has that rule."""
        pack = get_pack(self.settings.rule_pack)
        rule = f"filing.{kind}"
        rows = self._filing_rows(s)
        if pack.has(rule) and any(r.kind == "filing" for r in rows):
            s.add(FilingEvent(kind=kind, started_on=self.settings.today(), detail=detail,
                              created_at=self._now()))

    def filing_status(self, actor: Actor) -> dict[str, Any]:
        """Count, threshold, dates, tasks and warnings, and what to file."""
        self._role_only(actor, "filing.read")
        with self.uow() as uow:
            status = self._filing_status(uow.session)
            uow.commit()
        pack = get_pack(self.settings.rule_pack)
        out = status.to_dict()
        out["what_to_file"] = [
            "operator details and contact", "purposes and methods of each deployment",
            "number of persons whose face data is stored", "security measures",
            "processing rules", "the impact assessment of each deployment",
        ] if status.required else []
        out["working_days"] = pack.params["filing_working_days"]
        return out

    def record_filing(self, actor: Actor, kind: str, filed_on: date,
                      reference: str) -> dict[str, Any]:
        """Mark the oldest open filing task of ``kind`` as filed with the authority."""
        self._role_only(actor, "filing.record")
        if kind not in ("filing", "change", "deregister"):
            raise BadInput("kind must be filing, change or deregister")
        if not reference.strip():
            raise BadInput("give the authority's filing reference", rules=["filing.threshold"])
        if filed_on > self.settings.today():
            raise BadInput("filed_on is in the future")
        with self.uow() as uow:
            s = uow.session
            self._filing_status(s)
            row = next((r for r in self._filing_rows(s) if r.kind == kind
                        and r.filed_on is None), None)
            if row is None:
                raise NotFound(f"no open {kind} task")
            if filed_on < row.started_on:
                raise BadInput(f"filed_on is before the duty arose ({row.started_on})")
            row.filed_on, row.reference = filed_on, reference.strip()
            self._audit(s, actor, "filing.record", "allowed", [f"filing.{kind}"
                        if kind != "filing" else "filing.threshold"],
                        detail={"kind": kind, "filed_on": filed_on.isoformat(),
                                "reference": row.reference})
            uow.commit()
        return self.filing_status(actor)

    # ---- retention and the end of a deployment --------------------------------------------

    def housekeeping(self, actor: Actor) -> dict[str, Any]:
        """Delete every template whose retention ended (``retention.minimum``); record a
        filing duty that arose. Run by ``facegate housekeeping`` and periodically by the
        service."""
        decision = self._role_only(actor, "housekeeping")
        now = self._now()
        with self.uow() as uow, self._index_lock:
            gone = uow.templates.delete_expired(decision.permit(), now)
            status = self._filing_status(uow.session)
            deps = sorted({t.deployment_id for t in gone})
            by_subject: dict[str, int] = {}
            for t in gone:
                by_subject[t.subject_id] = by_subject.get(t.subject_id, 0) + 1
            self._audit(uow.session, actor, "housekeeping", "allowed", ["retention.minimum"],
                        detail={"expired_templates": len(gone), "deployments": deps,
                                "subjects": len(by_subject)})
            for dep in deps:
                self._indexes.pop(dep, None)
            self._commit_or_invalidate(uow)
        return {"at": now.isoformat(), "expired_templates": len(gone),
                "subjects": len(by_subject), "deployments": deps,
                "filing_warnings": status.warnings}

    def terminate_deployment(self, actor: Actor, deployment_id: str) -> dict[str, Any]:
        """End face recognition at a deployment: its templates are deleted, its consents
        closed, and (cn-2025) a deregistration filing clock starts (``filing.deregister``)."""
        decision = self._role_only(actor, "deployment.terminate", deployment=deployment_id)
        now = self._now()
        with self.uow() as uow, self._index_lock:
            s = uow.session
            dep, _ = self._deployment(s, deployment_id)
            if dep.status == "terminated":
                raise Conflict(f"{deployment_id} was already terminated")
            gone = uow.templates.delete_deployment(decision.permit(), deployment_id)
            consents = list(s.execute(select(Consent).where(
                Consent.deployment_id == deployment_id, Consent.withdrawn_at.is_(None)))
                .scalars())
            for c in consents:
                c.withdrawn_at = now
            dep.status, dep.terminated_at, dep.updated_at = "terminated", now, now
            self._filing_event(s, "deregister", f"{deployment_id} ended face recognition")
            self._indexes.pop(deployment_id, None)
            deleted = {"templates": len(gone), "subjects": len({t.subject_id for t in gone}),
                       "consents_closed": len(consents)}
            body: dict[str, Any] = {
                "operation": "deployment.terminate", "deployment": deployment_id,
                "at": now.isoformat(), "deleted": deleted,
                "rules": ["filing.deregister", "retention.minimum"]}
            receipt = {**body, "sha256": digest_of(body)}
            self._audit(s, actor, "deployment.terminate", "allowed",
                        [*decision.rules, "filing.deregister", "retention.minimum"],
                        deployment=deployment_id,
                        detail={"receipt_sha256": receipt["sha256"],
                                "template_count": deleted["templates"],
                                "subject_count": deleted["subjects"],
                                "consents_closed": deleted["consents_closed"]})
            self._commit_or_invalidate(uow)
        return receipt

    # ---- transactions of major personal interest -------------------------------------------

    def review_transaction(self, actor: Actor, deployment_id: str, transaction: str,
                           staff: str | None, outcome: str | None,
                           subject_id: str | None = None) -> dict[str, Any]:
        """A named staff member's manual identity check decides a transaction of major
        personal interest; a face match never approves it alone."""
        if not transaction.strip():
            raise BadInput("name the transaction")
        with self.uow() as uow:
            dep, manifest = self._deployment(uow.session, deployment_id)
            facts = self._deployment_facts(uow.session, actor, "transaction.review", dep,
                                           manifest, transaction=transaction,
                                           manual_check=ManualCheck(staff, outcome))
        decision = self._gate(actor, facts, deployment=deployment_id, subject=subject_id)
        with self.uow() as uow:
            uow.session.add(TransactionRecord(
                deployment_id=deployment_id, transaction=transaction, subject_id=subject_id,
                event="reviewed", staff=staff, outcome=outcome, at=self._now()))
            self._audit(uow.session, actor, "transaction.review", "allowed", decision.rules,
                        deployment=deployment_id, subject=subject_id,
                        detail={"transaction": transaction, "staff": staff,
                                "outcome": outcome})
            uow.commit()
        return {"deployment": deployment_id, "transaction": transaction, "staff": staff,
                "outcome": outcome, "approved": outcome == "confirmed",
                "decision": decision.to_dict()}

    # ---- exports (storage.on-device, storage.separate-identity) ----------------------------

    def export_templates(self, actor: Actor, subject_id: str, basis: str | None,
                         with_identity: bool = False) -> dict[str, Any]:
        """A subject's templates leave the system only under a cited basis, under the
        pseudonym only, and audited."""
        with self.uow() as uow:
            self._subject(uow.session, subject_id)
        facts = Facts(operation="export", pack=self.settings.rule_pack,
                      on=self.settings.today(), actor_role=actor.role,
                      subject=SubjectFacts(subject_id), export_basis=basis,
                      export_with_identity=with_identity)
        decision = self._gate(actor, facts, subject=subject_id,
                              detail={"basis": basis, "with_identity": with_identity})
        permit = decision.permit()
        with self.uow() as uow:
            s = uow.session
            stored = uow.templates.open_for_export(permit, self._dek(s, subject_id), subject_id)
            self._audit(s, actor, "export", "allowed", decision.rules, subject=subject_id,
                        detail={"basis": basis, "template_count": len(stored)})
            uow.commit()
        return {"subject": subject_id, "basis": basis, "templates": [
            {"id": t.id, "deployment": t.deployment_id, "engine": t.engine,
             "model_version": t.model_version, "expires_at": t.expires_at.isoformat(),
             "vector": [round(float(x), 7) for x in t.vector]} for t in stored],
            "decision": decision.to_dict()}


def assessment_view(a: Assessment) -> dict[str, Any]:
    return {"deployment": a.deployment_id, "version": a.version, "purpose": a.purpose,
            "mode": a.mode, "assessor": a.assessor, "assessed_on": a.assessed_on.isoformat(),
            "keep_until": a.keep_until.isoformat(), "sections": dict(a.sections),
            "conclusion": a.conclusion, "stale": a.stale_reason is not None,
            "stale_reason": a.stale_reason}



SECURITY_MEASURES = [
    "Templates encrypted at rest with AES-256-GCM under a per-subject key, itself wrapped by a "
    "master key kept outside the data directory; deleting the key shreds every copy",
    "Identity data (reference, birth date) sealed and stored apart from templates, linked only "
    "by a pseudonym (storage.separate-identity)",
    "No original face image or video is kept: images are decoded in memory and dropped "
    "(images.no-retention)",
    "Role-based API keys (operator, officer, auditor); every operation passes the policy gate",
    "Append-only, SHA-256 hash-chained audit trail, verifiable offline (security.controls)",
    "Automatic deletion when retention ends, on withdrawal and when a deployment ends "
    "(retention.minimum, consent.withdraw)",
]
SECURITY_MEASURES_ZH = [
    "人脸模板以每人独立密钥进行 AES-256-GCM 加密存储，该密钥由存放于数据目录之外的主密钥封装；"
    "删除密钥即令所有副本不可读",
    "身份信息（编号、出生日期）加密后与人脸模板分开存储，仅以假名标识关联（storage.separate-identity）",
    "不保存原始人脸图像或视频：图像仅在内存中解码后即丢弃（images.no-retention）",
    "按角色授权的接口密钥（操作员、合规专员、审计员）；每项操作均经策略闸门判定",
    "只可追加、SHA-256 哈希链式的审计日志，可离线校验（security.controls）",
    "保存期限届满、撤回同意或部署终止时自动删除（retention.minimum、consent.withdraw）",
]
PROCESSING_RULES_ZH = [
    "人脸信息仅在已登记部署中用于声明的目的，并以单独同意或所援引的法律为依据"
    "（purpose.bound、consent.separate、consent.lawful-basis）",
    "任何人均可拒绝人脸识别并使用非生物特征替代方式，服务不受影响"
    "（alternative.required、coercion.prohibited）",
    "不满十四周岁者的人脸信息，仅在取得监护人同意并依处理者的未成年人信息处理规则处理"
    "（consent.guardian-under-14）",
    "撤回同意与删除请求即时执行并出具删除回执（consent.withdraw、rights.delete）；"
    "查阅请求依法答复（rights.access）",
    "不分析种族、民族、宗教信仰、健康状况、社会阶层等敏感个人特征（attributes.sensitive）",
]
PROCESSING_RULES = [
    "Face data is processed only for the declared purpose at the registered deployment, under "
    "a separate consent or a cited law (purpose.bound, consent.separate, consent.lawful-basis)",
    "Every person may refuse and use the non-biometric alternative with no loss of service "
    "(alternative.required, coercion.prohibited)",
    "Persons under 14 are processed only with a guardian's consent under the operator's rules "
    "for minors (consent.guardian-under-14)",
    "Withdrawal and deletion requests are carried out at once, with a deletion receipt "
    "(consent.withdraw, rights.delete); access requests are answered (rights.access)",
    "No analysis of race, ethnicity, religion, health, social class or other sensitive traits "
    "(attributes.sensitive)",
]


class DocumentOps(ComplianceOps):
    """The generated documents (HTML and PDF, Simplified Chinese and English)."""

    def notice_url(self, deployment_id: str) -> str:
        return f"{self.settings.public_url.rstrip('/')}/notice/{deployment_id}"

    def document(self, actor: Actor | None, kind: str, deployment_id: str | None = None,
                 lang: str = "zh", size: str = "A4",
                 receipt: dict[str, Any] | None = None) -> Document:
        """Build a document: ``notice`` and ``sign`` are public (no personal data); the
        assessment, the dossier and receipts need the officer's role."""
        if kind not in DOCUMENT_KINDS:
            raise BadInput(f"kind must be one of {', '.join(DOCUMENT_KINDS)}")
        if lang not in ("zh", "en"):
            raise BadInput("lang must be zh or en")
        if kind not in ("notice", "sign"):
            if actor is None:
                raise BadInput("this document needs an authorised caller")
            self._role_only(actor, "documents", deployment=deployment_id)
        if kind == "receipt":
            if not receipt or "sha256" not in receipt:
                raise BadInput("a deletion receipt is needed (the JSON a withdrawal or "
                               "deletion returned)")
            return documents.deletion_receipt(receipt, lang)
        if kind == "filing":
            return documents.filing_dossier(self._dossier(actor, lang), lang)
        if deployment_id is None:
            raise BadInput(f"a {kind} is made for a deployment: give its id")
        with self.uow() as uow:
            dep, manifest = self._deployment(uow.session, deployment_id)
            raw = manifest.model_dump(mode="json")
            last = self._assessment(uow.session, dep)
            pia = assessment_view(last) if last else None
        if kind == "notice":
            content = self.notice(deployment_id) | {"url": self.notice_url(deployment_id),
                                                    "rule_pack": dep.rule_pack}
            return documents.notice(content, lang)
        if kind == "sign":
            if size not in ("A4", "A3"):
                raise BadInput("size must be A4 or A3")
            return documents.sign(raw, self.notice_url(deployment_id), size)
        if pia is None:
            raise NotFound(f"{deployment_id} has no impact assessment yet",
                           rules=["pia.before-use"])
        return documents.impact_assessment(pia, raw, lang)

    def _dossier(self, actor: Actor | None, lang: str) -> dict[str, Any]:
        assert actor is not None
        status = self.filing_status(actor)
        pack = get_pack(self.settings.rule_pack)
        with self.uow() as uow:
            s = uow.session
            deps = list(s.execute(select(Deployment).where(Deployment.status == "active")
                                  .order_by(Deployment.id)).scalars())
            manifests = [dict(d.manifest) for d in deps]
            assessments = [assessment_view(a) for a in
                           (self._assessment(s, d) for d in deps) if a is not None]
        operator = (manifests[0].get("operator") if manifests else None) or {}
        return {"pack": pack.name, "authority": pack.params["filing_authority"],
                "generated_on": self.settings.today().isoformat(), "operator": operator,
                "persons": status["persons"], "threshold": status["threshold"],
                "crossed_on": status["crossed_on"],
                "due_on": next((t["due_on"] for t in status["tasks"]
                                if t["kind"] == "filing"), None),
                "reasons": status["reasons"], "deployments": manifests,
                "security_measures": SECURITY_MEASURES_ZH if lang == "zh" else SECURITY_MEASURES,
                "processing_rules": PROCESSING_RULES_ZH if lang == "zh" else PROCESSING_RULES,
                "assessments": assessments}


DOCUMENT_KINDS = ("notice", "sign", "pia", "filing", "receipt")
