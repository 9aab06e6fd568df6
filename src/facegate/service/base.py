"""The service's shared machinery: settings, store sessions, the gate call, audit records,
faces and the 1:N index cache. The use cases (``core``, ``compliance``) build on it."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facegate import __version__
from facegate.audit import AuditEntry, append
from facegate.crypto import KeyRing, load_master_key
from facegate.engine import Engine, Face, default_engine, engine_factory
from facegate.errors import (
    BadInput,
    FacegateError,
    NoFace,
    NotFound,
    Refused,
)
from facegate.images import decode_image
from facegate.index import ExactIndex
from facegate.policy import (
    AssessmentFacts,
    ConsentFacts,
    Decision,
    Facts,
    Manifest,
    SubjectFacts,
    decide,
)
from facegate.policy.rules import get_rule
from facegate.service.config import Settings, threshold_for
from facegate.store import db
from facegate.store.models import (
    Assessment,
    Consent,
    Deployment,
    Identity,
    Notice,
    Subject,
    SubjectKey,
    Template,
    TransactionRecord,
)
from facegate.store.repository import generation
from facegate.store.uow import UnitOfWork


@dataclass(frozen=True)
class Actor:
    """Who acts: an API key's name or a CLI user, and the role that decides what they may do."""

    name: str
    role: str


def digest_of(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False,
                                     default=str).encode()).hexdigest()


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def notice_content(m: Manifest) -> dict[str, Any]:
    """The notice a person is shown before capture (``notice.required``), from the manifest."""
    alt = m.alternative
    return {
        "deployment": m.id, "name": m.name,
        "operator": {"name": m.operator.name, "contact": m.operator.contact},
        "purpose": m.purpose, "necessity": m.necessity, "least_impact": m.least_impact,
        "method": {"verify": "1:1 verification against your own template",
                   "identify": "1:N identification against the enrolled gallery"}.get(m.mode),
        "retention_days": m.retention_days,
        "capture_area": m.location.capture_area,
        "alternative": {"method": alt.method, "description": alt.description} if alt else None,
        "rights": {
            "en": "You may refuse face recognition and use the alternative without any loss of "
                  "service; you may withdraw consent at any time, which deletes your face data "
                  "at once; you may ask what face data is held about you and have it deleted. "
                  f"Contact: {m.operator.contact}.",
            "zh": "您可以拒绝人脸识别并使用替代方式，服务不受影响；您可以随时撤回同意，"
                  "撤回后您的人脸信息将立即删除；您可以查阅并要求删除您的人脸信息。"
                  f"联系方式：{m.operator.contact}。",
        },
        "images_kept": False,
    }


ROLES = ("operator", "officer", "auditor", "admin")
LEGAL_BASIS = "legal_basis"  # the method of a record of processing under a cited law


