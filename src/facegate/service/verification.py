"""1:1 verification: does the face in a live image belong to the claimed subject? One person
at a time: a second face about as large as the first makes the claim ambiguous. At a
deployment moving to another engine, a successful match against an old template also gives
the subject a template of the new engine (``migration.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from facegate.errors import BadInput, NoFace, NotFound, SeveralFaces
from facegate.policy import decide
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.faces import Recogniser, Scan, same_face
from facegate.service.facts import FactBuilder
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.identities import Identities
from facegate.service.indexes import IndexRegistry
from facegate.service.migration import EngineMigration, split

# A 1:1 probe is refused when its second face has at least this share of the largest face's
# box area: half its width, so at most about twice as far from the camera. Someone that close
# (beside the person, or a photo held up next to them) makes the claim ambiguous; a passer-by
# further back stays well below it, and the detector's box size varies far less than that.
SECOND_FACE_AREA = 0.25
@dataclass(frozen=True, kw_only=True)
class Verification:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    facts: FactBuilder
    identities: Identities
    recogniser: Recogniser
    indexes: IndexRegistry
    migration: EngineMigration

    def probe(self, actor: Actor, operation: str, image: bytes, subject_id: str | None,
              deployment_id: str, keys: Sequence[str]) -> list[Scan]:
        """The faces of a 1:1 probe, one scan per engine: one person at a time
        (``SECOND_FACE_AREA``)."""
        try:
            scans = self.recogniser.probe(image, [self.recogniser.engine_for(k) for k in keys])
            faces = scans[0].faces
            if len(faces) > 1:
                first, second = (f.box.width * f.box.height for f in faces[:2])
                share = second / first if first else 1.0
                if share >= SECOND_FACE_AREA:
                    raise SeveralFaces(
                        f"{len(faces)} faces are in the image and the second is "
                        f"{share:.0%} of the largest's area: one person at a time",
                        details={"faces": len(faces), "area_share": round(share, 3),
                                 "max_area_share": SECOND_FACE_AREA})
        except BadInput as e:
            self.audit.error(actor, operation, e, subject_id, deployment_id)
            raise
        return scans

    def verify(self, actor: Actor, subject_id: str, deployment_id: str, image: bytes,
               purpose: str | None = None, attributes: Sequence[str] = (),
               transaction: str | None = None, choice: str | None = None
               ) -> dict[str, Any]:
        """1:1 against the subject's templates at the deployment, by the engine that made
        them; ``migration`` says what a deployment moving to another engine did."""
        self.gate.attributes(actor, "verify", attributes, subject=subject_id,
                             deployment=deployment_id)
        with self.uow() as uow:
            facts, dep = self.facts.of_use(uow.session, actor, "verify", subject_id,
                                           deployment_id, purpose, transaction=transaction,
                                           choice=choice)
            current, target = dep.engine or self.recogniser.key, dep.migrating_to
        decision = self.gate.check(actor, facts, subject=subject_id, deployment=deployment_id,
                                   purpose=dep.purpose)
        keys = [current, target] if target else [current]
        scans = self.probe(actor, "verify", image, subject_id, deployment_id, keys)
        face = scans[0].faces[0]
        faces = {current: face, **({target: same_face(face, scans[1])} if target else {})}
        migration: dict[str, Any] | None = None
        moved = False
        lock = self.indexes.lock if target else contextlib.nullcontext()
        with lock, self.uow() as uow:
            s = uow.session
            dek = self.identities.dek(s, subject_id)
            used, stored = current, []
            for key in ([target] if target else []) + [current]:
                stored = uow.templates.open_for_subject(decision.permit(), dek, subject_id,
                                                        deployment_id, *split(key))
                if stored:
                    used = key
                    break
            if not stored:  # the claim was checked, against nothing: the trail says so
                missing = NotFound(f"subject {subject_id} has no template from engine "
                                   f"{current} at {deployment_id}; enrol first")
                uow.rollback()
                self.audit.error(actor, "verify", missing, subject_id, deployment_id,
                                 detail=actor.at(transaction))
                raise missing
            now = self.clock.now()
            live = [t for t in stored if t.expires_at > now]
            if not live:  # retention ended: never used, deleted by housekeeping
                ended = max(t.expires_at for t in stored).astimezone(self.clock.tz).date()
                refusal = decide(replace(facts, template_expires_on=ended))
                uow.rollback()
                raise self.gate.refusal(actor, refusal, subject=subject_id,
                                        deployment=deployment_id)
            probe = faces[used]
            if probe is None or probe.embedding is None:
                err = NoFace(f"engine {used} found no face where {current} found one")
                uow.rollback()
                self.audit.error(actor, "verify", err, subject_id, deployment_id)
                raise err
            score = max(float(np.dot(t.vector, probe.embedding)) for t in live)
            assert facts.deployment is not None
            threshold, fmr = self.recogniser.threshold_at(facts.deployment, used)
            match = score >= threshold
            self.audit.record(s, actor, "verify", "allowed", decision.rules,
                              subject=subject_id, deployment=deployment_id,
                              purpose=dep.purpose,
                              detail={"match": match, "score": round(score, 4),
                                      "threshold": threshold, "fmr_target": fmr,
                                      "engine": used, **actor.at(transaction)})
            if match and target and used == current:
                migration = self.migration.step(uow, actor, dep, subject_id, faces[target],
                                                current, target,
                                                max(t.expires_at for t in live))
                moved = bool(migration["moved"])
                if moved:  # the new template reaches the indexes through the change log
                    self.indexes.drop_subject(subject_id, [deployment_id], current)
            uow.commit()
            if moved:
                uow.shred()  # the retired templates leave no copy behind
        auxiliary = "major-interest.manual-review" in [w.rule for w in decision.warnings]
        return {"subject": subject_id, "deployment": deployment_id, "match": match,
                "approved": match and not auxiliary, "manual_review_required": auxiliary,
                "warnings": [w.to_dict() for w in decision.warnings],
                "score": round(score, 6), "threshold": threshold, "fmr_target": fmr,
                "faces_detected": len(scans[0].faces), "engine": used,
                "migration": migration, "decision": decision.to_dict()}

