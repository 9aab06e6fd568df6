"""The use cases. Every operation: gather facts, ask the gate, act through the store in one
transaction with its audit record, and keep the 1:N index in step.

Interfaces (``api``, ``cli``) call only this layer; only this layer calls the gate.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from facegate import __version__
from facegate.audit import AuditEntry, append, tail, verify_chain
from facegate.crypto import KeyRing, load_master_key
from facegate.engine import Engine, Face, default_engine
from facegate.errors import (
    BadInput,
    Conflict,
    FacegateError,
    NoFace,
    NotFound,
    PoorQuality,
    Refused,
    TooManyFaces,
)
from facegate.images import decode_image
from facegate.index import ExactIndex
from facegate.policy import ConsentFacts, Decision, Facts, Manifest, SubjectFacts, decide
from facegate.policy.rules import get_rule
from facegate.service.config import DEFAULT_THRESHOLDS, Settings
from facegate.store import db
from facegate.store.models import (
    ApiKey,
    Consent,
    Deployment,
    Identity,
    Notice,
    Subject,
    SubjectKey,
    Template,
)
from facegate.store.repository import generation
from facegate.store.uow import UnitOfWork

ROLES = ("operator", "officer", "auditor", "admin")


@dataclass(frozen=True)
class Actor:
    """Who acts: an API key's name or a CLI user, and the role that decides what they may do."""

    name: str
    role: str


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False,
                                     default=str).encode()).hexdigest()


def _key_digest(key: str) -> str:
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


