"""1:N identification: every face of an image (the ``MAX_FACES`` largest) searched over the
templates consented for the deployment, nothing below its threshold. The index proposes, the
store decides: each candidate passes the gate on its own consent (``purpose.bound``) and
retention (``retention.minimum``). An enrolment at a 1:N deployment runs the same search to
warn of possible duplicates (the face already matches another subject there)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from facegate.engine import Engine, Face
from facegate.errors import BadInput
from facegate.index import Hit, VectorIndex
from facegate.policy import Decision, Facts, Manifest, SubjectFacts, decide
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.faces import Recogniser, key_of, same_face
from facegate.service.facts import FactBuilder, consent_facts
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.indexes import IndexRegistry
from facegate.service.views import box_view
from facegate.store.models import Deployment, Subject, Template
from facegate.store.repository import aware
from facegate.store.uow import UnitOfWork

# Faces searched in one image, largest first: a door camera sees the person at the door and
# perhaps a queue behind; a crowd is not what a 1:N deployment is assessed for, and the cost
# of the search grows with every face.
MAX_FACES = 10
# Other subjects an enrolment reports as possible duplicates, best first.
DUPLICATES_SHOWN = 5
# Over-fetch from the index: ask for OVERFETCH x k candidates; if fewer than k survive the
# store's confirmation while the index returned all it was asked for (and the last one was
# still above the threshold), ask again for GROWTH times as many, at most ROUNDS times.
OVERFETCH = 2
GROWTH = 4
ROUNDS = 4


@dataclass(frozen=True, kw_only=True)
class Identification:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    facts: FactBuilder
    recogniser: Recogniser
    indexes: IndexRegistry

    def confirmed(self, s: Session, dep: Deployment, manifest: Manifest, hits: Iterable[Hit]
                  ) -> list[dict[str, Any]]:
        """The hits the store confirms, each on its own gate decision: the subject still
        exists, their consent at this deployment stands (``purpose.bound``) and the template's
        retention has not ended (``retention.minimum``, between housekeepings)."""
        out = []
        now = self.clock.now()
        for h in hits:
            sub = s.get(Subject, h.subject_id)
            if sub is None or sub.deleted_at is not None:
                continue
            t = s.get(Template, h.template_id)
            if t is None:
                continue
            c = records.active_consent(s, h.subject_id, dep.id)
            ended = aware(t.expires_at) <= now
            d = decide(Facts(operation="identify.match", pack=dep.rule_pack,
                             on=self.clock.today(), deployment=manifest,
                             subject=SubjectFacts(h.subject_id), consent=consent_facts(c),
                             template_expires_on=aware(t.expires_at).date() if ended
                             else None))
            if d.allowed:
                out.append({"subject": h.subject_id, "score": round(h.score, 6)})
        return out

    def confirmed_search(self, s: Session, dep: Deployment, manifest: Manifest,
                         index: VectorIndex, embedding: NDArray[np.float32], k: int,
                         threshold: float, exclude: str | None = None
                         ) -> list[dict[str, Any]]:
        """Up to ``k`` candidates at or above ``threshold``, best first, each confirmed by the
        store (``confirmed``); ``exclude``: a subject never returned.

        The index proposes, the store decides: an index entry may be stale (a subject
        withdrawn or deleted by another process, a template expired, a consent withdrawn
        since the index was built). A stale entry can cost time, never correctness: a
        withdrawn subject never matches, because every candidate is confirmed (subject alive,
        consent standing, template alive and unexpired) before it is returned. So that stale
        entries do not crowd out live ones, the index is asked for more than ``k`` and asked
        again, for more, while fewer than ``k`` survive and it had more to give."""
        judged: dict[str, dict[str, Any] | None] = {}  # subject -> confirmed, or None
        out: list[dict[str, Any]] = []
        ask = OVERFETCH * k
        for _ in range(ROUNDS):
            hits = index.search(embedding, ask)
            fresh = [h for h in hits if h.score >= threshold and h.subject_id != exclude
                     and h.subject_id not in judged]
            ok = {c["subject"]: c for c in self.confirmed(s, dep, manifest, fresh)}
            for h in fresh:
                judged[h.subject_id] = ok.get(h.subject_id)
            out = [c for c in (judged.get(h.subject_id) for h in hits) if c is not None]
            if len(out) >= k or len(hits) < ask or hits[-1].score < threshold:
                break
            ask *= GROWTH
        return out[:k]

    def possible_duplicates(self, uow: UnitOfWork, decision: Decision, dep: Deployment,
                            manifest: Manifest, subject_id: str, faces: Sequence[Face],
                            engine: Engine) -> list[dict[str, Any]]:
        """Other subjects of the deployment whom one of ``faces`` (described by ``engine``)
        already matches at the deployment's 1:N threshold, best first (each confirmed as an
        identification candidate would be). ``decision``: the enrolment's, whose permit opens
        the deployment's index."""
        self.indexes.wait_loaded(dep.id)
        with self.indexes.lock:
            index = self.indexes.for_deployment(uow, decision, dep.id, engine)
            threshold, _ = self.recogniser.threshold_at(manifest, key_of(engine),
                                                        index.subject_count())
            best: dict[str, dict[str, Any]] = {}
            for face in faces:
                assert face.embedding is not None
                for c in self.confirmed_search(uow.session, dep, manifest, index,
                                               face.embedding, DUPLICATES_SHOWN, threshold,
                                               exclude=subject_id):
                    seen = best.get(c["subject"])
                    if seen is None or c["score"] > seen["score"]:
                        best[c["subject"]] = c
        return sorted(best.values(), key=lambda c: -c["score"])[:DUPLICATES_SHOWN]

    def identify(self, actor: Actor, deployment_id: str, image: bytes, top: int = 5,
                 purpose: str | None = None, attributes: Sequence[str] = (),
                 transaction: str | None = None, choice: str | None = None
                 ) -> dict[str, Any]:
        """1:N over the templates consented for this deployment only, for each face of the
        image (the ``MAX_FACES`` largest); nothing below the threshold is returned.
        ``candidates``: the largest face's; ``faces``: each searched face, its box in the
        upload's pixels and its candidates."""
        if not 1 <= top <= 100:
            raise BadInput("top must be between 1 and 100")
        self.gate.attributes(actor, "identify", attributes, deployment=deployment_id)
        with self.uow() as uow:
            dep, manifest = records.deployment(uow.session, deployment_id)
            facts = self.facts.at_deployment(uow.session, actor, "identify", dep, manifest,
                                             purpose=purpose, transaction=transaction,
                                             choice=choice)
            current, target = dep.engine or self.recogniser.key, dep.migrating_to
        decision = self.gate.check(actor, facts, deployment=deployment_id,
                                   purpose=dep.purpose)
        keys = [current, target] if target else [current]
        try:
            scans = self.recogniser.probe(image, [self.recogniser.engine_for(k) for k in keys])
        except BadInput as e:
            self.audit.error(actor, "identify", e, None, deployment_id)
            raise
        scan = scans[0]
        searched = scan.faces[:MAX_FACES]
        self.indexes.wait_loaded(deployment_id)  # a start's load of this index, not a second
        with self.indexes.lock, self.uow() as uow:
            s = uow.session
            galleries = []
            for key in keys:  # a deployment moving to another engine has two galleries
                index = self.indexes.for_deployment(uow, decision, deployment_id,
                                                    self.recogniser.engine_for(key))
                size = index.subject_count()
                threshold, fmr = self.recogniser.threshold_at(manifest, key, size)
                galleries.append((key, index, threshold, fmr, size))
            faces: list[dict[str, Any]] = []
            for face in searched:
                found: dict[str, tuple[float, dict[str, Any]]] = {}
                for (key, index, threshold, _, _), other in zip(galleries, scans, strict=True):
                    probe = face if other is scan else same_face(face, other)
                    if probe is None or probe.embedding is None:
                        continue
                    for c in self.confirmed_search(s, dep, manifest, index, probe.embedding,
                                                   top, threshold):
                        margin = c["score"] - threshold  # scores of two engines differ
                        if c["subject"] not in found or margin > found[c["subject"]][0]:
                            found[c["subject"]] = (margin, {**c, "engine": key}
                                                   if target else c)
                ranked = [c for _, c in sorted(found.values(), key=lambda mc: -mc[0])][:top]
                faces.append({"box": box_view(face.box, scan.scale, scan.width, scan.height),
                              "candidates": ranked})
            candidates = faces[0]["candidates"]
            _, _, threshold, fmr, _ = galleries[0]
            gallery = (galleries[0][4] if len(galleries) == 1  # a million: no set copied
                       else len(set().union(*(g[1].subjects() for g in galleries))))
            self.audit.record(s, actor, "identify", "allowed", decision.rules,
                              deployment=deployment_id, purpose=dep.purpose,
                              subject=candidates[0]["subject"] if candidates else None,
                              detail={"candidates": [c["subject"] for c in candidates],
                                      "faces": [[c["subject"] for c in f["candidates"]]
                                                for f in faces],
                                      "top": top, "threshold": threshold, "engines": keys,
                                      **actor.at(transaction)})
            uow.commit()
        return {"deployment": deployment_id, "candidates": candidates, "faces": faces,
                "threshold": threshold, "fmr_target": fmr, "gallery": gallery,
                # per face searched, of someone not enrolled (open set): gallery size x FMR
                "expected_false_matches": float(f"{gallery * fmr:.3g}"),
                "faces_detected": len(scan.faces), "engine": current,
                "engines": [{"engine": key, "threshold": t, "fmr_target": f, "gallery": n}
                            for key, _, t, f, n in galleries],
                "decision": decision.to_dict()}
