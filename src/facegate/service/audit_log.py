"""Writing the audit trail from the use cases: one record per decision, in the caller's
transaction, or in its own for refusals and errors (which roll the caller's back). Each record
is signed with the checkpoint signing key as it is written (``security.controls``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from facegate.audit import AuditEntry, append
from facegate.errors import FacegateError
from facegate.service.actors import Actor
from facegate.service.clock import Clock
from facegate.store.uow import UnitOfWork

UowFactory = Callable[[], UnitOfWork]


class AuditLog:
    def __init__(self, uow: UowFactory, clock: Clock,
                 key: Ed25519PrivateKey | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._key = key  # signs each record (None: records are written unsigned)

    def record(self, s: Session, actor: Actor, operation: str, decision: str,
               rules: Sequence[str] = (), **kw: Any) -> dict[str, Any]:
        """Append a record in the caller's transaction (committed with the change)."""
        return append(s, AuditEntry(actor=actor.name, role=actor.role, operation=operation,
                                    decision=decision, rules=tuple(rules), **kw),
                      now=self._clock.now(), sign=self._key.sign if self._key else None)

    def alone(self, actor: Actor, operation: str, decision: str, rules: Sequence[str] = (),
              **kw: Any) -> None:
        """Append a record in a transaction of its own."""
        with self._uow() as uow:
            self.record(uow.session, actor, operation, decision, rules, **kw)
            uow.commit()

    def error(self, actor: Actor, operation: str, err: FacegateError, subject: str | None,
              deployment: str | None, detail: dict[str, Any] | None = None) -> None:
        """An operation that failed on its input (no face, poor image, another person's face)
        after the gate; ``detail`` says more (never a template's values)."""
        self.alone(actor, operation, "error", err.rules, subject=subject,
                   deployment=deployment, detail={"error": err.code, **(detail or {})})