class ServiceBase:
    """State and helpers of one service instance; thread-safe."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self._engine = engine
        url = settings.database_url or db.sqlite_url(settings.data_dir)
        self.db = db.make_engine(url)
        self._sessions = sessionmaker(self.db, expire_on_commit=False)
        self.keyring = KeyRing(load_master_key(settings.data_dir))
        self._indexes: dict[str, tuple[int, ExactIndex]] = {}
        self._index_lock = threading.RLock()

    # ---- set-up -------------------------------------------------------------------------

    @staticmethod
    def initialise(settings: Settings) -> dict[str, Any]:
        """Create the data directory, the master key (outside it) and the schema. Idempotent."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.data_dir.chmod(0o700)
        master = load_master_key(settings.data_dir, create=True)
        engine = db.make_engine(settings.database_url or db.sqlite_url(settings.data_dir))
        try:
            db.upgrade(engine)
        finally:
            engine.dispose()
        return {"data_dir": str(settings.data_dir.resolve()), "master_key": master.source,
                "database": "sqlite" if not settings.database_url else "external",
                "rule_pack": settings.rule_pack, "version": __version__}

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = (engine_factory(self.settings.engine_config)()
                            if self.settings.engine_config is not None else default_engine())
        return self._engine

    def engine_factory(self) -> Callable[[], Engine]:
        """How a worker process builds this service's engine (picklable for "spawn")."""
        if self.settings.engine_config is not None:
            return engine_factory(self.settings.engine_config)
        return type(self.engine)

    def _threshold_for(self, fmr: float) -> float:
        """The calibrated threshold at ``fmr``: the engine's own table (a configured ONNX
        model carries one) or the installation's."""
        own: dict[float, float] = getattr(self.engine, "thresholds", {}) or {}
        if fmr in own:
            return own[fmr]
        return threshold_for(self.engine_key, fmr)

    @property
    def engine_key(self) -> str:
        return f"{self.engine.name}/{self.engine.model_version}"

    @property
    def threshold(self) -> float:
        if self.settings.threshold is not None:
            return self.settings.threshold
        try:
            return self._threshold_for(self.settings.fmr_target)
        except KeyError as e:
            raise BadInput(str(e.args[0])) from None

    def threshold_at(self, manifest: Manifest) -> tuple[float, float]:
        """(threshold, FMR target) at a deployment: its own ``fmr_target`` when stricter
        than the installation's (a large 1:N gallery needs one)."""
        if self.settings.threshold is not None:
            return self.settings.threshold, self.settings.fmr_target
        fmr = min(self.settings.fmr_target, manifest.fmr_target or self.settings.fmr_target)
        try:
            if manifest.fmr_target is not None:  # must be a calibrated target
                self._threshold_for(manifest.fmr_target)
            return self._threshold_for(fmr), fmr
        except KeyError as e:
            raise BadInput(str(e.args[0])) from None

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self._sessions, self.keyring)

    def close(self) -> None:
        self.db.dispose()

    # ---- helpers ------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.settings.clock()

    def _audit(self, s: Session, actor: Actor, operation: str, decision: str,
               rules: Sequence[str] = (), **kw: Any) -> dict[str, Any]:
        return append(s, AuditEntry(actor=actor.name, role=actor.role, operation=operation,
                                    decision=decision, rules=tuple(rules), **kw),
                      now=self._now())

    def _refuse(self, actor: Actor, decision: Decision, *, subject: str | None = None,
                deployment: str | None = None, purpose: str | None = None,
                detail: dict[str, Any] | None = None) -> Refused:
        """Audit a refusal in its own transaction and build the error to raise."""
        with self.uow() as uow:
            self._audit(uow.session, actor, decision.operation, "refused", decision.refused_by,
                        subject=subject, deployment=deployment, purpose=purpose,
                        detail={**(detail or {}), "reasons": [
                            f.reason_en for f in decision.findings if not f.passed]})
            uow.commit()
        err = Refused(decision.message(), rules=decision.refused_by,
                      details={"decision": decision.to_dict(),
                               "remedies": [get_rule(r).remedy_en for r in decision.refused_by
                                            if get_rule(r).remedy_en]})
        err.http_status = decision.status
        return err

    def _gate(self, actor: Actor, facts: Facts, **audit: Any) -> Decision:
        decision = decide(facts)
        if not decision.allowed:
            raise self._refuse(actor, decision, **audit)
        return decision

    def _role_only(self, actor: Actor, operation: str, **audit: Any) -> Decision:
        return self._gate(actor, Facts(operation=operation, pack=self.settings.rule_pack,
                                       on=self.settings.today(), actor_role=actor.role), **audit)

    def _deployment(self, s: Session, deployment_id: str) -> tuple[Deployment, Manifest]:
        dep = s.get(Deployment, deployment_id)
        if dep is None:
            raise NotFound(f"deployment {deployment_id!r} is not registered")
        return dep, Manifest.model_validate(dep.manifest)

    def _subject(self, s: Session, subject_id: str) -> Subject:
        sub = s.get(Subject, subject_id)
        if sub is None or sub.deleted_at is not None:
            raise NotFound(f"subject {subject_id!r} does not exist")
        return sub

    def _dek(self, s: Session, subject_id: str) -> bytes:
        key = s.get(SubjectKey, subject_id)
        return self.keyring.unwrap(subject_id, key.wrapped if key else None)

    def _identity(self, s: Session, subject_id: str) -> tuple[str, date | None]:
        ident = s.get(Identity, subject_id)
        if ident is None:
            raise NotFound(f"subject {subject_id!r} has no identity record")
        dek = self._dek(s, subject_id)
        ref = self.keyring.open(dek, ident.ref_sealed, f"ref:{subject_id}").decode()
        birth = None
        if ident.birth_sealed is not None:
            birth = date.fromisoformat(
                self.keyring.open(dek, ident.birth_sealed, f"birth:{subject_id}").decode())
        return ref, birth

    def _active_consent(self, s: Session, subject_id: str, deployment_id: str) -> Consent | None:
        return s.execute(select(Consent).where(
            Consent.subject_id == subject_id, Consent.deployment_id == deployment_id,
            Consent.withdrawn_at.is_(None)).order_by(Consent.granted_at.desc())
        ).scalars().first()

    @staticmethod
    def _consent_facts(c: Consent | None) -> ConsentFacts | None:
        """A consent for the gate; a record of processing under a cited law is no consent
        (``consent.lawful-basis`` decides on the deployment's legal basis)."""
        if c is None or c.method == LEGAL_BASIS:
            return None
        return ConsentFacts(subject_id=c.subject_id, deployment_id=c.deployment_id,
                            purpose=c.purpose, notice_version=c.notice_version, method=c.method,
                            guardian_ref=c.guardian_ref,
                            guardian_relationship=c.guardian_relationship,
                            withdrawn=c.withdrawn_at is not None, id=c.id)

    def _latest_consent(self, s: Session, subject_id: str, deployment_id: str
                        ) -> Consent | None:
        """The active consent, or else the last withdrawn one (so that ``consent.withdraw``
        can name the withdrawal)."""
        active = self._active_consent(s, subject_id, deployment_id)
        if active is not None:
            return active
        return s.execute(select(Consent).where(
            Consent.subject_id == subject_id, Consent.deployment_id == deployment_id)
            .order_by(Consent.withdrawn_at.desc())).scalars().first()

    def _assessment(self, s: Session, dep: Deployment) -> Assessment | None:
        return s.execute(select(Assessment).where(Assessment.deployment_id == dep.id)
                         .order_by(Assessment.version.desc())).scalars().first()

    def _assessment_facts(self, s: Session, dep: Deployment) -> AssessmentFacts | None:
        """The deployment's latest assessment; stale when the purpose or method it assessed
        is no longer the deployment's, or an incident was recorded (``pia.before-use``)."""
        a = self._assessment(s, dep)
        if a is None:
            return None
        reason = a.stale_reason
        if a.purpose != dep.purpose:
            reason = f"purpose changed from {a.purpose} to {dep.purpose}"
        elif a.mode != dep.mode:
            reason = f"method changed from {a.mode} to {dep.mode}"
        return AssessmentFacts(a.version, a.assessed_on, a.keep_until, reason is not None,
                               reason)

    def _transaction_declined(self, s: Session, deployment_id: str,
                              transaction: str | None) -> bool:
        if not transaction:
            return False
        return s.execute(select(TransactionRecord.id).where(
            TransactionRecord.deployment_id == deployment_id,
            TransactionRecord.transaction == transaction,
            TransactionRecord.event == "declined")).first() is not None

    def _deployment_facts(self, s: Session, actor: Actor | None, operation: str,
                          dep: Deployment, manifest: Manifest, **extra: Any) -> Facts:
        """Facts of an operation at a deployment: its state, assessment and transaction."""
        declined = self._transaction_declined(s, dep.id, extra.get("transaction"))
        return Facts(operation=operation, pack=dep.rule_pack, on=self.settings.today(),
                     actor_role=actor.role if actor else None, deployment=manifest,
                     deployment_active=dep.status == "active",
                     deployment_terminated=dep.status == "terminated",
                     assessment=self._assessment_facts(s, dep),
                     declined_in_transaction=declined, **extra)

    def _use_facts(self, s: Session, actor: Actor, operation: str, subject_id: str,
                   deployment_id: str, purpose: str | None,
                   attributes: Sequence[str] = (), **extra: Any) -> tuple[Facts, Deployment]:
        dep, manifest = self._deployment(s, deployment_id)
        self._subject(s, subject_id)
        _, birth = self._identity(s, subject_id)
        consent = self._latest_consent(s, subject_id, deployment_id)
        if operation == "enrol":
            extra["overdue_filings"] = self._overdue_filings(s, dep.rule_pack)
        return self._deployment_facts(
            s, actor, operation, dep, manifest, subject=SubjectFacts(subject_id, birth),
            consent=self._consent_facts(consent), purpose=purpose,
            requested_attributes=tuple(attributes), **extra), dep

    def _overdue_filings(self, s: Session, pack: str) -> tuple[str, ...]:
        """Kinds of filing tasks past their due date (``filing.threshold``,
        ``filing.change``); defined by the compliance use cases."""
        return ()

    def notice(self, deployment_id: str, version: int | None = None) -> dict[str, Any]:
        """The public notice (no personal data)."""
        with self.uow() as uow:
            dep, _ = self._deployment(uow.session, deployment_id)
            n = uow.session.execute(select(Notice).where(
                Notice.deployment_id == deployment_id,
                Notice.version == (version or dep.notice_version))).scalar_one_or_none()
            if n is None:
                raise NotFound(f"deployment {deployment_id!r} has no notice version {version}")
            return {"version": n.version, "digest": n.digest, **n.content}

    def _check_attributes(self, actor: Actor, operation: str, attributes: Sequence[str],
                          **audit: Any) -> None:
        """Refuse (and audit) any request for face attributes (``attributes.sensitive``)."""
        if attributes:
            self._gate(actor, Facts(operation="attributes", pack=self.settings.rule_pack,
                                    on=self.settings.today(),
                                    requested_attributes=tuple(attributes)),
                       **audit, detail={"operation": operation})

    # ---- faces --------------------------------------------------------------------------

    def _faces(self, data: bytes) -> list[Face]:
        """Decode in memory, detect and embed; the pixels are dropped on return
        (``images.no-retention``)."""
        image = decode_image(data, self.settings.image_limits)
        try:
            return self.engine.analyse(image)
        finally:
            del image

    def _probe(self, data: bytes) -> tuple[Face, int]:
        faces = self._faces(data)
        if not faces:
            raise NoFace("no face was found in the image")
        return faces[0], len(faces)

    def _basis_record(self, s: Session, subject_id: str, deployment_id: str) -> str | None:
        """The record of processing under a cited law, if the subject has one here."""
        c = self._active_consent(s, subject_id, deployment_id)
        return c.id if c is not None and c.method == LEGAL_BASIS else None

    def _audit_error(self, actor: Actor, operation: str, err: FacegateError,
                     subject: str | None, deployment: str | None) -> None:
        with self.uow() as uow:
            self._audit(uow.session, actor, operation, "error", err.rules, subject=subject,
                        deployment=deployment, detail={"error": err.code})
            uow.commit()

    def _receipt(self, operation: str, subject_id: str, now: datetime,
                 gone: list[Template], index_entries: int, **extra: Any) -> dict[str, Any]:
        body = {
            "operation": operation, "subject": subject_id, "at": now.isoformat(),
            "deleted": {"templates": [t.id for t in gone], "index_entries": index_entries,
                        **{k: v for k, v in extra.items() if k != "deployments"}},
            "deployments": extra.get("deployments", sorted({t.deployment_id for t in gone})),
            "rules": ["consent.withdraw", "rights.delete"],
            "rule_pack": self.settings.rule_pack,
        }
        return {**body, "sha256": digest_of(body)}

    def _index_for(self, uow: UnitOfWork, decision: Decision, deployment_id: str
                   ) -> ExactIndex:
        """The deployment's in-memory index, rebuilt from the store when another process (or
        this one) changed its templates since it was built."""
        s = uow.session
        gen = generation(s, deployment_id)
        cached = self._indexes.get(deployment_id)
        if cached is not None and cached[0] == gen:
            return cached[1]
        index = ExactIndex(self.engine.dim)
        keys = s.execute(select(SubjectKey)).scalars()
        deks = {k.subject_id: self.keyring.unwrap(k.subject_id, k.wrapped) for k in keys}
        for t in uow.templates.open_for_index(decision.permit(), deployment_id,
                                              self.engine.name, self.engine.model_version, deks,
                                              self._now()):
            index.add(t.id, t.subject_id, t.vector)
        self._indexes[deployment_id] = (gen, index)
        return index

    def _generations(self, s: Session) -> dict[str, int]:
        """Store generations of the deployments this process holds an index for."""
        return {dep: generation(s, dep) for dep in self._indexes}

    def _drop_from_indexes(self, s: Session, before: dict[str, int], subject_id: str,
                           deployment_ids: list[str] | None = None) -> int:
        """Remove a subject from the in-memory indexes inside the deleting transaction.
        ``before``: the generations read before the store change, to tell a fresh index
        (advanced to the new generation) from a stale one (dropped, rebuilt on next use)."""
        n = 0
        for dep, (gen, index) in list(self._indexes.items()):
            if deployment_ids is not None and dep not in deployment_ids:
                continue
            n += index.remove_subject(subject_id)
            if gen == before.get(dep):
                self._indexes[dep] = (generation(s, dep), index)
            else:
                del self._indexes[dep]
        return n

    def _commit_or_invalidate(self, uow: UnitOfWork) -> None:
        """Commit a deletion; if the commit fails, drop the in-memory indexes so they are
        rebuilt from the store (which still holds what was not deleted)."""
        try:
            uow.commit()
        except Exception:
            self._indexes.clear()
            raise