class Facegate:
    """The service: one per process; thread-safe."""

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
            self._engine = default_engine()
        return self._engine

    @property
    def engine_key(self) -> str:
        return f"{self.engine.name}/{self.engine.model_version}"

    @property
    def threshold(self) -> float:
        if self.settings.threshold is not None:
            return self.settings.threshold
        return DEFAULT_THRESHOLDS[self.engine_key]

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
        if c is None:
            return None
        return ConsentFacts(subject_id=c.subject_id, deployment_id=c.deployment_id,
                            purpose=c.purpose, notice_version=c.notice_version, method=c.method,
                            guardian_ref=c.guardian_ref,
                            guardian_relationship=c.guardian_relationship,
                            withdrawn=c.withdrawn_at is not None, id=c.id)

    def _use_facts(self, s: Session, actor: Actor, operation: str, subject_id: str,
                   deployment_id: str, purpose: str | None,
                   attributes: Sequence[str] = ()) -> tuple[Facts, Deployment]:
        dep, manifest = self._deployment(s, deployment_id)
        self._subject(s, subject_id)
        _, birth = self._identity(s, subject_id)
        consent = self._active_consent(s, subject_id, deployment_id)
        return Facts(operation=operation, pack=dep.rule_pack, on=self.settings.today(),
                     actor_role=actor.role, deployment=manifest,
                     deployment_active=dep.status == "active",
                     subject=SubjectFacts(subject_id, birth),
                     consent=self._consent_facts(consent), purpose=purpose,
                     requested_attributes=tuple(attributes)), dep

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

    def detect(self, actor: Actor, data: bytes,
               attributes: Sequence[str] = ()) -> dict[str, Any]:
        """Faces, boxes and quality; no template is kept and no attribute is analysed."""
        self._check_attributes(actor, "detect", attributes)
        self._role_only(actor, "detect")
        image = decode_image(data, self.settings.image_limits)
        faces = self.engine.detect(image)
        height, width = image.shape[:2]
        del image
        with self.uow() as uow:
            self._audit(uow.session, actor, "detect", "allowed", ["images.no-retention"],
                        detail={"faces": len(faces)})
            uow.commit()
        return {"width": width, "height": height,
                "faces": [_face_dict(f) for f in faces]}

    def request_attributes(self, actor: Actor, names: Sequence[str]) -> None:
        """There is no attribute analysis: every request is refused and audited."""
        self._check_attributes(actor, "detect", list(names) or ["unspecified"])
        raise BadInput("facegate computes no face attributes")  # pragma: no cover

    # ---- deployments --------------------------------------------------------------------

    def parse_manifest(self, raw: dict[str, Any]) -> Manifest:
        try:
            return Manifest.model_validate(raw)
        except ValidationError as e:
            problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                        for err in e.errors()]
            raise BadInput("the manifest is not valid: " + "; ".join(problems),
                           details={"problems": problems}) from None

    def check_deployment(self, raw: dict[str, Any], pack: str | None = None,
                         actor: Actor | None = None) -> Decision:
        m = self.parse_manifest(raw)
        return decide(Facts(operation="deployment.apply",
                            pack=pack or m.rule_pack or self.settings.rule_pack,
                            on=self.settings.today(),
                            actor_role=actor.role if actor else None, deployment=m))

    def apply_deployment(self, actor: Actor, raw: dict[str, Any]) -> dict[str, Any]:
        m = self.parse_manifest(raw)
        pack = m.rule_pack or self.settings.rule_pack
        decision = self._gate(actor, Facts(operation="deployment.apply", pack=pack,
                                           on=self.settings.today(), actor_role=actor.role,
                                           deployment=m),
                              deployment=m.id, purpose=m.purpose,
                              detail={"pack": pack})
        now = self._now()
        content = notice_content(m)
        with self.uow() as uow:
            s = uow.session
            dep = s.get(Deployment, m.id)
            created = dep is None
            manifest_json = m.model_dump(mode="json")
            if dep is None:
                dep = Deployment(id=m.id, created_at=now, notice_version=0)
                s.add(dep)
            dep.name, dep.rule_pack, dep.purpose = m.name, pack, m.purpose or ""
            dep.mode, dep.status, dep.manifest, dep.updated_at = m.mode, "active", \
                manifest_json, now
            current = s.execute(select(Notice).where(
                Notice.deployment_id == m.id, Notice.version == dep.notice_version)
            ).scalar_one_or_none()
            digest = _digest(content)
            if current is None or current.digest != digest:
                dep.notice_version += 1
                s.add(Notice(deployment_id=m.id, version=dep.notice_version, content=content,
                             digest=digest, created_at=now))
            s.flush()
            self._audit(s, actor, "deployment.apply", "allowed", decision.rules,
                        deployment=m.id, purpose=m.purpose,
                        detail={"pack": pack, "created": created,
                                "notice_version": dep.notice_version,
                                "manifest_sha256": _digest(manifest_json)})
            uow.commit()
            return {"id": m.id, "status": dep.status, "created": created, "pack": pack,
                    "notice_version": dep.notice_version, "decision": decision.to_dict()}

    def list_deployments(self, actor: Actor) -> list[dict[str, Any]]:
        self._role_only(actor, "deployment.read")
        with self.uow() as uow:
            deps = uow.session.execute(select(Deployment).order_by(Deployment.id)).scalars()
            return [_deployment_dict(d) for d in deps]

    def get_deployment(self, actor: Actor, deployment_id: str) -> dict[str, Any]:
        self._role_only(actor, "deployment.read")
        with self.uow() as uow:
            dep, _ = self._deployment(uow.session, deployment_id)
            out = _deployment_dict(dep)
            out["manifest"] = dep.manifest
            return out

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

    # ---- subjects -----------------------------------------------------------------------

    def add_subject(self, actor: Actor, ref: str, birth_date: date | None = None
                    ) -> dict[str, Any]:
        ref = (ref or "").strip()
        if not ref:
            raise BadInput("a subject needs an external reference (--ref)")
        if len(ref) > 200:
            raise BadInput("the external reference is longer than 200 characters")
        if birth_date is not None and birth_date > self.settings.today():
            raise BadInput("the birth date is in the future")
        self._role_only(actor, "subject.add")
        now = self._now()
        sid = "sub_" + secrets.token_hex(10)
        with self.uow() as uow:
            s = uow.session
            digest = self.keyring.ref_digest(ref)
            existing = s.execute(select(Identity).where(Identity.ref_digest == digest)
                                 ).scalar_one_or_none()
            if existing is not None:
                raise Conflict(f"a subject with this reference exists: {existing.subject_id}",
                               details={"id": existing.subject_id})
            dek, wrapped = self.keyring.new_subject_key(sid)
            s.add(Subject(id=sid, created_at=now))
            s.flush()
            s.add(SubjectKey(subject_id=sid, wrapped=wrapped, created_at=now))
            s.add(Identity(
                subject_id=sid, ref_digest=digest,
                ref_sealed=self.keyring.seal(dek, ref.encode(), f"ref:{sid}"),
                birth_sealed=self.keyring.seal(dek, birth_date.isoformat().encode(),
                                               f"birth:{sid}") if birth_date else None))
            self._audit(s, actor, "subject.add", "allowed", ["storage.separate-identity"],
                        subject=sid)
            uow.commit()
        return {"id": sid, "created_at": now.isoformat()}

    def find_subject(self, actor: Actor, ref: str) -> str:
        self._role_only(actor, "subject.read")
        with self.uow() as uow:
            ident = uow.session.execute(select(Identity).where(
                Identity.ref_digest == self.keyring.ref_digest(ref))).scalar_one_or_none()
            if ident is None:
                raise NotFound("no subject has this reference")
            self._audit(uow.session, actor, "subject.find", "allowed", ["rights.access"],
                        subject=ident.subject_id)
            uow.commit()
            return ident.subject_id

    def show_subject(self, actor: Actor, subject_id: str) -> dict[str, Any]:
        """What is held about a subject (``rights.access``); never the template values."""
        decision = self._role_only(actor, "subject.read", subject=subject_id)
        with self.uow() as uow:
            s = uow.session
            sub = self._subject(s, subject_id)
            ref, birth = self._identity(s, subject_id)
            consents = s.execute(select(Consent).where(Consent.subject_id == subject_id)
                                 .order_by(Consent.granted_at)).scalars()
            templates = uow.templates.metadata(decision.permit(), subject_id)
            out = {
                "id": sub.id, "ref": ref, "birth_date": birth.isoformat() if birth else None,
                "created_at": sub.created_at.isoformat(),
                "consents": [_consent_dict(c) for c in consents],
                "templates": [_template_dict(t) for t in templates],
            }
            self._audit(s, actor, "subject.read", "allowed", ["rights.access"],
                        subject=subject_id)
            uow.commit()
            return out

    def delete_subject(self, actor: Actor, subject_id: str) -> dict[str, Any]:
        """Delete everything about a subject: templates, index entries, key, identity
        (``rights.delete``, ``consent.withdraw``). Returns a deletion receipt."""
        decision = self._role_only(actor, "subject.delete", subject=subject_id)
        permit = decision.permit()
        now = self._now()
        with self.uow() as uow, self._index_lock:
            s = uow.session
            sub = self._subject(s, subject_id)
            before = self._generations(s)
            gone = uow.templates.delete(permit, subject_id)
            s.flush()
            index_entries = self._drop_from_indexes(s, before, subject_id)
            withdrawn = 0
            for c in s.execute(select(Consent).where(Consent.subject_id == subject_id,
                                                     Consent.withdrawn_at.is_(None))).scalars():
                c.withdrawn_at = now
                withdrawn += 1
            for row in (s.get(Identity, subject_id), s.get(SubjectKey, subject_id)):
                if row is not None:
                    s.delete(row)
            sub.deleted_at = now
            receipt = self._receipt("subject.delete", subject_id, now, gone, index_entries,
                                    consents_withdrawn=withdrawn, key_destroyed=True,
                                    identity_deleted=True)
            self._audit(s, actor, "subject.delete", "allowed",
                        ["rights.delete", "consent.withdraw"], subject=subject_id,
                        detail={"receipt_sha256": receipt["sha256"],
                                "templates_deleted": len(gone)})
            self._commit_or_invalidate(uow)
        return receipt

    # ---- consents -----------------------------------------------------------------------

    def grant_consent(self, actor: Actor, subject_id: str, deployment_id: str, purpose: str,
                      method: str = "electronic", guardian_ref: str | None = None,
                      guardian_relationship: str | None = None,
                      notice_version: int | None = None,
                      storage_location: str = "on-premises") -> dict[str, Any]:
        now = self._now()
        with self.uow() as uow:
            s = uow.session
            dep, manifest = self._deployment(s, deployment_id)
            self._subject(s, subject_id)
            _, birth = self._identity(s, subject_id)
            shown = notice_version if notice_version is not None else dep.notice_version
            requested = ConsentFacts(subject_id=subject_id, deployment_id=deployment_id,
                                     purpose=purpose, notice_version=shown, method=method,
                                     guardian_ref=guardian_ref,
                                     guardian_relationship=guardian_relationship)
            facts = Facts(operation="consent.grant", pack=dep.rule_pack,
                          on=self.settings.today(), actor_role=actor.role, deployment=manifest,
                          deployment_active=dep.status == "active",
                          subject=SubjectFacts(subject_id, birth), consent=requested,
                          purpose=purpose, current_notice_version=dep.notice_version)
        decision = self._gate(actor, facts, subject=subject_id, deployment=deployment_id,
                              purpose=purpose)
        with self.uow() as uow:
            s = uow.session
            if self._active_consent(s, subject_id, deployment_id) is not None:
                raise Conflict(f"subject {subject_id} already has an active consent for "
                               f"{deployment_id}; withdraw it first to record a new one")
            c = Consent(id="con_" + uuid.uuid4().hex[:20], subject_id=subject_id,
                        deployment_id=deployment_id, purpose=purpose, notice_version=shown,
                        method=method, storage_location=storage_location,
                        guardian_ref=guardian_ref, guardian_relationship=guardian_relationship,
                        granted_at=now, granted_by=actor.name)
            s.add(c)
            s.flush()
            self._audit(s, actor, "consent.grant", "allowed", decision.rules,
                        subject=subject_id, deployment=deployment_id, purpose=purpose,
                        detail={"consent": c.id, "notice_version": shown, "method": method,
                                "guardian": guardian_ref is not None})
            uow.commit()
            return {**_consent_dict(c), "decision": decision.to_dict()}

    def list_consents(self, actor: Actor, subject_id: str | None = None,
                      deployment_id: str | None = None) -> list[dict[str, Any]]:
        self._role_only(actor, "consent.read")
        with self.uow() as uow:
            q = select(Consent).order_by(Consent.granted_at)
            if subject_id:
                q = q.where(Consent.subject_id == subject_id)
            if deployment_id:
                q = q.where(Consent.deployment_id == deployment_id)
            return [_consent_dict(c) for c in uow.session.execute(q).scalars()]

    def withdraw_consent(self, actor: Actor, subject_id: str,
                         deployment_id: str | None = None) -> dict[str, Any]:
        """Withdraw (one deployment, or all): templates and index entries are gone, and the
        subject's key is replaced, before this returns (``consent.withdraw``)."""
        decision = self._role_only(actor, "consent.withdraw", subject=subject_id,
                                   deployment=deployment_id)
        permit = decision.permit()
        now = self._now()
        with self.uow() as uow, self._index_lock:
            s = uow.session
            self._subject(s, subject_id)
            q = select(Consent).where(Consent.subject_id == subject_id,
                                      Consent.withdrawn_at.is_(None))
            if deployment_id is not None:
                self._deployment(s, deployment_id)
                q = q.where(Consent.deployment_id == deployment_id)
            consents = list(s.execute(q).scalars())
            if not consents:
                raise NotFound(f"subject {subject_id} has no active consent"
                               + (f" for {deployment_id}" if deployment_id else ""))
            deps = sorted({c.deployment_id for c in consents})
            for c in consents:
                c.withdrawn_at = now
            before = self._generations(s)
            gone = uow.templates.delete(permit, subject_id, deps)
            s.flush()
            index_entries = self._drop_from_indexes(s, before, subject_id, deps)
            # Crypto-shredding: a new key for what remains; the old key, and with it every
            # copy of the withdrawn templates (backups included), is destroyed.
            key = s.get(SubjectKey, subject_id)
            old = self.keyring.unwrap(subject_id, key.wrapped if key else None)
            new, wrapped = self.keyring.new_subject_key(subject_id)
            uow.templates.reseal(permit, subject_id, old, new)
            ident = s.get(Identity, subject_id)
            if ident is not None:
                ident.ref_sealed = self.keyring.seal(
                    new, self.keyring.open(old, ident.ref_sealed, f"ref:{subject_id}"),
                    f"ref:{subject_id}")
                if ident.birth_sealed is not None:
                    ident.birth_sealed = self.keyring.seal(
                        new, self.keyring.open(old, ident.birth_sealed, f"birth:{subject_id}"),
                        f"birth:{subject_id}")
            assert key is not None
            key.wrapped, key.created_at = wrapped, now
            receipt = self._receipt("consent.withdraw", subject_id, now, gone, index_entries,
                                    deployments=deps, consents_withdrawn=len(consents),
                                    key_destroyed=True)
            for dep in deps:
                self._audit(s, actor, "consent.withdraw", "allowed", ["consent.withdraw"],
                            subject=subject_id, deployment=dep,
                            detail={"receipt_sha256": receipt["sha256"],
                                    "templates_deleted": sum(t.deployment_id == dep for t in gone)})
            self._commit_or_invalidate(uow)
        return receipt

    def _receipt(self, operation: str, subject_id: str, now: datetime,
                 gone: list[Template], index_entries: int, **extra: Any) -> dict[str, Any]:
        body = {
            "operation": operation, "subject": subject_id, "at": now.isoformat(),
            "deleted": {"templates": [t.id for t in gone], "index_entries": index_entries,
                        **{k: v for k, v in extra.items() if k != "deployments"}},
            "deployments": extra.get("deployments", sorted({t.deployment_id for t in gone})),
            "rules": ["consent.withdraw", "rights.delete"],
        }
        return {**body, "sha256": _digest(body)}

    # ---- enrolment and matching ---------------------------------------------------------

    def enrol(self, actor: Actor, subject_id: str, deployment_id: str, images: Sequence[bytes],
              purpose: str | None = None, attributes: Sequence[str] = ()) -> dict[str, Any]:
        if not images:
            raise BadInput("enrolment needs at least one image")
        self._check_attributes(actor, "enrol", attributes, subject=subject_id,
                               deployment=deployment_id)
        with self.uow() as uow:
            facts, _ = self._use_facts(uow.session, actor, "enrol", subject_id, deployment_id,
                                       purpose)
        self._gate(actor, facts, subject=subject_id, deployment=deployment_id,
                   purpose=facts.deployment.purpose if facts.deployment else None)
        accepted: list[tuple[int, Face]] = []
        rejected: list[dict[str, Any]] = []
        for i, data in enumerate(images):
            try:
                faces = self._faces(data)
                if not faces:
                    raise NoFace("no face was found in the image")
                if len(faces) > 1:
                    raise TooManyFaces(f"{len(faces)} faces were found; enrolment needs "
                                       "exactly one")
                face = faces[0]
                if not face.quality.acceptable:
                    raise PoorQuality("the face is not good enough to enrol: "
                                      + ", ".join(face.quality.issues),
                                      details={"issues": list(face.quality.issues)})
                accepted.append((i, face))
            except BadInput as e:
                if len(images) == 1:
                    self._audit_error(actor, "enrol", e, subject_id, deployment_id)
                    raise
                rejected.append({"image": i, "error": e.code, "message": e.message,
                                 **({"issues": e.details["issues"]} if "issues" in e.details
                                    else {})})
        if not accepted:
            err = PoorQuality("no image could be enrolled", details={"rejected": rejected})
            self._audit_error(actor, "enrol", err, subject_id, deployment_id)
            raise err
        now = self._now()
        with self.uow() as uow:
            s = uow.session
            # Decide again inside the write transaction: the consent may have been withdrawn
            # while the images were being processed.
            facts, dep = self._use_facts(s, actor, "enrol", subject_id, deployment_id, purpose)
            decision = decide(facts)
            if not decision.allowed:
                uow.rollback()
                raise self._refuse(actor, decision, subject=subject_id,
                                   deployment=deployment_id)
            assert facts.consent is not None and facts.consent.id is not None
            assert facts.deployment is not None
            permit = decision.permit()
            gen_before = generation(s, deployment_id)
            dek = self._dek(s, subject_id)
            days = facts.deployment.retention_days or 365
            expires = now + timedelta(days=days)
            created: list[dict[str, Any]] = []
            for i, face in accepted:
                assert face.embedding is not None
                tid = uow.templates.add(
                    permit, subject_id=subject_id, deployment_id=deployment_id,
                    consent_id=facts.consent.id, engine=self.engine.name,
                    model_version=self.engine.model_version, vector=face.embedding,
                    quality=_quality_dict(face), dek=dek, now=now, expires_at=expires)
                created.append({"id": tid, "image": i, "quality": _quality_dict(face)})
            self._audit(s, actor, "enrol", "allowed", decision.rules, subject=subject_id,
                        deployment=deployment_id, purpose=dep.purpose,
                        detail={"template_ids": [c["id"] for c in created],
                                "rejected": len(rejected), "engine": self.engine_key})
            s.flush()
            gen_after = generation(s, deployment_id)
            uow.commit()
        with self._index_lock:
            cached = self._indexes.get(deployment_id)
            if cached is not None and cached[0] == gen_before:
                for (_, face), c in zip(accepted, created, strict=True):
                    assert face.embedding is not None
                    cached[1].add(str(c["id"]), subject_id, face.embedding)
                self._indexes[deployment_id] = (gen_after, cached[1])
            else:
                self._indexes.pop(deployment_id, None)
        return {"subject": subject_id, "deployment": deployment_id, "templates": created,
                "rejected": rejected, "engine": self.engine.name,
                "model_version": self.engine.model_version, "expires_at": expires.isoformat(),
                "decision": decision.to_dict()}

    def _audit_error(self, actor: Actor, operation: str, err: FacegateError,
                     subject: str | None, deployment: str | None) -> None:
        with self.uow() as uow:
            self._audit(uow.session, actor, operation, "error", err.rules, subject=subject,
                        deployment=deployment, detail={"error": err.code})
            uow.commit()

    def verify(self, actor: Actor, subject_id: str, deployment_id: str, image: bytes,
               purpose: str | None = None, attributes: Sequence[str] = ()) -> dict[str, Any]:
        """1:1: does the face in ``image`` belong to the claimed subject?"""
        self._check_attributes(actor, "verify", attributes, subject=subject_id,
                               deployment=deployment_id)
        with self.uow() as uow:
            facts, dep = self._use_facts(uow.session, actor, "verify", subject_id,
                                         deployment_id, purpose)
        decision = self._gate(actor, facts, subject=subject_id, deployment=deployment_id,
                              purpose=dep.purpose)
        try:
            face, n_faces = self._probe(image)
        except BadInput as e:
            self._audit_error(actor, "verify", e, subject_id, deployment_id)
            raise
        assert face.embedding is not None
        with self.uow() as uow:
            s = uow.session
            stored = uow.templates.open_for_subject(
                decision.permit(), self._dek(s, subject_id), subject_id, deployment_id,
                self.engine.name, self.engine.model_version)
            if not stored:
                raise NotFound(f"subject {subject_id} has no template from engine "
                               f"{self.engine_key} at {deployment_id}; enrol first")
            score = max(float(np.dot(t.vector, face.embedding)) for t in stored)
            match = score >= self.threshold
            self._audit(s, actor, "verify", "allowed", decision.rules, subject=subject_id,
                        deployment=deployment_id, purpose=dep.purpose,
                        detail={"match": match, "score": round(score, 4),
                                "threshold": self.threshold})
            uow.commit()
        return {"subject": subject_id, "deployment": deployment_id, "match": match,
                "score": round(score, 6), "threshold": self.threshold,
                "faces_detected": n_faces, "engine": self.engine_key,
                "decision": decision.to_dict()}

    def identify(self, actor: Actor, deployment_id: str, image: bytes, top: int = 5,
                 purpose: str | None = None, attributes: Sequence[str] = ()) -> dict[str, Any]:
        """1:N over the templates consented for this deployment only; nothing below the
        threshold is returned."""
        if not 1 <= top <= 100:
            raise BadInput("top must be between 1 and 100")
        self._check_attributes(actor, "identify", attributes, deployment=deployment_id)
        with self.uow() as uow:
            dep, manifest = self._deployment(uow.session, deployment_id)
            facts = Facts(operation="identify", pack=dep.rule_pack, on=self.settings.today(),
                          actor_role=actor.role, deployment=manifest,
                          deployment_active=dep.status == "active", purpose=purpose)
        decision = self._gate(actor, facts, deployment=deployment_id, purpose=dep.purpose)
        try:
            face, n_faces = self._probe(image)
        except BadInput as e:
            self._audit_error(actor, "identify", e, None, deployment_id)
            raise
        assert face.embedding is not None
        with self.uow() as uow, self._index_lock:
            s = uow.session
            index = self._index_for(uow, decision, deployment_id)
            hits = [h for h in index.search(face.embedding, top) if h.score >= self.threshold]
            candidates = []
            for h in hits:
                # Each candidate passes the gate on its own consent (``purpose.bound``).
                sub = s.get(Subject, h.subject_id)
                if sub is None or sub.deleted_at is not None:
                    continue
                c = self._active_consent(s, h.subject_id, deployment_id)
                if s.get(Template, h.template_id) is None:
                    continue
                d = decide(Facts(operation="identify.match", pack=dep.rule_pack,
                                 on=self.settings.today(), deployment=manifest,
                                 subject=SubjectFacts(h.subject_id),
                                 consent=self._consent_facts(c)))
                if d.allowed:
                    candidates.append({"subject": h.subject_id, "score": round(h.score, 6)})
            self._audit(s, actor, "identify", "allowed", decision.rules,
                        deployment=deployment_id, purpose=dep.purpose,
                        subject=candidates[0]["subject"] if candidates else None,
                        detail={"candidates": [c["subject"] for c in candidates],
                                "top": top, "threshold": self.threshold})
            uow.commit()
        return {"deployment": deployment_id, "candidates": candidates,
                "threshold": self.threshold, "faces_detected": n_faces,
                "engine": self.engine_key, "decision": decision.to_dict()}

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
                                              self.engine.name, self.engine.model_version, deks):
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

    def decline(self, actor: Actor, deployment_id: str, subject_id: str | None = None
                ) -> dict[str, Any]:
        """The person chooses the alternative: recorded, never penalised."""
        with self.uow() as uow:
            dep, manifest = self._deployment(uow.session, deployment_id)
        decision = self._role_only(actor, "decline", deployment=deployment_id,
                                   subject=subject_id)
        with self.uow() as uow:
            self._audit(uow.session, actor, "decline", "allowed",
                        [*decision.rules, "alternative.required"], subject=subject_id,
                        deployment=deployment_id, purpose=dep.purpose)
            uow.commit()
        alt = manifest.alternative
        return {"deployment": deployment_id, "recorded": True,
                "alternative": {"method": alt.method, "description": alt.description}
                if alt else None,
                "message": "The person chose the alternative; serve them by it, with no loss "
                           "of service."}

    # ---- audit and keys -----------------------------------------------------------------

    def audit_verify(self, actor: Actor) -> dict[str, Any]:
        self._role_only(actor, "audit.verify")
        with self.uow() as uow:
            return verify_chain(uow.session).to_dict()

    def audit_tail(self, actor: Actor, n: int = 20, **filters: Any) -> list[dict[str, Any]]:
        self._role_only(actor, "audit.read")
        with self.uow() as uow:
            return tail(uow.session, n, **filters)

    def create_key(self, actor: Actor, name: str, role: str) -> dict[str, Any]:
        if role not in ROLES:
            raise BadInput(f"role must be one of {', '.join(ROLES)}")
        self._role_only(actor, "key.manage")
        key = "fg_" + secrets.token_urlsafe(32)
        kid = "key_" + secrets.token_hex(6)
        with self.uow() as uow:
            uow.session.add(ApiKey(id=kid, name=name, role=role, digest=_key_digest(key),
                                   created_at=self._now()))
            self._audit(uow.session, actor, "key.create", "allowed", ["security.controls"],
                        detail={"key": kid, "name": name, "role": role})
            uow.commit()
        return {"id": kid, "name": name, "role": role, "key": key}

    def list_keys(self, actor: Actor) -> list[dict[str, Any]]:
        self._role_only(actor, "key.manage")
        with self.uow() as uow:
            return [{"id": k.id, "name": k.name, "role": k.role,
                     "created_at": k.created_at.isoformat(),
                     "revoked": k.revoked_at is not None}
                    for k in uow.session.execute(select(ApiKey).order_by(ApiKey.created_at))
                    .scalars()]

    def revoke_key(self, actor: Actor, key_id: str) -> dict[str, Any]:
        self._role_only(actor, "key.manage")
        with self.uow() as uow:
            k = uow.session.get(ApiKey, key_id)
            if k is None:
                raise NotFound(f"no API key {key_id!r}")
            k.revoked_at = self._now()
            self._audit(uow.session, actor, "key.revoke", "allowed", ["security.controls"],
                        detail={"key": key_id})
            uow.commit()
        return {"id": key_id, "revoked": True}

    def authenticate(self, key: str | None) -> Actor | None:
        if not key:
            return None
        with self.uow() as uow:
            k = uow.session.execute(select(ApiKey).where(
                ApiKey.digest == _key_digest(key), ApiKey.revoked_at.is_(None))
            ).scalar_one_or_none()
            return Actor(f"key:{k.name}", k.role) if k else None

    def has_keys(self) -> bool:
        with self.uow() as uow:
            return bool(uow.session.execute(select(func.count()).select_from(ApiKey))
                        .scalar_one())


