"""The 1:N indexes of this process, one per deployment and engine (a deployment moving to
another engine has two galleries), kept in step with the store through its change log.

Every use case that changes a deployment's templates (enrolment, withdrawal, deletion,
housekeeping's expiry, termination, engine migration, re-keying) writes rows of the
append-only change log (``index_changes``, ``facegate.store.repository.record_change``) in
its own transaction: ``add`` (template ids), ``remove_subject``, ``remove_templates``
(template ids) or ``rebuild``. The log is numbered in commit order per deployment (the writer
locks the deployment's row before it takes a number), so it has no gaps.

Each held index remembers the last change it applied. Before it is searched
(``for_deployment``) it applies the deployment's changes after that one: removals directly,
additions by opening just those templates from the store (through the gate's permit, under
the same conditions as a rebuild: consent standing, retention running). A ``rebuild`` change
(termination, re-keying), a ``horizon`` (housekeeping pruned older rows, which this index had
not all applied), a kind it does not know, or an index it does not hold yet, means a
full rebuild from the store, which starts from the latest change read before the templates
are: changes that land meanwhile are applied again, harmlessly (an addition replaces the
entry it finds, a removal of what is absent does nothing). Several processes (``facegate serve
--workers N``) thus agree without rebuilding a whole index per change; ``rebuilds`` counts the
full rebuilds of this process.

The deleting process also removes a subject's or templates' entries from its own indexes
inside the deleting transaction (``drop_subject``, ``drop_templates``); if the commit fails,
every index is dropped (``commit_or_invalidate``).

The index proposes; the store decides. Every candidate is confirmed against the store before
it is returned (``Identification.confirmed_search``): that confirmation, not the change log,
is what puts a withdrawal in force in every process before the withdrawal's response returns;
the change log only makes keeping the other processes' indexes clean cheap.

A milvus collection is shared by every process of the installation: a full rebuild in one
of them upserts what the store has and then removes what it no longer has, never dropping
the collection under the others.

Every index holds protected templates (``ProtectedIndex``): turned by the deployment's secret
rotation of its current epoch (``deployments.index_epoch``), so that no index, in this process
or outside it, holds a template that could be compared with another deployment's."""


from __future__ import annotations

import contextlib
import json
import threading

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from facegate.crypto import KeyRing
from facegate.engine import Engine
from facegate.index import ExactIndex, IvfIndex, VectorIndex
from facegate.index.protected import ProtectedIndex, rotation
from facegate.policy import Decision
from facegate.service.clock import Clock
from facegate.service.faces import key_of
from facegate.store.models import Deployment, IndexChange, SubjectKey, Template
from facegate.store.repository import changes_after, last_change
from facegate.store.uow import UnitOfWork


