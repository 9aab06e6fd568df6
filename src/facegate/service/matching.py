"""Faces at work: enrolment (templates under a consent or a cited law, each the same person's
as the subject's templates already held), 1:1 verification (one person at a time), 1:N
identification (``identification.py``) and detection. No face attribute is ever analysed
(``attributes.sensitive``); no image is kept (``images.no-retention``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from facegate.engine import Engine, Face
from facegate.errors import (
    BadInput,
    Conflict,
    FacegateError,
    IdentityMismatch,
    ImageTooLarge,
    PoorQuality,
    Refused,
)
from facegate.images import header_pixels
from facegate.localtime import iso_local
from facegate.policy import Manifest, Permit, decide
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.faces import Recogniser, key_of
from facegate.service.facts import FactBuilder
from facegate.service.filing import Filing
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.identification import Identification
from facegate.service.identities import Identities
from facegate.service.indexes import IndexRegistry
from facegate.service.limits import TRANSACTION_MAX, bounded
from facegate.service.verification import Verification
from facegate.service.views import quality_view
from facegate.store.models import Consent
from facegate.store.uow import UnitOfWork


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
    identification: Identification
    verification: Verification

    def detect(self, actor: Actor, data: bytes, attributes: Sequence[str] = ()
               ) -> dict[str, Any]:
        """Faces, boxes (in the upload's own pixels, ``width`` x ``height``) and quality; no
        template is kept and no attribute is analysed."""
        self.gate.attributes(actor, "detect", attributes)
        self.gate.role(actor, "detect")
        scan = self.recogniser.scan(data, embed=False)
        self.audit.alone(actor, "detect", "allowed", ["images.no-retention"],
                         detail={"faces": len(scan.faces)})
        return {"width": scan.width, "height": scan.height, "faces": scan.views()}

    def request_attributes(self, actor: Actor, names: Sequence[str]) -> None:
        """There is no attribute analysis: every request is refused and audited."""
        self.gate.attributes(actor, "detect", list(names) or ["unspecified"])
        raise BadInput("facegate computes no face attributes")  # pragma: no cover

    def _within_request_limits(self, images: Sequence[bytes]) -> None:
        """At most ``max_images`` images and ``max_request_pixels`` pixels in one request:
        every image is decoded and scanned."""
        limits = self.recogniser.limits
        if len(images) > limits.max_images:
            raise BadInput(f"at most {limits.max_images} images per enrolment request, "
                           f"not {len(images)}")
        pixels = sum(header_pixels(data) for data in images)
        if pixels > limits.max_request_pixels:
            raise ImageTooLarge(f"the images hold {pixels} pixels together; one request may "
                                f"hold at most {limits.max_request_pixels}")

    def _analysed(self, actor: Actor, subject_id: str, deployment_id: str, count: int,
                  images: Sequence[bytes], analysed: Sequence[Face | BadInput] | None,
                  engine: Engine) -> tuple[list[tuple[int, Face]], list[dict[str, Any]]]:
        """The enrolment face of each image, and each rejected image with its reason."""
        accepted: list[tuple[int, Face]] = []
        rejected: list[dict[str, Any]] = []
        for i in range(count):
            try:
                if analysed is None:
                    face = self.recogniser.enrolment_face(images[i], engine)
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
        end). Every new face must match the subject's templates already held
        (``IdentityMismatch`` otherwise); at a 1:N deployment, other subjects the face already
        matches there are returned as ``possible_duplicates`` (a warning, not a refusal)."""
        if not images and not analysed:
            raise BadInput("enrolment needs at least one image")
        count = len(analysed) if analysed is not None else len(images)
        if analysed is None:
            self._within_request_limits(images)
        self.gate.attributes(actor, "enrol", attributes, subject=subject_id,
                             deployment=deployment_id)
        use: dict[str, Any] = {"source": source, "keep_image": keep_image}
        with self.uow() as uow:
            facts, dep = self.facts.of_use(uow.session, actor, "enrol", subject_id,
                                           deployment_id, purpose, **use)
            # New templates are the engine the deployment uses, or moves to.
            key = dep.migrating_to or dep.engine or self.recogniser.key
        self.gate.check(actor, facts, subject=subject_id, deployment=deployment_id,
                        purpose=facts.deployment.purpose if facts.deployment else None)
        engine = self.recogniser.engine_for(key)
        accepted, rejected = self._analysed(actor, subject_id, deployment_id, count, images,
                                            analysed, engine)
        now = self.clock.now()
        # The index lock before the transaction, as every writer takes them: the duplicate
        # search reads the index inside it.
        with self.indexes.lock, self.uow() as uow:
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
            if (dep.migrating_to or dep.engine or self.recogniser.key) != key:
                raise Conflict(f"{deployment_id} changed engine during the enrolment; retry")
            dep.engine = dep.engine or key  # registered before engines were recorded
            permit = decision.permit()
            dek = self.identities.dek(s, subject_id)
            self._same_person(uow, actor, permit, dek, subject_id, deployment_id,
                              facts.deployment, accepted, engine)
            duplicates = (self.identification.possible_duplicates(
                uow, decision, dep, facts.deployment, subject_id, [f for _, f in accepted],
                engine) if dep.mode == "identify" else [])
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
            expires = now + timedelta(days=facts.deployment.retention_days or 365)
            vectors = []
            for _, face in accepted:
                assert face.embedding is not None
                vectors.append(face.embedding)
            qualities = [quality_view(face) for _, face in accepted]
            tids = uow.templates.add_many(
                permit, subject_id=subject_id, deployment_id=deployment_id,
                consent_id=consent_id, engine=engine.name, model_version=engine.model_version,
                vectors=vectors, qualities=qualities, dek=dek,
                now=now, expires_at=expires)
            created = [{"id": tid, "image": i, "quality": q}
                       for tid, (i, _), q in zip(tids, accepted, qualities, strict=True)]
            self.audit.record(s, actor, "enrol", "allowed", decision.rules, subject=subject_id,
                              deployment=deployment_id, purpose=dep.purpose,
                              detail={"template_ids": [c["id"] for c in created],
                                      "rejected": len(rejected),
                                      "possible_duplicates": duplicates, "engine": key})
            s.flush()
            if track_filing:
                self.filing.track(s)
            uow.commit()  # each template's "add" row: every index opens it before its search
        return {"subject": subject_id, "deployment": deployment_id, "templates": created,
                "rejected": rejected, "possible_duplicates": duplicates, "engine": engine.name,
                "model_version": engine.model_version,
                "expires_at": iso_local(expires, self.clock.tz),
                "decision": decision.to_dict()}

    def enrol_each(self, actor: Actor, deployment_id: str,
                   items: Sequence[tuple[str, Sequence[bytes | FacegateError]]]
                   ) -> dict[str, Any]:
        """Batch enrolment of uploaded images (``POST /v1/enrol/batch``): each item (a subject
        and its images' bytes, or the error reading one of them gave) enrolled at
        ``deployment_id`` on its own, decided by the gate and audited as one ``enrol`` is; an
        item's refusal or bad image leaves the others as they are. A refusal of the caller's
        role (``security.controls``) refuses the whole batch, as it would every item."""
        out: list[dict[str, Any]] = []
        for subject_id, images in items:
            unread = next((i for i in images if isinstance(i, FacegateError)), None)
            try:
                if unread is not None:
                    raise unread
                result = self.enrol(actor, subject_id, deployment_id,
                                    [i for i in images if isinstance(i, bytes)])
            except FacegateError as e:
                if isinstance(e, Refused) and "security.controls" in e.rules:
                    raise  # the caller may not enrol at all: no item can be
                error = e.to_dict()
                error.setdefault("rules", [])
                out.append({"subject": subject_id, "enrolled": False, "result": None,
                            "error": error})
            else:
                out.append({"subject": subject_id, "enrolled": True, "result": result,
                            "error": None})
        done = sum(1 for o in out if o["enrolled"])
        return {"deployment": deployment_id, "items": out, "enrolled": done,
                "failed": len(out) - done}

    def _same_person(self, uow: UnitOfWork, actor: Actor, permit: Permit, dek: bytes,
                     subject_id: str, deployment_id: str, manifest: Manifest,
                     accepted: Sequence[tuple[int, Face]], engine: Engine) -> None:
        """Refuse (rolled back, audited) new faces that match none of the subject's templates
        already held, at any deployment, from this engine: enrolling someone else's photo
        would let that person pass as the subject. Compared at this deployment's threshold;
        only scores leave the comparison."""
        held = uow.templates.open_for_enrolment(permit, dek, subject_id, engine.name,
                                                engine.model_version, self.clock.now())
        if not held:
            return
        threshold, _ = self.recogniser.threshold_at(manifest, key_of(engine))
        best = {i: max(float(np.dot(t.vector, face.embedding)) for t in held)
                for i, face in accepted if face.embedding is not None}
        failed = sorted(i for i, score in best.items() if score < threshold)
        if not failed:
            return
        score = round(min(best[i] for i in failed), 6)
        err = IdentityMismatch(
            f"image {failed[0]} does not match the templates held for subject {subject_id}: "
            f"best score {score:.4f}, below the threshold {threshold}; enrol photos of the "
            "same person only", details={"subject": subject_id, "image_positions": failed,
                                         "score": score, "threshold": threshold})
        uow.rollback()
        self.audit.error(actor, "enrol", err, subject_id, deployment_id,
                         detail={"image_positions": failed, "score": score,
                                 "threshold": threshold, "templates_compared": len(held)})
        raise err

    def verify(self, actor: Actor, subject_id: str, deployment_id: str, image: bytes,
               purpose: str | None = None, attributes: Sequence[str] = (),
               transaction: str | None = None, choice: str | None = None
               ) -> dict[str, Any]:
        """1:1: does the face in ``image`` belong to the claimed subject
        (``Verification.verify``)?"""
        bounded(transaction, "transaction", TRANSACTION_MAX)
        return self.verification.verify(actor, subject_id, deployment_id, image, purpose,
                                        attributes, transaction, choice)

    def identify(self, actor: Actor, deployment_id: str, image: bytes, top: int = 5,
                 purpose: str | None = None, attributes: Sequence[str] = (),
                 transaction: str | None = None, choice: str | None = None
                 ) -> dict[str, Any]:
        """1:N over the templates consented for this deployment, for every face of the image
        (``Identification.identify``)."""
        bounded(transaction, "transaction", TRANSACTION_MAX)
        return self.identification.identify(actor, deployment_id, image, top, purpose,
                                            attributes, transaction, choice)
