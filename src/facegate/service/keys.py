"""API keys (``security.controls``): created with a role, stored only as a digest, revoked;
and who a presented key is."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from facegate.errors import BadInput, NotFound
from facegate.localtime import iso_local
from facegate.service.actors import ROLES, Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.ratelimit import FailureLimiter
from facegate.store.models import ApiKey

UNAUTHENTICATED = Actor("unauthenticated", "none")


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Keys:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    failures: FailureLimiter = field(default_factory=FailureLimiter)

    def create(self, actor: Actor, name: str, role: str) -> dict[str, Any]:
        """A new key; its value is shown once and kept only as a digest."""
        if role not in ROLES:
            raise BadInput(f"role must be one of {', '.join(ROLES)}")
        self.gate.role(actor, "key.manage", key_role=role)
        key = "fg_" + secrets.token_urlsafe(32)
        kid = "key_" + secrets.token_hex(6)
        with self.uow() as uow:
            uow.session.add(ApiKey(id=kid, name=name, role=role, digest=key_digest(key),
                                   created_at=self.clock.now()))
            self.audit.record(uow.session, actor, "key.create", "allowed",
                              ["security.controls"],
                              detail={"key": kid, "name": name, "role": role})
            uow.commit()
        return {"id": kid, "name": name, "role": role, "key": key}

    def all(self, actor: Actor) -> list[dict[str, Any]]:
        """Every key, oldest first: never its value or its digest (the listing is
        audited)."""
        self.gate.role(actor, "key.manage")
        with self.uow() as uow:
            out = [{"id": k.id, "name": k.name, "role": k.role,
                    "created_at": iso_local(k.created_at, self.clock.tz),
                    "revoked": k.revoked_at is not None,
                    "revoked_at": iso_local(k.revoked_at, self.clock.tz)}
                   for k in uow.session.execute(select(ApiKey).order_by(ApiKey.created_at))
                   .scalars()]
            self.audit.record(uow.session, actor, "key.list", "allowed", ["security.controls"],
                              detail={"keys": len(out)})
            uow.commit()
            return out

    def revoke(self, actor: Actor, key_id: str) -> dict[str, Any]:
        with self.uow() as uow:
            k = uow.session.get(ApiKey, key_id)
            role = k.role if k is not None else None
        self.gate.role(actor, "key.manage", key_role=role)  # an officer: no officer's or admin's
        with self.uow() as uow:
            k = uow.session.get(ApiKey, key_id)
            if k is None:
                raise NotFound(f"no API key {key_id!r}")
            k.revoked_at = k.revoked_at or self.clock.now()  # revoked once, when first asked
            at = iso_local(k.revoked_at, self.clock.tz)
            self.audit.record(uow.session, actor, "key.revoke", "allowed",
                              ["security.controls"], detail={"key": key_id})
            uow.commit()
        return {"id": key_id, "revoked": True, "revoked_at": at}

    def _active(self, key: str) -> ApiKey | None:
        with self.uow() as uow:
            return uow.session.execute(select(ApiKey).where(
                ApiKey.digest == key_digest(key), ApiKey.revoked_at.is_(None))
            ).scalar_one_or_none()

    def authenticate(self, key: str | None) -> Actor | None:
        """The actor of an unrevoked key, or None."""
        if not key:
            return None
        k = self._active(key)
        return Actor(f"key:{k.name}", k.role) if k else None

    def locked_out(self, client: str) -> int | None:
        """Seconds until ``client`` may authenticate again, or None when it may now."""
        return self.failures.retry_after(client)

    def failed(self, key: str | None, client: str, path: str) -> bool:
        """Count and audit a missing or unknown key: the client's address and a digest
        prefix of the key presented (never the key), and whether this failure starts the
        client's lockout, which is returned."""
        locked = self.failures.failed(client)
        self.audit.alone(UNAUTHENTICATED, "auth.failed", "refused", ["security.controls"],
                         detail={"client": client, "path": path[:200],
                                 "key": key_digest(key)[:8] if key else None,
                                 "locked_out": locked})
        return locked

    def key_of(self, key: str | None) -> tuple[str, Actor] | None:
        """The key's id and actor (for a console session), or None."""
        if not key:
            return None
        k = self._active(key.strip())
        return (k.id, Actor(f"key:{k.name}", k.role)) if k else None

    def active(self, key_id: str) -> bool:
        """A console session lives only while its key is not revoked."""
        with self.uow() as uow:
            k = uow.session.get(ApiKey, key_id)
            return k is not None and k.revoked_at is None

    def any(self) -> bool:
        """Whether any key was ever created."""
        with self.uow() as uow:
            return bool(uow.session.execute(select(func.count()).select_from(ApiKey))
                        .scalar_one())
