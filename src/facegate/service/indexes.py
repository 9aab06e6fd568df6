"""The 1:N indexes of this process, one per deployment and engine (a deployment moving to
another engine has two galleries), kept in step with the store: rebuilt when another process
changed the deployment's templates (its generation moved), extended after an enrolment,
emptied of a subject inside the deleting transaction. The index proposes; the store decides
(every candidate is confirmed against it).

Every index holds protected templates (``ProtectedIndex``): turned by the deployment's secret
rotation of its current epoch (``deployments.index_epoch``), so that no index, in this process
or outside it, holds a template that could be compared with another deployment's."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from facegate.crypto import KeyRing
from facegate.engine import Engine
from facegate.index import ExactIndex, IvfIndex, VectorIndex
from facegate.index.protected import ProtectedIndex, rotation
from facegate.policy import Decision
from facegate.service.clock import Clock
from facegate.service.faces import key_of
from facegate.store.models import Deployment, SubjectKey
from facegate.store.repository import generation
from facegate.store.uow import UnitOfWork


class IndexRegistry:
    def __init__(self, keyring: KeyRing, clock: Clock, backend: str = "exact") -> None:
        self._keyring = keyring
        self._clock = clock
        self.backend = backend
        self._indexes: dict[tuple[str, str], tuple[int, ProtectedIndex]] = {}
        self._rotations: dict[tuple[str, int, int], NDArray[np.float64]] = {}
        self.lock = threading.RLock()

    def rotation(self, deployment_id: str, epoch: int, dim: int) -> NDArray[np.float64]:
        """The deployment's secret rotation of ``dim``-dimensional templates at ``epoch``."""
        slot = (deployment_id, epoch, dim)
        found = self._rotations.get(slot)
        if found is None:
            self._drop_rotations(deployment_id, keep=epoch)  # the deployment was re-keyed
            found = rotation(self._keyring.index_seed(deployment_id, epoch), dim)
            self._rotations[slot] = found
        return found

    def for_deployment(self, uow: UnitOfWork, decision: Decision, deployment_id: str,
                       engine: Engine) -> ProtectedIndex:
        """The deployment's index of ``engine``'s templates, rebuilt from the store (through
        the gate's permit) when another process, or this one, changed its templates since it
        was built."""
        s = uow.session
        gen = generation(s, deployment_id)
        slot = (deployment_id, key_of(engine))
        cached = self._indexes.get(slot)
        if cached is not None and cached[0] == gen:
            return cached[1]
        dep = s.get(Deployment, deployment_id)
        epoch = dep.index_epoch if dep is not None else 0
        kind = (dep.manifest.get("index") if dep is not None else None) or self.backend
        inner: VectorIndex = IvfIndex(engine.dim) if kind == "ivf" else ExactIndex(engine.dim)
        index = ProtectedIndex(inner, self.rotation(deployment_id, epoch, engine.dim))
        keys = s.execute(select(SubjectKey)).scalars()
        deks = {k.subject_id: self._keyring.unwrap(k.subject_id, k.wrapped) for k in keys}
        for t in uow.templates.open_for_index(decision.permit(), deployment_id, engine.name,
                                              engine.model_version, deks, self._clock.now()):
            index.add(t.id, t.subject_id, t.vector)
        self._indexes[slot] = (gen, index)
        return index

    def generations(self, s: Session) -> dict[str, int]:
        """Store generations of the deployments this process holds an index for."""
        return {dep: generation(s, dep) for dep in {d for d, _ in self._indexes}}

    def drop_subject(self, s: Session, before: dict[str, int], subject_id: str,
                     deployment_ids: list[str] | None = None) -> int:
        """Remove a subject from the indexes inside the deleting transaction. ``before``: the
        generations read before the store change, to tell a fresh index (advanced to the new
        generation) from a stale one (dropped, rebuilt on next use)."""
        n = 0
        for slot, (gen, index) in list(self._indexes.items()):
            dep = slot[0]
            if deployment_ids is not None and dep not in deployment_ids:
                continue
            n += index.remove_subject(subject_id)
            if gen == before.get(dep):
                self._indexes[slot] = (generation(s, dep), index)
            else:
                del self._indexes[slot]
        return n

    def added(self, deployment_id: str, engine_key: str, gen_before: int, gen_after: int,
              subject_id: str, entries: Iterable[tuple[str, NDArray[np.float32]]]) -> None:
        """Templates of ``engine_key`` were committed: extend a fresh index (the deployment's
        other engine's index is fresh too: its templates did not change), or drop a stale
        one."""
        with self.lock:
            for slot, (gen, index) in list(self._indexes.items()):
                if slot[0] != deployment_id:
                    continue
                if gen != gen_before:
                    del self._indexes[slot]
                    continue
                if slot[1] == engine_key:
                    for template_id, vector in entries:
                        index.add(template_id, subject_id, vector)
                self._indexes[slot] = (gen_after, index)

    def forget(self, deployment_id: str) -> None:
        """Drop a deployment's indexes; they are rebuilt from the store on next use."""
        for slot in [k for k in self._indexes if k[0] == deployment_id]:
            del self._indexes[slot]

    def rekeyed(self, deployment_id: str, epoch: int) -> None:
        """The deployment moved to ``epoch``: drop its indexes and its older rotations."""
        self.forget(deployment_id)
        self._drop_rotations(deployment_id, keep=epoch)

    def _drop_rotations(self, deployment_id: str, keep: int) -> None:
        for slot in [k for k in self._rotations if k[0] == deployment_id and k[1] != keep]:
            del self._rotations[slot]

    def held(self, deployment_id: str) -> list[ProtectedIndex]:
        """The indexes this process holds for a deployment (one per engine)."""
        return [index for (dep, _), (_, index) in self._indexes.items()
                if dep == deployment_id]

    def commit_or_invalidate(self, uow: UnitOfWork) -> None:
        """Commit a deletion and shred what it deleted from the database's files; if the
        commit fails, drop every index so they are rebuilt from the store (which still holds
        what was not deleted)."""
        try:
            uow.commit()
        except Exception:
            self._indexes.clear()
            raise
        uow.shred()  # no copy of what was deleted stays in the database's files
