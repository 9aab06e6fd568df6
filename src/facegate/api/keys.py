"""API keys: a new key with its role (its value is shown once), and who the caller's key is
(``security.controls``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from facegate.api.deps import Service, Who

router = APIRouter(tags=["keys"])


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["operator", "officer", "auditor", "admin"]


class KeyCreated(BaseModel):
    id: str
    name: str
    role: str
    key: str = Field(description="The key's value; shown only now, kept only as a digest.")


class WhoAmI(BaseModel):
    name: str
    role: str


@router.post("/v1/keys", status_code=201, response_model=KeyCreated)
def create_key(who: Who, service: Service, body: KeyIn) -> dict[str, Any]:
    return service.keys.create(who, body.name, body.role)


@router.get("/v1/whoami")
def whoami(who: Who) -> WhoAmI:
    return WhoAmI(name=who.name, role=who.role)