class IndexRegistry:
    def __init__(self, keyring: KeyRing, clock: Clock, backend: str = "exact",
                 milvus_uri: str = "http://127.0.0.1:19530",
                 milvus_token: str | None = None) -> None:
        self._keyring = keyring
        self._clock = clock
        self.backend = backend
        self.milvus = (milvus_uri, milvus_token)  # the milvus backend's server
        self._indexes: dict[tuple[str, str], tuple[int, ProtectedIndex]] = {}
        self._rotations: dict[tuple[str, int, int], NDArray[np.float64]] = {}
        self.rebuilds = 0  # full rebuilds from the store, in this process
        self.lock = threading.RLock()
        self._loading: dict[tuple[str, str], threading.Event] = {}  # preloads under way

    def rotation(self, deployment_id: str, epoch: int, dim: int) -> NDArray[np.float64]:
        """The deployment's secret rotation of ``dim``-dimensional templates at ``epoch``."""
        slot = (deployment_id, epoch, dim)
        with self.lock:
            found = self._rotations.get(slot)
            if found is None:
                self._drop_rotations(deployment_id, keep=epoch)  # the deployment was re-keyed
                found = rotation(self._keyring.index_seed(deployment_id, epoch), dim)
                self._rotations[slot] = found
            return found

    def for_deployment(self, uow: UnitOfWork, decision: Decision, deployment_id: str,
                       engine: Engine) -> ProtectedIndex:
        """The deployment's index of ``engine``'s templates, brought up to date: the change
        log's rows after the last one it applied are applied, or (a ``rebuild`` change, or no
        index held) it is rebuilt from the store, through the gate's permit."""
        with self.lock:
            slot = (deployment_id, key_of(engine))
            cached = self._indexes.get(slot)
            if cached is not None:
                applied, index = cached
                changes = changes_after(uow.session, deployment_id, applied)
                if not changes:
                    return index
                if self._apply(uow, decision, slot, engine, index, changes):
                    self._indexes[slot] = (changes[-1].seq, index)
                    return index
            return self._rebuild(uow, decision, slot, engine)

    def preload(self, uow: UnitOfWork, decision: Decision, deployment_id: str,
                engine: Engine) -> ProtectedIndex:
        """Build the deployment's index from the store without holding ``lock`` (a million
        templates take tens of seconds; withdrawals and other deployments' searches go on),
        then hold it. Searches of this deployment wait for it (``wait_loaded``) instead of
        building their own; changes committed meanwhile are applied by the next
        ``for_deployment``, as after any rebuild. ``uow``: a read-only one serves."""
        slot = (deployment_id, key_of(engine))
        done = threading.Event()
        with self.lock:
            if slot in self._indexes:  # held already: brought up to date, as for a search
                return self.for_deployment(uow, decision, deployment_id, engine)
            self._loading[slot] = done
        try:
            seq, index = self._build(uow, decision, slot, engine)
            with self.lock:
                if slot not in self._indexes:
                    self._indexes[slot] = (seq, index)
                    self.rebuilds += 1
                return self._indexes[slot][1]
        finally:
            with self.lock:
                self._loading.pop(slot, None)
            done.set()

    def wait_loaded(self, deployment_id: str, timeout: float | None = None) -> None:
        """Wait until no preload of the deployment's indexes is under way (call it before
        taking ``lock``)."""
        with self.lock:
            waiting = [e for (dep, _), e in self._loading.items() if dep == deployment_id]
        for event in waiting:
            event.wait(timeout)

    def _apply(self, uow: UnitOfWork, decision: Decision, slot: tuple[str, str],
               engine: Engine, index: ProtectedIndex, changes: list[IndexChange]) -> bool:
        """Apply ``changes`` in order; False (nothing more applied) at one that asks for a
        full rebuild."""
        adds: list[IndexChange] = []
        for c in changes:
            if c.kind not in ("add", "remove_subject", "remove_templates"):
                return False  # "rebuild", or a kind this version does not know
            if c.engine is not None and c.engine != slot[1]:
                continue
            if c.kind == "add":
                adds.append(c)
                continue
            self._add(uow, decision, slot[0], engine, index, adds)
            adds = []
            if c.kind == "remove_subject" and c.subject_id is not None:
                index.remove_subject(c.subject_id)
            elif c.kind == "remove_templates":
                index.remove_templates(list(json.loads(c.template_ids)))
        self._add(uow, decision, slot[0], engine, index, adds)
        return True

    def _add(self, uow: UnitOfWork, decision: Decision, deployment_id: str, engine: Engine,
             index: ProtectedIndex, adds: list[IndexChange]) -> None:
        """Open the templates the ``adds`` name, and only those, and add them."""
        if not adds:
            return
        ids = [str(i) for c in adds for i in json.loads(c.template_ids)]
        subjects = {c.subject_id for c in adds if c.subject_id is not None}
        keys = uow.session.execute(select(SubjectKey).where(
            SubjectKey.subject_id.in_(subjects))).scalars()
        deks = {k.subject_id: self._keyring.unwrap(k.subject_id, k.wrapped) for k in keys}
        for t in uow.templates.open_given(decision.permit(), deployment_id, engine.name,
                                          engine.model_version, ids, deks, self._clock.now()):
            index.add(t.id, t.subject_id, t.vector)

    def _rebuild(self, uow: UnitOfWork, decision: Decision, slot: tuple[str, str],
                 engine: Engine) -> ProtectedIndex:
        seq, index = self._build(uow, decision, slot, engine)
        self._indexes[slot] = (seq, index)
        self.rebuilds += 1
        return index

    def _build(self, uow: UnitOfWork, decision: Decision, slot: tuple[str, str],
               engine: Engine) -> tuple[int, ProtectedIndex]:
        """A new index of the deployment from the store, and the change it is current to."""
        s = uow.session
        deployment_id = slot[0]
        # Read before the templates: a change that lands meanwhile is applied again later.
        seq = last_change(s, deployment_id)
        dep = s.get(Deployment, deployment_id)
        epoch = dep.index_epoch if dep is not None else 0
        kind = (dep.manifest.get("index") if dep is not None else None) or self.backend
        inner = self._inner(str(kind), engine, deployment_id, epoch)
        index = ProtectedIndex(inner, self.rotation(deployment_id, epoch, engine.dim))
        # Only the keys of the deployment's subjects are unwrapped.
        keys = s.execute(select(SubjectKey).where(SubjectKey.subject_id.in_(
            select(Template.subject_id).where(Template.deployment_id == deployment_id)
            .distinct()))).scalars()
        deks = {k.subject_id: self._keyring.unwrap(k.subject_id, k.wrapped) for k in keys}
        bulk = getattr(inner, "bulk", None)  # ivf: one build, at the full size, after
        with bulk() if bulk is not None else contextlib.nullcontext():
            for part in uow.templates.open_for_index(decision.permit(), deployment_id,
                                                     engine.name, engine.model_version, deks,
                                                     self._clock.now()):
                index.add_many(part.ids, part.subject_ids, part.vectors)
        settle = getattr(inner, "remove_absent", None)
        if settle is not None:  # a shared collection: what the store no longer has goes
            settle()
        return seq, index

    def _inner(self, kind: str, engine: Engine, deployment_id: str, epoch: int) -> VectorIndex:
        """A new index of ``kind``: empty, or for milvus, the collection other processes
        share, which the rebuild settles (``MilvusIndex.remove_absent``)."""
        if kind == "ivf":
            return IvfIndex(engine.dim)
        if kind == "milvus":
            from facegate.index.milvus import MilvusIndex  # the client only where it is used

            uri, token = self.milvus
            return MilvusIndex.for_deployment(engine.dim, uri, deployment_id, key_of(engine),
                                              epoch, token=token)
        return ExactIndex(engine.dim)

    def drop_subject(self, subject_id: str, deployment_ids: list[str] | None = None,
                     engine_key: str | None = None) -> int:
        """Remove a subject from this process's indexes (of ``deployment_ids``, or all; of
        ``engine_key``, or every engine), inside the deleting transaction; the other
        processes apply the transaction's change rows before their next search."""
        n = 0
        with self.lock:
            for (dep, key), (_, index) in self._indexes.items():
                if ((deployment_ids is None or dep in deployment_ids)
                        and engine_key in (None, key)):
                    n += index.remove_subject(subject_id)
        return n

    def drop_templates(self, deployment_id: str, template_ids: list[str]) -> int:
        """Remove templates from this process's indexes of a deployment, inside the deleting
        transaction (housekeeping's expiry)."""
        n = 0
        with self.lock:
            for (dep, _), (_, index) in self._indexes.items():
                if dep == deployment_id:
                    n += index.remove_templates(template_ids)
        return n

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

    def held(self, deployment_id: str, engine_key: str | None = None) -> list[ProtectedIndex]:
        """The indexes this process holds for a deployment (one per engine; or the one of
        ``engine_key``)."""
        return [index for (dep, key), (_, index) in self._indexes.items()
                if dep == deployment_id and engine_key in (None, key)]

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