# ---- views --------------------------------------------------------------------------------

def _deployment_dict(d: Deployment) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "purpose": d.purpose, "mode": d.mode,
            "rule_pack": d.rule_pack, "status": d.status, "notice_version": d.notice_version,
            "updated_at": d.updated_at.isoformat()}


def _consent_dict(c: Consent) -> dict[str, Any]:
    return {"id": c.id, "subject": c.subject_id, "deployment": c.deployment_id,
            "purpose": c.purpose, "notice_version": c.notice_version, "method": c.method,
            "storage_location": c.storage_location, "guardian_ref": c.guardian_ref,
            "guardian_relationship": c.guardian_relationship,
            "granted_at": c.granted_at.isoformat(), "granted_by": c.granted_by,
            "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None,
            "active": c.withdrawn_at is None}


def _template_dict(t: Template) -> dict[str, Any]:
    return {"id": t.id, "deployment": t.deployment_id, "engine": t.engine,
            "model_version": t.model_version, "created_at": t.created_at.isoformat(),
            "expires_at": t.expires_at.isoformat(), "quality": t.quality}


def _quality_dict(face: Face) -> dict[str, Any]:
    q = face.quality
    return {"size": q.size, "detector_score": round(q.detector_score, 3),
            "sharpness": round(q.sharpness, 1), "brightness": round(q.brightness, 1),
            "yaw": round(q.yaw, 1), "roll": round(q.roll, 1), "pitch": round(q.pitch, 1),
            "issues": list(q.issues), "detector": face.detector}


def _face_dict(face: Face) -> dict[str, Any]:
    b = face.box
    return {"box": {"left": b.left, "top": b.top, "right": b.right, "bottom": b.bottom},
            "quality": _quality_dict(face)}
