"""Loading the 1:N indexes at start, and whether the service is ready (``/readyz``).

A fresh process holds no index: the first identification at each 1:N deployment would rebuild
its index from the store while the caller waits (a million templates take tens of seconds).
``Readiness.load`` builds them at start instead, in the background. Each load passes the gate
(operation ``index.load``: the role may (``security.controls``), the deployment is active and
registered for 1:N (``purpose.bound``), it has not ended face recognition
(``filing.deregister``)) and leaves an audit record with the number of templates loaded; the
index itself opens only templates whose consent stands and whose retention runs, as every
rebuild does. Each index is built in a read-only transaction and without the registry's
lock (``IndexRegistry.preload``): withdrawals, enrolments and other deployments' searches go
on while a large gallery loads, and a search of the deployment being loaded waits for it
rather than building a second copy. Liveness (``/healthz``) holds meanwhile; readiness holds
once every index is loaded and the store answers.

An index loaded here is still only a proposer: identification confirms every candidate
against the store, so a load that races a withdrawal costs time, never correctness."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text

from facegate.errors import FacegateError
from facegate.index import IvfIndex
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.faces import Recogniser
from facegate.service.facts import FactBuilder
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.indexes import IndexRegistry
from facegate.store.models import Deployment


class LoadState:
    """Where loading stands, shared by the loading thread and the readiness probe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.phase = "waiting"  # waiting | loading | loaded | failed
        self.seconds: float | None = None
        self.loaded: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.error: str | None = None

    def set(self, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self, name, value)

    def append(self, kind: str, entry: dict[str, Any]) -> None:
        """Add an index to ``loaded`` or a refusal to ``refused``."""
        with self._lock:
            getattr(self, kind).append(entry)

    def view(self) -> dict[str, Any]:
        with self._lock:
            return {"phase": self.phase, "seconds": self.seconds,
                    "loaded": [dict(e) for e in self.loaded],  # status() adds to its copies
                    "refused": [dict(e) for e in self.refused], "error": self.error}


@dataclass(frozen=True, kw_only=True)
class Readiness:
    uow: UowFactory
    reader: UowFactory  # read-only units of work: a load never holds up the writers
    gate: Gatekeeper
    audit: AuditLog
    facts: FactBuilder
    recogniser: Recogniser
    indexes: IndexRegistry
    state: LoadState = field(default_factory=LoadState)

    def load(self, actor: Actor) -> dict[str, Any]:
        """Build the index of every active 1:N deployment (each engine it matches with) from
        the store; returns what was loaded and what the gate refused."""
        self.state.set(phase="loading", loaded=[], refused=[], error=None)
        started = time.perf_counter()
        try:
            with self.reader() as uow:
                ids = list(uow.session.execute(select(Deployment.id).where(
                    Deployment.status == "active", Deployment.mode == "identify")
                    .order_by(Deployment.id)).scalars())
            for dep_id in ids:
                self._load(actor, dep_id)
        except Exception as e:
            self.state.set(phase="failed", error=f"{type(e).__name__}: {e}",
                           seconds=round(time.perf_counter() - started, 3))
            raise
        self.state.set(phase="loaded", seconds=round(time.perf_counter() - started, 3))
        return self.state.view()

    def _load(self, actor: Actor, deployment_id: str) -> None:
        with self.reader() as uow:
            dep, manifest = records.deployment(uow.session, deployment_id)
            facts = self.facts.at_deployment(uow.session, actor, "index.load", dep, manifest,
                                             purpose=None)
            keys = [dep.engine or self.recogniser.key]
            keys += [dep.migrating_to] if dep.migrating_to else []
            purpose = dep.purpose
        try:
            decision = self.gate.check(actor, facts, deployment=deployment_id, purpose=purpose)
        except FacegateError as e:  # audited by the gate; the service serves without it
            self.state.append("refused", {"deployment": deployment_id, "rules": e.rules})
            return
        for key in keys:
            engine = self.recogniser.engine_for(key)
            t = time.perf_counter()
            with self.reader() as uow:
                index = self.indexes.preload(uow, decision, deployment_id, engine)
            seconds = round(time.perf_counter() - t, 3)
            entry = {"deployment": deployment_id, "engine": key, "templates": len(index),
                     "backend": type(index.inner).__name__, "seconds": seconds}
            with self.uow() as uow:
                self.audit.record(uow.session, actor, "index.load", "allowed", decision.rules,
                                  deployment=deployment_id, purpose=purpose,
                                  detail={"engine": key, "template_count": len(index),
                                          "seconds": seconds})
                uow.commit()
            self.state.append("loaded", entry)

    def status(self) -> dict[str, Any]:
        """``ready`` when the indexes are loaded and the store answers; what is loaded (gallery
        sizes and backends, no personal data), and for an IVF index whether it serves yet
        (exact search serves until it does)."""
        view = self.state.view()
        try:
            with self.reader() as uow:
                uow.session.execute(text("SELECT 1"))
            store = True
        except Exception:  # the probe reports it; the next probe tries again
            store = False
        for entry in view["loaded"]:  # as held now: enrolments and withdrawals since count
            for index in self.indexes.held(entry["deployment"], entry["engine"]):
                entry["templates"] = len(index)
                if isinstance(index.inner, IvfIndex):
                    entry["ivf_serving"] = index.inner.ready
        return {"ready": store and view["phase"] == "loaded", "store": store, **view}
