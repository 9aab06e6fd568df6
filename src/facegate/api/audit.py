"""The audit trail: its latest records, filtered, and a check of its whole hash chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from facegate.api.deps import Service, Who

router = APIRouter(tags=["audit"])


class AuditRecordOut(BaseModel):
    """One record of the trail; never an image, never a template."""

    seq: int
    at: str
    actor: str
    role: str
    operation: str
    subject: str | None
    deployment: str | None
    purpose: str | None
    decision: str
    rules: list[str]
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class ChainReport(BaseModel):
    ok: bool
    count: int = Field(description="Records checked.")
    first_broken: int | None = Field(description="The first record that fails, if any.")
    reason: str
    head_hash: str


@router.get("/v1/audit", response_model=list[AuditRecordOut])
def audit_tail(who: Who, service: Service, n: Annotated[int, Query(ge=1, le=1000)] = 50,
               operation: str | None = None, subject: str | None = None,
               deployment: str | None = None) -> list[dict[str, Any]]:
    return service.audit.tail(who, n, operation=operation, subject=subject,
                              deployment=deployment)


@router.get("/v1/audit/verify", response_model=ChainReport)
def audit_verify(who: Who, service: Service) -> dict[str, Any]:
    """Check the whole hash chain; names the first broken record."""
    return service.audit.verify(who)
