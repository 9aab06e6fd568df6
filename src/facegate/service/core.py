"""The use cases. Every operation: gather facts, ask the gate, act through the store in one
transaction with its audit record, and keep the 1:N index in step.

Interfaces (``api``, ``cli``) call only this layer; only this layer calls the gate.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy import func, select

from facegate.audit import tail, verify_chain
from facegate.engine import Engine, Face
from facegate.errors import (
    BadInput,
    Conflict,
    NoFace,
    NotFound,
    PoorQuality,
    TooManyFaces,
)
from facegate.images import ImageLimits, decode_image
from facegate.policy import ConsentFacts, Decision, Facts, Manifest, SubjectFacts, decide
from facegate.service.base import (
    LEGAL_BASIS,
    ROLES,
    Actor,
    consent_view,
    deployment_view,
    digest_of,
    face_view,
    key_digest,
    notice_content,
    quality_view,
    template_view,
)
from facegate.service.insight import InsightOps
from facegate.store.models import (
    ApiKey,
    Consent,
    Deployment,
    Identity,
    Notice,
    RightsRequest,
    Subject,
    SubjectKey,
    Template,
    TransactionRecord,
)
from facegate.store.repository import aware, generation


def enrolment_face(engine: Engine, data: bytes, limits: ImageLimits) -> Face:
    """The one fit face of an enrolment image, or the reason it cannot be enrolled: decoded in
    memory and dropped (``images.no-retention``). Pure: runs in worker processes too."""
    image = decode_image(data, limits)
    try:
        faces = engine.analyse(image)
    finally:
        del image
    if not faces:
        raise NoFace("no face was found in the image")
    if len(faces) > 1:
        raise TooManyFaces(f"{len(faces)} faces were found; enrolment needs exactly one")
    face = faces[0]
    if not face.quality.acceptable:
        raise PoorQuality("the face is not good enough to enrol: "
                          + ", ".join(face.quality.issues),
                          details={"issues": list(face.quality.issues)})
    return face


RIGHTS_KINDS = ("withdraw", "access", "delete")
RIGHTS_RULES = {"withdraw": "consent.withdraw", "access": "rights.access",
                "delete": "rights.delete"}


class Facegate(InsightOps):
    """The service: one per process; thread-safe."""

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
                "faces": [face_view(f) for f in faces]}

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
        self.threshold_at(m)  # a deployment's fmr_target must be a calibrated one
        now = self._now()
        content = notice_content(m)
        with self.uow() as uow:
            s = uow.session
            dep = s.get(Deployment, m.id)
            created = dep is None
            if dep is not None and dep.status == "terminated":
                raise Conflict(f"deployment {m.id} ended face recognition; register a new id",
                               rules=["filing.deregister"])
            changed = [] if dep is None else [
                k for k, old, new in (("purpose", dep.purpose, m.purpose or ""),
                                      ("mode", dep.mode, m.mode)) if old != new]
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
            digest = digest_of(content)
            if current is None or current.digest != digest:
                dep.notice_version += 1
                s.add(Notice(deployment_id=m.id, version=dep.notice_version, content=content,
                             digest=digest, created_at=now))
            s.flush()
            if changed:  # a substantive change (filing.change; makes the PIA stale)
                self._filing_event(s, "change", f"{m.id}: {', '.join(changed)} changed")
            if m.location.public_place:
                self._track_filing(s)
            self._audit(s, actor, "deployment.apply", "allowed", decision.rules,
                        deployment=m.id, purpose=m.purpose,
                        detail={"pack": pack, "created": created,
                                "notice_version": dep.notice_version, "changed": changed,
                                "manifest_sha256": digest_of(manifest_json)})
            uow.commit()
            assessment = self._assessment_facts(s, dep)
            return {"id": m.id, "status": dep.status, "created": created, "pack": pack,
                    "notice_version": dep.notice_version, "changed": changed,
                    "assessment": None if assessment is None else {
                        "version": assessment.version, "stale": assessment.stale,
                        "stale_reason": assessment.stale_reason},
                    "decision": decision.to_dict()}

    def list_deployments(self, actor: Actor) -> list[dict[str, Any]]:
        self._role_only(actor, "deployment.read")
        with self.uow() as uow:
            deps = uow.session.execute(select(Deployment).order_by(Deployment.id)).scalars()
            return [deployment_view(d) for d in deps]

    def get_deployment(self, actor: Actor, deployment_id: str) -> dict[str, Any]:
        self._role_only(actor, "deployment.read")
        with self.uow() as uow:
            dep, _ = self._deployment(uow.session, deployment_id)
            out = deployment_view(dep)
            out["manifest"] = dep.manifest
            return out

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
                "consents": [consent_view(c) for c in consents],
                "templates": [template_view(t) for t in templates],
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
            self._track_filing(s)
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
            facts = self._deployment_facts(
                s, actor, "consent.grant", dep, manifest,
                subject=SubjectFacts(subject_id, birth), consent=requested, purpose=purpose,
                current_notice_version=dep.notice_version)
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
            return {**consent_view(c), "decision": decision.to_dict()}

    def list_consents(self, actor: Actor, subject_id: str | None = None,
                      deployment_id: str | None = None) -> list[dict[str, Any]]:
        self._role_only(actor, "consent.read")
        with self.uow() as uow:
            q = select(Consent).order_by(Consent.granted_at)
            if subject_id:
                q = q.where(Consent.subject_id == subject_id)
            if deployment_id:
                q = q.where(Consent.deployment_id == deployment_id)
            return [consent_view(c) for c in uow.session.execute(q).scalars()]

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
            self._track_filing(s)
            self._commit_or_invalidate(uow)
        return receipt

    # ---- enrolment and matching ---------------------------------------------------------

    def enrol(self, actor: Actor, subject_id: str, deployment_id: str, images: Sequence[bytes],
              purpose: str | None = None, attributes: Sequence[str] = (),
              source: str = "live", keep_image: bool = False,
              analysed: Sequence[Face | BadInput] | None = None,
              track_filing: bool = True) -> dict[str, Any]:
        """Templates from live images, under a consent (or a cited law) for this deployment.
        ``source`` says where the images come from (``scope.rnd-excluded``); ``keep_image``
        asks to keep the image, which facegate never does (``images.no-retention``).
        ``analysed``: the images already analysed by ``enrolment_face`` (batch enrolment does
        that in worker processes), one face or error per image, instead of ``images``.
        ``track_filing``: count persons for the filing duty now (a batch does it once, at its
        end)."""
        if not images and not analysed:
            raise BadInput("enrolment needs at least one image")
        count = len(analysed) if analysed is not None else len(images)
        self._check_attributes(actor, "enrol", attributes, subject=subject_id,
                               deployment=deployment_id)
        use: dict[str, Any] = {"source": source, "keep_image": keep_image}
        with self.uow() as uow:
            facts, _ = self._use_facts(uow.session, actor, "enrol", subject_id, deployment_id,
                                       purpose, **use)
        self._gate(actor, facts, subject=subject_id, deployment=deployment_id,
                   purpose=facts.deployment.purpose if facts.deployment else None)
        accepted: list[tuple[int, Face]] = []
        rejected: list[dict[str, Any]] = []
        for i in range(count):
            try:
                if analysed is None:
                    face = enrolment_face(self.engine, images[i], self.settings.image_limits)
                else:
                    item = analysed[i]
                    if isinstance(item, BadInput):
                        raise item
                    face = item
                accepted.append((i, face))
            except BadInput as e:
                if count == 1:
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
            facts, dep = self._use_facts(s, actor, "enrol", subject_id, deployment_id, purpose,
                                         **use)
            decision = decide(facts)
            if not decision.allowed:
                uow.rollback()
                raise self._refuse(actor, decision, subject=subject_id,
                                   deployment=deployment_id)
            assert facts.deployment is not None
            permit = decision.permit()
            consent_id = facts.consent.id if facts.consent else None
            if consent_id is None:  # processing under a cited law (consent.lawful-basis)
                consent_id = self._basis_record(s, subject_id, deployment_id)
            if consent_id is None:
                basis = Consent(id="con_" + uuid.uuid4().hex[:20], subject_id=subject_id,
                                deployment_id=deployment_id, purpose=dep.purpose,
                                notice_version=dep.notice_version, method=LEGAL_BASIS,
                                storage_location="on-premises", granted_at=now,
                                granted_by=actor.name)
                s.add(basis)
                s.flush()
                consent_id = basis.id
            gen_before = generation(s, deployment_id)
            dek = self._dek(s, subject_id)
            days = facts.deployment.retention_days or 365
            expires = now + timedelta(days=days)
            created: list[dict[str, Any]] = []
            for i, face in accepted:
                assert face.embedding is not None
                tid = uow.templates.add(
                    permit, subject_id=subject_id, deployment_id=deployment_id,
                    consent_id=consent_id, engine=self.engine.name,
                    model_version=self.engine.model_version, vector=face.embedding,
                    quality=quality_view(face), dek=dek, now=now, expires_at=expires)
                created.append({"id": tid, "image": i, "quality": quality_view(face)})
            self._audit(s, actor, "enrol", "allowed", decision.rules, subject=subject_id,
                        deployment=deployment_id, purpose=dep.purpose,
                        detail={"template_ids": [c["id"] for c in created],
                                "rejected": len(rejected), "engine": self.engine_key})
            s.flush()
            if track_filing:
                self._track_filing(s)
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

    def verify(self, actor: Actor, subject_id: str, deployment_id: str, image: bytes,
               purpose: str | None = None, attributes: Sequence[str] = (),
               transaction: str | None = None, choice: str | None = None
               ) -> dict[str, Any]:
        """1:1: does the face in ``image`` belong to the claimed subject?"""
        self._check_attributes(actor, "verify", attributes, subject=subject_id,
                               deployment=deployment_id)
        with self.uow() as uow:
            facts, dep = self._use_facts(uow.session, actor, "verify", subject_id,
                                         deployment_id, purpose, transaction=transaction,
                                         choice=choice)
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
            now = self._now()
            live = [t for t in stored if t.expires_at > now]
            if not live:  # retention ended: never used, deleted by housekeeping
                ended = max(t.expires_at for t in stored).astimezone(self.settings.tz).date()
                refusal = decide(replace(facts, template_expires_on=ended))
                uow.rollback()
                raise self._refuse(actor, refusal, subject=subject_id,
                                   deployment=deployment_id)
            score = max(float(np.dot(t.vector, face.embedding)) for t in live)
            assert facts.deployment is not None
            threshold, fmr = self.threshold_at(facts.deployment)
            match = score >= threshold
            self._audit(s, actor, "verify", "allowed", decision.rules, subject=subject_id,
                        deployment=deployment_id, purpose=dep.purpose,
                        detail={"match": match, "score": round(score, 4),
                                "threshold": threshold, "fmr_target": fmr})
            uow.commit()
        auxiliary = "major-interest.manual-review" in [w.rule for w in decision.warnings]
        return {"subject": subject_id, "deployment": deployment_id, "match": match,
                "approved": match and not auxiliary, "manual_review_required": auxiliary,
                "warnings": [w.to_dict() for w in decision.warnings],
                "score": round(score, 6), "threshold": threshold, "fmr_target": fmr,
                "faces_detected": n_faces, "engine": self.engine_key,
                "decision": decision.to_dict()}

    def identify(self, actor: Actor, deployment_id: str, image: bytes, top: int = 5,
                 purpose: str | None = None, attributes: Sequence[str] = (),
                 transaction: str | None = None, choice: str | None = None
                 ) -> dict[str, Any]:
        """1:N over the templates consented for this deployment only; nothing below the
        threshold is returned."""
        if not 1 <= top <= 100:
            raise BadInput("top must be between 1 and 100")
        self._check_attributes(actor, "identify", attributes, deployment=deployment_id)
        with self.uow() as uow:
            dep, manifest = self._deployment(uow.session, deployment_id)
            facts = self._deployment_facts(uow.session, actor, "identify", dep, manifest,
                                           purpose=purpose, transaction=transaction,
                                           choice=choice)
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
            threshold, fmr = self.threshold_at(manifest)
            gallery = len(index.subjects())
            hits = [h for h in index.search(face.embedding, top) if h.score >= threshold]
            candidates = []
            now = self._now()
            for h in hits:
                # Each candidate passes the gate on its own consent (``purpose.bound``).
                sub = s.get(Subject, h.subject_id)
                if sub is None or sub.deleted_at is not None:
                    continue
                c = self._active_consent(s, h.subject_id, deployment_id)
                t = s.get(Template, h.template_id)
                if t is None:
                    continue
                ended = aware(t.expires_at) <= now  # retention.minimum, between housekeepings
                d = decide(Facts(operation="identify.match", pack=dep.rule_pack,
                                 on=self.settings.today(), deployment=manifest,
                                 subject=SubjectFacts(h.subject_id),
                                 consent=self._consent_facts(c),
                                 template_expires_on=aware(t.expires_at).date() if ended
                                 else None))
                if d.allowed:
                    candidates.append({"subject": h.subject_id, "score": round(h.score, 6)})
            self._audit(s, actor, "identify", "allowed", decision.rules,
                        deployment=deployment_id, purpose=dep.purpose,
                        subject=candidates[0]["subject"] if candidates else None,
                        detail={"candidates": [c["subject"] for c in candidates],
                                "top": top, "threshold": threshold})
            uow.commit()
        return {"deployment": deployment_id, "candidates": candidates,
                "threshold": threshold, "fmr_target": fmr, "gallery": gallery,
                # per probe of someone not enrolled (open set): gallery size x FMR
                "expected_false_matches": float(f"{gallery * fmr:.3g}"),
                "faces_detected": n_faces,
                "engine": self.engine_key, "decision": decision.to_dict()}

    def decline(self, actor: Actor, deployment_id: str, subject_id: str | None = None,
                transaction: str | None = None) -> dict[str, Any]:
        """The person chooses the alternative: recorded, never penalised. With a transaction
        id, face recognition is not offered again in that transaction
        (``coercion.prohibited``)."""
        with self.uow() as uow:
            dep, manifest = self._deployment(uow.session, deployment_id)
        decision = self._role_only(actor, "decline", deployment=deployment_id,
                                   subject=subject_id)
        with self.uow() as uow:
            if transaction:
                uow.session.add(TransactionRecord(
                    deployment_id=deployment_id, transaction=transaction,
                    subject_id=subject_id, event="declined", at=self._now()))
            self._audit(uow.session, actor, "decline", "allowed",
                        [*decision.rules, "alternative.required", "coercion.prohibited"],
                        subject=subject_id, deployment=deployment_id, purpose=dep.purpose,
                        detail={"transaction": transaction})
            uow.commit()
        alt = manifest.alternative
        return {"deployment": deployment_id, "recorded": True,
                "alternative": {"method": alt.method, "description": alt.description}
                if alt else None,
                "message": "The person chose the alternative; serve them by it, with no loss "
                           "of service."}

    # ---- the person's rights (rights.access, rights.delete) ------------------------------

    def _rights_gate(self, actor: Actor, operation: str, subject_id: str,
                     requester_verified: bool) -> Decision:
        with self.uow() as uow:
            self._subject(uow.session, subject_id)
        return self._gate(actor, Facts(operation=operation, pack=self.settings.rule_pack,
                                       on=self.settings.today(), actor_role=actor.role,
                                       subject=SubjectFacts(subject_id),
                                       requester_verified=requester_verified),
                          subject=subject_id)

    def access_request(self, actor: Actor, subject_id: str, requester_verified: bool
                       ) -> dict[str, Any]:
        """What face data is held about a person, for which purposes and deployments; the
        request and its answer are audited. No template vector leaves."""
        decision = self._rights_gate(actor, "rights.access", subject_id, requester_verified)
        with self.uow() as uow:
            s = uow.session
            templates = uow.templates.metadata(decision.permit(), subject_id)
            consents = list(s.execute(select(Consent).where(Consent.subject_id == subject_id)
                                      .order_by(Consent.granted_at)).scalars())
            deps = {c.deployment_id: s.get(Deployment, c.deployment_id) for c in consents}
            self._audit(s, actor, "rights.access", "allowed", decision.rules,
                        subject=subject_id, detail={"template_count": len(templates)})
            uow.commit()
        return {
            "subject": subject_id, "decision": decision.to_dict(),
            "deployments": [{"id": d.id, "name": d.name, "purpose": d.purpose, "mode": d.mode,
                             "operator": (d.manifest.get("operator") or None)}
                            for d in deps.values() if d is not None],
            "consents": [consent_view(c) for c in consents],
            "templates": [template_view(t) for t in templates],
            "images_kept": 0,
            "how_to_delete": "ask the operator to delete your face data (rights.delete), or "
                             "withdraw your consent (consent.withdraw)",
        }

    def deletion_request(self, actor: Actor, subject_id: str, requester_verified: bool
                         ) -> dict[str, Any]:
        """The person asks for their face data to be deleted: everything goes, with a receipt.
        """
        self._rights_gate(actor, "rights.delete", subject_id, requester_verified)
        receipt = self.delete_subject(actor, subject_id)
        return {**receipt, "request": "rights.delete"}

    # ---- requests from the public pages ------------------------------------------------

    def submit_rights_request(self, deployment_id: str, kind: str, ref: str,
                              birth_date: date | None, contact: str) -> dict[str, Any]:
        """A person's request from the public rights page. Where the reference and the birth
        date match the sealed identity, the person has proved control of the reference and
        the request is carried out at once; otherwise it waits for the officer."""
        if kind not in RIGHTS_KINDS:
            raise BadInput(f"kind must be one of {', '.join(RIGHTS_KINDS)}")
        ref, contact = ref.strip(), contact.strip()
        if not ref or len(ref) > 200 or len(contact) > 200:
            raise BadInput("give your reference (at most 200 characters)")
        rid = "req_" + uuid.uuid4().hex[:20]
        now = self._now()
        public = Actor("public:rights-page", "person")
        self._role_only(public, "rights.request", deployment=deployment_id)
        with self.uow() as uow:
            s = uow.session
            self._deployment(s, deployment_id)
            ident = s.execute(select(Identity).where(
                Identity.ref_digest == self.keyring.ref_digest(ref))).scalar_one_or_none()
            subject = ident.subject_id if ident else None
            proved = False
            if ident is not None and birth_date is not None:
                _, birth = self._identity(s, ident.subject_id)
                proved = birth == birth_date
            s.add(RightsRequest(id=rid, deployment_id=deployment_id, kind=kind,
                                ref_digest=self.keyring.ref_digest(ref),
                                contact_sealed=self.keyring.seal_contact(rid, contact)
                                if contact else None, status="pending",
                                subject_id=subject, created_at=now))
            self._audit(s, public, "rights.request", "allowed", [RIGHTS_RULES[kind]],
                        subject=subject, deployment=deployment_id,
                        detail={"request": rid, "kind": kind, "proved": proved})
            uow.commit()
        if not proved:
            return {"id": rid, "status": "pending", "kind": kind}
        return self._complete_request(public, rid, verified=True)

    def list_rights_requests(self, actor: Actor, status: str | None = None
                             ) -> list[dict[str, Any]]:
        self._role_only(actor, "rights.read")
        with self.uow() as uow:
            q = select(RightsRequest).order_by(RightsRequest.created_at.desc())
            if status:
                q = q.where(RightsRequest.status == status)
            out = []
            for r in uow.session.execute(q).scalars():
                contact = (self.keyring.open_contact(r.id, r.contact_sealed)
                           if r.contact_sealed else None)
                out.append({"id": r.id, "deployment": r.deployment_id, "kind": r.kind,
                            "status": r.status, "subject": r.subject_id, "contact": contact,
                            "created_at": r.created_at.isoformat(),
                            "handled_at": r.handled_at.isoformat() if r.handled_at else None,
                            "handled_by": r.handled_by, "outcome": r.outcome})
            return out

    def handle_rights_request(self, actor: Actor, request_id: str, verified: bool
                              ) -> dict[str, Any]:
        """The officer checked the requester's identity (or could not): carry it out or
        reject it."""
        return self._complete_request(actor, request_id, verified)

    def _complete_request(self, actor: Actor, request_id: str, verified: bool
                          ) -> dict[str, Any]:
        with self.uow() as uow:
            r = uow.session.get(RightsRequest, request_id)
            if r is None:
                raise NotFound(f"no rights request {request_id!r}")
            if r.status != "pending":
                raise Conflict(f"request {request_id} is already {r.status}")
            kind, subject, dep = r.kind, r.subject_id, r.deployment_id
        result: dict[str, Any] = {}
        if not verified:
            status, outcome = "rejected", "the requester's identity could not be verified"
        elif subject is None:
            status, outcome = "done", "no face data is held under this reference"
        elif kind == "access":
            result = self.access_request(actor, subject, True)
            status, outcome = "done", f"{len(result['templates'])} template(s) reported"
        elif kind == "delete":
            result = self.deletion_request(actor, subject, True)
            status, outcome = "done", f"deleted; receipt {result['sha256']}"
        else:
            try:
                result = self.withdraw_consent(actor, subject, dep)
                status, outcome = "done", f"withdrawn; receipt {result['sha256']}"
            except NotFound:
                status, outcome = "done", "no active consent at this deployment"
        with self.uow() as uow:
            r = uow.session.get(RightsRequest, request_id)
            assert r is not None
            r.status, r.outcome, r.handled_at, r.handled_by = status, outcome, self._now(), \
                actor.name
            self._audit(uow.session, actor, "rights.request.handle", "allowed",
                        [RIGHTS_RULES[kind]], subject=subject, deployment=dep,
                        detail={"request": request_id, "status": status})
            uow.commit()
        return {"id": request_id, "kind": kind, "status": status, "outcome": outcome,
                "result": result}

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
            uow.session.add(ApiKey(id=kid, name=name, role=role, digest=key_digest(key),
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
                ApiKey.digest == key_digest(key), ApiKey.revoked_at.is_(None))
            ).scalar_one_or_none()
            return Actor(f"key:{k.name}", k.role) if k else None

    def key_of(self, key: str | None) -> tuple[str, Actor] | None:
        """The key's id and actor (for a console session), or None."""
        if not key:
            return None
        with self.uow() as uow:
            k = uow.session.execute(select(ApiKey).where(
                ApiKey.digest == key_digest(key.strip()), ApiKey.revoked_at.is_(None))
            ).scalar_one_or_none()
            return (k.id, Actor(f"key:{k.name}", k.role)) if k else None

    def key_active(self, key_id: str) -> bool:
        """A console session lives only while its key is not revoked."""
        with self.uow() as uow:
            k = uow.session.get(ApiKey, key_id)
            return k is not None and k.revoked_at is None

    def has_keys(self) -> bool:
        with self.uow() as uow:
            return bool(uow.session.execute(select(func.count()).select_from(ApiKey))
                        .scalar_one())


# ---- views --------------------------------------------------------------------------------