def deployment_view(d: Deployment) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "purpose": d.purpose, "mode": d.mode,
            "rule_pack": d.rule_pack, "status": d.status, "notice_version": d.notice_version,
            "updated_at": d.updated_at.isoformat()}


def consent_view(c: Consent) -> dict[str, Any]:
    return {"id": c.id, "subject": c.subject_id, "deployment": c.deployment_id,
            "purpose": c.purpose, "notice_version": c.notice_version, "method": c.method,
            "storage_location": c.storage_location, "guardian_ref": c.guardian_ref,
            "guardian_relationship": c.guardian_relationship,
            "granted_at": c.granted_at.isoformat(), "granted_by": c.granted_by,
            "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None,
            "active": c.withdrawn_at is None}


def template_view(t: Template) -> dict[str, Any]:
    return {"id": t.id, "deployment": t.deployment_id, "engine": t.engine,
            "model_version": t.model_version, "created_at": t.created_at.isoformat(),
            "expires_at": t.expires_at.isoformat(), "quality": t.quality}


def quality_view(face: Face) -> dict[str, Any]:
    q = face.quality
    return {"size": q.size, "detector_score": round(q.detector_score, 3),
            "sharpness": round(q.sharpness, 1), "brightness": round(q.brightness, 1),
            "yaw": round(q.yaw, 1), "roll": round(q.roll, 1), "pitch": round(q.pitch, 1),
            "issues": list(q.issues), "detector": face.detector}


def face_view(face: Face) -> dict[str, Any]:
    b = face.box
    return {"box": {"left": b.left, "top": b.top, "right": b.right, "bottom": b.bottom},
            "quality": quality_view(face)}
