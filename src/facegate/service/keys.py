"""API keys (``security.controls``): created with a role, stored only as a digest, revoked;
and who a presented key is. A device key belongs to one registered device of one deployment
(a kiosk) and notes when it was last used."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from facegate.errors import BadInput, NotFound
from facegate.localtime import instant, iso_local
from facegate.service import records
from facegate.service.actors import ROLES, Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.ratelimit import FailureLimiter
from facegate.store.models import ApiKey, SignedOutSession

UNAUTHENTICATED = Actor("unauthenticated", "none")
# How finely a device key's last use is kept: one write a minute at most per key.
USE_RESOLUTION = timedelta(minutes=1)


def actor_of(k: ApiKey) -> Actor:
    return Actor(f"key:{k.name}", k.role, k.deployment_id, k.device_id)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Keys:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    failures: FailureLimiter = field(default_factory=FailureLimiter)

    def create(self, actor: Actor, name: str, role: str, deployment: str | None = None,
               device: str | None = None) -> dict[str, Any]:
        """A new key; its value is shown once and kept only as a digest. A ``device`` key (a
        kiosk) names its deployment and one of the devices registered in that deployment's
        manifest; no other key names either."""
        if role not in ROLES:
            raise BadInput(f"role must be one of {', '.join(ROLES)}")
        self.gate.role(actor, "key.manage", key_role=role)  # before anything is looked up
        if role == "device":
            self._registered(deployment, device)
        elif deployment is not None or device is not None:
            raise BadInput("only a device key names a deployment and a device",
                           rules=["security.controls"])
        key = "fg_" + secrets.token_urlsafe(32)
        kid = "key_" + secrets.token_hex(6)
        with self.uow() as uow:
            uow.session.add(ApiKey(id=kid, name=name, role=role, digest=key_digest(key),
                                   created_at=self.clock.now(), deployment_id=deployment,
                                   device_id=device))
            self.audit.record(uow.session, actor, "key.create", "allowed",
                              ["security.controls"], deployment=deployment,
                              detail={"key": kid, "name": name, "role": role,
                                      "device": device})
            uow.commit()
        return {"id": kid, "name": name, "role": role, "key": key, "deployment": deployment,
                "device": device}

    def _registered(self, deployment: str | None, device: str | None) -> None:
        """A device key's deployment exists and lists the device (``devices``)."""
        if not deployment or not device:
            raise BadInput("a device key names its deployment and its device (one of the "
                           "manifest's devices)", rules=["security.controls"])
        with self.uow() as uow:
            try:
                _, manifest = records.deployment(uow.session, deployment)
            except NotFound as e:
                raise NotFound(e.message, rules=["security.controls"]) from e
        ids = [d.id for d in manifest.devices]
        if device not in ids:
            raise BadInput(f"device {device!r} is not registered in the manifest of "
                           f"{deployment} (devices: {', '.join(ids) or 'none'})",
                           rules=["security.controls", "devices.annual-test"])

    def all(self, actor: Actor, deployment: str | None = None) -> list[dict[str, Any]]:
        """Every key (or a deployment's device keys), oldest first: never its value or its
        digest (the listing is audited)."""
        self.gate.role(actor, "key.manage")
        tz = self.clock.tz
        with self.uow() as uow:
            q = select(ApiKey).order_by(ApiKey.created_at)
            if deployment is not None:
                q = q.where(ApiKey.deployment_id == deployment)
            out = [{"id": k.id, "name": k.name, "role": k.role,
                    "created_at": iso_local(k.created_at, tz),
                    "revoked": k.revoked_at is not None,
                    "revoked_at": iso_local(k.revoked_at, tz),
                    "deployment": k.deployment_id, "device": k.device_id,
                    "last_used_at": iso_local(k.last_used_at, tz)}
                   for k in uow.session.execute(q).scalars()]
            self.audit.record(uow.session, actor, "key.list", "allowed", ["security.controls"],
                              deployment=deployment, detail={"keys": len(out)})
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
        """The actor of an unrevoked key, or None. A device key's use is noted (to the
        minute) for the console's last activity."""
        if not key:
            return None
        k = self._active(key)
        if k is None:
            return None
        self._used(k)
        return actor_of(k)

    def _used(self, k: ApiKey) -> None:
        """Note a device key's use, at most once per ``USE_RESOLUTION``; other keys' uses
        are not kept."""
        now = self.clock.now()
        if k.role != "device" or (k.last_used_at is not None
                                  and now - instant(k.last_used_at) < USE_RESOLUTION):
            return
        with self.uow() as uow:
            row = uow.session.get(ApiKey, k.id)
            if row is not None:
                row.last_used_at = now
                uow.commit()

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
        if k is None:
            return None
        self._used(k)
        return k.id, actor_of(k)

    def active(self, key_id: str) -> bool:
        """A console or kiosk session lives only while its key is not revoked; a kiosk's
        request is a use of its device key."""
        with self.uow() as uow:
            k = uow.session.get(ApiKey, key_id)
        if k is None or k.revoked_at is not None:
            return False
        self._used(k)
        return True

    def sign_out(self, session_id: str, expires: int) -> None:
        """A console session signed out: refused from now on by every process, restarts
        included, until it would have expired (then forgotten)."""
        now = self.clock.now()
        with self.uow() as uow:
            s = uow.session
            s.execute(delete(SignedOutSession).where(SignedOutSession.expires_at < now))
            if s.get(SignedOutSession, key_digest(session_id)) is None:
                s.add(SignedOutSession(digest=key_digest(session_id),
                                       expires_at=datetime.fromtimestamp(expires, UTC)))
            uow.commit()

    def signed_out(self, session_id: str) -> bool:
        with self.uow() as uow:
            return uow.session.get(SignedOutSession, key_digest(session_id)) is not None

    def any(self) -> bool:
        """Whether any key was ever created."""
        with self.uow() as uow:
            return bool(uow.session.execute(select(func.count()).select_from(ApiKey))
                        .scalar_one())
