"""API keys: a new key with its role (its value is shown once), the keys held (never a value
or a digest), revoking one (refused at once from then on), and who the caller's key is
(``security.controls``; ``key.manage`` through the gate, audited). A ``device`` key (a kiosk)
names its deployment and one of the devices registered in that deployment's manifest."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from facegate.api.deps import Service, Who
from facegate.api.paging import KNOWN_QUERY, PAGED, Paging, paginate_in_order

router = APIRouter(tags=["keys"], dependencies=KNOWN_QUERY)


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["operator", "officer", "auditor", "admin", "device"]
    deployment: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="A device key's deployment (only a device key names one).")
    device: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="A device key's device: one of the ids in the deployment manifest's "
                    "``devices``.")


class KeyCreated(BaseModel):
    id: str
    name: str
    role: str
    key: str = Field(description="The key's value; shown only now, kept only as a digest.")
    deployment: str | None = Field(description="A device key's deployment; null otherwise.")
    device: str | None = Field(description="A device key's device; null otherwise.")


class KeyOut(BaseModel):
    """A key as it is listed: never its value or its digest."""

    id: str
    name: str
    role: str
    created_at: str
    revoked: bool
    revoked_at: str | None
    deployment: str | None = Field(description="A device key's deployment; null otherwise.")
    device: str | None = Field(description="A device key's device; null otherwise.")
    last_used_at: str | None = Field(
        description="A device key's last use, to the minute; null before its first use and "
                    "for other keys.")


class KeyRevoked(BaseModel):
    id: str
    revoked: bool
    revoked_at: str = Field(description="When it was revoked (the first time it was asked).")


KeyId = Annotated[str, Path(min_length=1, max_length=40)]


class WhoAmI(BaseModel):
    name: str
    role: str
    deployment: str | None = Field(default=None,
                                   description="A device key's deployment; null otherwise.")
    device: str | None = Field(default=None,
                               description="A device key's device; null otherwise.")


@router.post("/v1/keys", status_code=201, response_model=KeyCreated)
def create_key(who: Who, service: Service, body: KeyIn) -> dict[str, Any]:
    """A new key; a ``device`` key names its deployment and a device of its manifest."""
    return service.keys.create(who, body.name, body.role, deployment=body.deployment,
                               device=body.device)


@router.get("/v1/keys", response_model=list[KeyOut], responses=PAGED)
def list_keys(who: Who, service: Service, page: Paging,
              response: Response) -> list[dict[str, Any]]:
    """The keys, oldest first, paginated; revoked ones say when."""
    return paginate_in_order(service.keys.all(who), lambda k: str(k["id"]), page, response,
                             "keys")


@router.delete("/v1/keys/{key_id}", response_model=KeyRevoked)
def revoke_key(who: Who, service: Service, key_id: KeyId) -> dict[str, Any]:
    """Revoke a key: every request with it is refused (401) from now on, and a console
    session it signed in ends."""
    return service.keys.revoke(who, key_id)


@router.get("/v1/whoami")
def whoami(who: Who) -> WhoAmI:
    return WhoAmI(name=who.name, role=who.role, deployment=who.deployment, device=who.device)
