"""Faces at work: enrolment (templates under a consent or a cited law), 1:1 verification, 1:N
identification over the templates consented for the deployment, and detection. No face
attribute is ever analysed (``attributes.sensitive``); no image is kept
(``images.no-retention``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np

from facegate.engine import Face
from facegate.errors import BadInput, NotFound, PoorQuality
from facegate.images import decode_image
from facegate.policy import Facts, SubjectFacts, decide
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.faces import Recogniser
from facegate.service.facts import FactBuilder, consent_facts
from facegate.service.filing import Filing
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.identities import Identities
from facegate.service.indexes import IndexRegistry
from facegate.service.views import face_view, quality_view
from facegate.store.models import Consent, Subject, Template
from facegate.store.repository import aware, generation


@dataclass(frozen=True, kw_only=True)
class Matching:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    facts: FactBuilder
    identities: Identities
    recogniser: Recogniser
    indexes: IndexRegistry
    filing: Filing

    def detect(self, actor: Actor, data: bytes, attributes: Sequence[str] = ()
               ) -> dict[str, Any]:
        """Faces, boxes and quality; no template is kept and no attribute is analysed."""
        self.gate.attributes(actor, "detect", attributes)
        self.gate.role(actor, "detect")
        image = decode_image(data, self.recogniser.limits)
        faces = self.recogniser.engine.detect(image)
        height, width = image.shape[:2]
        del image
        self.audit.alone(actor, "detect", "allowed", ["images.no-retention"],
                         detail={"faces": len(faces)})
        return {"width": width, "height": height, "faces": [face_view(f) for f in faces]}

    def request_attributes(self, actor: Actor, names: Sequence[str]) -> None:
        """There is no attribute analysis: every request is refused and audited."""
        self.gate.attributes(actor, "detect", list(names) or ["unspecified"])
        raise BadInput("facegate computes no face attributes")  # pragma: no cover

    def _analysed(self, actor: Actor, subject_id: str, deployment_id: str, count: int,
                  images: Sequence[bytes], analysed: Sequence[Face | BadInput] | None
                  ) -> tuple[list[tuple[int, Face]], list[dict[str, Any]]]:
        """The enrolment face of each image, and each rejected image with its reason."""
        accepted: list[tuple[int, Face]] = []
        rejected: list[dict[str, Any]] = []
        for i in range(count):
            try:
                if analysed is None:
                    face = self.recogniser.enrolment_face(images[i])
                else:
                    item = analysed[i]
                    if isinstance(item, BadInput):
                        raise item
                    face = item
                accepted.append((i, face))
            except BadInput as e:
                if count == 1:
                    self.audit.error(actor, "enrol", e, subject_id, deployment_id)
                    raise
                rejected.append({"image": i, "error": e.code, "message": e.message,
                                 **({"issues": e.details["issues"]} if "issues" in e.details
                                    else {})})
        if not accepted:
            err = PoorQuality("no image could be enrolled", details={"rejected": rejected})
            self.audit.error(actor, "enrol", err, subject_id, deployment_id)
            raise err
        return accepted, rejected

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
        self.gate.attributes(actor, "enrol", attributes, subject=subject_id,
                             deployment=deployment_id)
        use: dict[str, Any] = {"source": source, "keep_image": keep_image}
        with self.uow() as uow:
            facts, _ = self.facts.of_use(uow.session, actor, "enrol", subject_id,
                                         deployment_id, purpose, **use)
        self.gate.check(actor, facts, subject=subject_id, deployment=deployment_id,
                        purpose=facts.deployment.purpose if facts.deployment else None)
        accepted, rejected = self._analysed(actor, subject_id, deployment_id, count, images,
                                            analysed)
        engine = self.recogniser.engine
        now = self.clock.now()
        with self.uow() as uow:
            s = uow.session
            # Decide again inside the write transaction: the consent may have been withdrawn
            # while the images were being processed.
            facts, dep = self.facts.of_use(s, actor, "enrol", subject_id, deployment_id,
                                           purpose, **use)
            decision = decide(facts)
            if not decision.allowed:
                uow.rollback()
                raise self.gate.refusal(actor, decision, subject=subject_id,
                                        deployment=deployment_id)
            assert facts.deployment is not None
            permit = decision.permit()
            consent_id = facts.consent.id if facts.consent else None
            if consent_id is None:  # processing under a cited law (consent.lawful-basis)
                consent_id = records.basis_record(s, subject_id, deployment_id)
            if consent_id is None:
                basis = Consent(id="con_" + uuid.uuid4().hex[:20], subject_id=subject_id,
                                deployment_id=deployment_id, purpose=dep.purpose,
                                notice_version=dep.notice_version, method=records.LEGAL_BASIS,
                                storage_location="on-premises", granted_at=now,
                                granted_by=actor.name)
                s.add(basis)
                s.flush()
                consent_id = basis.id
            gen_before = generation(s, deployment_id)
            dek = self.identities.dek(s, subject_id)
            expires = now + timedelta(days=facts.deployment.retention_days or 365)
            created: list[dict[str, Any]] = []
            for i, face in accepted:
                assert face.embedding is not None
                tid = uow.templates.add(
                    permit, subject_id=subject_id, deployment_id=deployment_id,
                    consent_id=consent_id, engine=engine.name,
                    model_version=engine.model_version, vector=face.embedding,
                    quality=quality_view(face), dek=dek, now=now, expires_at=expires)
                created.append({"id": tid, "image": i, "quality": quality_view(face)})
            self.audit.record(s, actor, "enrol", "allowed", decision.rules, subject=subject_id,
                              deployment=deployment_id, purpose=dep.purpose,
                              detail={"template_ids": [c["id"] for c in created],
                                      "rejected": len(rejected),
                                      "engine": self.recogniser.key})
            s.flush()
            if track_filing:
                self.filing.track(s)
            gen_after = generation(s, deployment_id)
            uow.commit()
        self.indexes.added(deployment_id, gen_before, gen_after, subject_id,
                           [(str(c["id"]), face.embedding) for (_, face), c
                            in zip(accepted, created, strict=True)
                            if face.embedding is not None])
        return {"subject": subject_id, "deployment": deployment_id, "templates": created,
                "rejected": rejected, "engine": engine.name,
                "model_version": engine.model_version, "expires_at": expires.isoformat(),
                "decision": decision.to_dict()}

    def _probe(self, actor: Actor, operation: str, image: bytes, subject_id: str | None,
               deployment_id: str) -> tuple[Face, int]:
        try:
            face, n_faces = self.recogniser.probe(image)
        except BadInput as e:
            self.audit.error(actor, operation, e, subject_id, deployment_id)
            raise
        assert face.embedding is not None
        return face, n_faces

    def verify(self, actor: Actor, subject_id: str, deployment_id: str, image: bytes,
               purpose: str | None = None, attributes: Sequence[str] = (),
               transaction: str | None = None, choice: str | None = None
               ) -> dict[str, Any]:
        """1:1: does the face in ``image`` belong to the claimed subject?"""
        self.gate.attributes(actor, "verify", attributes, subject=subject_id,
                             deployment=deployment_id)
        with self.uow() as uow:
            facts, dep = self.facts.of_use(uow.session, actor, "verify", subject_id,
                                           deployment_id, purpose, transaction=transaction,
                                           choice=choice)
        decision = self.gate.check(actor, facts, subject=subject_id, deployment=deployment_id,
                                   purpose=dep.purpose)
        face, n_faces = self._probe(actor, "verify", image, subject_id, deployment_id)
        assert face.embedding is not None
        engine = self.recogniser.engine
        with self.uow() as uow:
            s = uow.session
            stored = uow.templates.open_for_subject(
                decision.permit(), self.identities.dek(s, subject_id), subject_id,
                deployment_id, engine.name, engine.model_version)
            if not stored:
                raise NotFound(f"subject {subject_id} has no template from engine "
                               f"{self.recogniser.key} at {deployment_id}; enrol first")
            now = self.clock.now()
            live = [t for t in stored if t.expires_at > now]
            if not live:  # retention ended: never used, deleted by housekeeping
                ended = max(t.expires_at for t in stored).astimezone(self.clock.tz).date()
                refusal = decide(replace(facts, template_expires_on=ended))
                uow.rollback()
                raise self.gate.refusal(actor, refusal, subject=subject_id,
                                        deployment=deployment_id)
            score = max(float(np.dot(t.vector, face.embedding)) for t in live)
            assert facts.deployment is not None
            threshold, fmr = self.recogniser.threshold_at(facts.deployment)
            match = score >= threshold
            self.audit.record(s, actor, "verify", "allowed", decision.rules,
                              subject=subject_id, deployment=deployment_id,
                              purpose=dep.purpose,
                              detail={"match": match, "score": round(score, 4),
                                      "threshold": threshold, "fmr_target": fmr})
            uow.commit()
        auxiliary = "major-interest.manual-review" in [w.rule for w in decision.warnings]
        return {"subject": subject_id, "deployment": deployment_id, "match": match,
                "approved": match and not auxiliary, "manual_review_required": auxiliary,
                "warnings": [w.to_dict() for w in decision.warnings],
                "score": round(score, 6), "threshold": threshold, "fmr_target": fmr,
                "faces_detected": n_faces, "engine": self.recogniser.key,
                "decision": decision.to_dict()}

    def identify(self, actor: Actor, deployment_id: str, image: bytes, top: int = 5,
                 purpose: str | None = None, attributes: Sequence[str] = (),
                 transaction: str | None = None, choice: str | None = None
                 ) -> dict[str, Any]:
        """1:N over the templates consented for this deployment only; nothing below the
        threshold is returned. The index proposes, the store decides: each candidate passes
        the gate on its own consent (``purpose.bound``) and retention."""
        if not 1 <= top <= 100:
            raise BadInput("top must be between 1 and 100")
        self.gate.attributes(actor, "identify", attributes, deployment=deployment_id)
        with self.uow() as uow:
            dep, manifest = records.deployment(uow.session, deployment_id)
            facts = self.facts.at_deployment(uow.session, actor, "identify", dep, manifest,
                                             purpose=purpose, transaction=transaction,
                                             choice=choice)
        decision = self.gate.check(actor, facts, deployment=deployment_id,
                                   purpose=dep.purpose)
        face, n_faces = self._probe(actor, "identify", image, None, deployment_id)
        assert face.embedding is not None
        with self.uow() as uow, self.indexes.lock:
            s = uow.session
            index = self.indexes.for_deployment(uow, decision, deployment_id)
            threshold, fmr = self.recogniser.threshold_at(manifest)
            gallery = len(index.subjects())
            hits = [h for h in index.search(face.embedding, top) if h.score >= threshold]
            candidates = []
            now = self.clock.now()
            for h in hits:
                sub = s.get(Subject, h.subject_id)
                if sub is None or sub.deleted_at is not None:
                    continue
                c = records.active_consent(s, h.subject_id, deployment_id)
                t = s.get(Template, h.template_id)
                if t is None:
                    continue
                ended = aware(t.expires_at) <= now  # retention.minimum, between housekeepings
                d = decide(Facts(operation="identify.match", pack=dep.rule_pack,
                                 on=self.clock.today(), deployment=manifest,
                                 subject=SubjectFacts(h.subject_id),
                                 consent=consent_facts(c),
                                 template_expires_on=aware(t.expires_at).date() if ended
                                 else None))
                if d.allowed:
                    candidates.append({"subject": h.subject_id, "score": round(h.score, 6)})
            self.audit.record(s, actor, "identify", "allowed", decision.rules,
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
                "engine": self.recogniser.key, "decision": decision.to_dict()}
