"""The audit trail: its latest records, filtered, a check of its whole hash chain, signed
checkpoints, inclusion proofs and the whole trail for the offline verifier."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from facegate.api.deps import Service, Who
from facegate.api.paging import (
    KNOWN_QUERY,
    LIMIT_MAX,
    PAGED,
    Page,
    Paging,
    paginate,
    paginate_in_order,
)

router = APIRouter(tags=["audit"], dependencies=KNOWN_QUERY)


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
    sig: str | None = Field(description="Ed25519 signature of the record's place and hash by "
                                        "the checkpoint signing key (null only for records "
                                        "a signed checkpoint vouches for).")


class ChainReport(BaseModel):
    ok: bool
    count: int = Field(description="Records checked.")
    first_broken: int | None = Field(description="The first record that fails, if any.")
    reason: str
    head_hash: str


# ``n``, the page size before ``limit`` existed: still honoured, in place of ``limit``.
OLD_N = Query(ge=1, le=LIMIT_MAX, deprecated=True, description="Use ``limit``.")


def _sized(page: Page, n: int | None) -> Page:
    return page if n is None else Page(n, page.cursor)


@router.get("/v1/audit", response_model=list[AuditRecordOut], responses=PAGED)
def audit_tail(who: Who, service: Service, page: Paging, response: Response,
               operation: str | None = None, subject: str | None = None,
               deployment: str | None = None,
               n: Annotated[int | None, OLD_N] = None) -> list[dict[str, Any]]:
    """The latest ``limit`` records matching the filters, oldest first; the next page
    (``X-Next-Cursor``) holds the records before them."""
    page = _sized(page, n)
    after = page.after("audit")
    records = service.audit.page(who, page.limit + 1, int(after[0]) if after else None,
                                 operation=operation, subject=subject, deployment=deployment)
    newest_first = paginate(records, lambda r: (int(r["seq"]),), page, response, "audit",
                            descending=True)
    return newest_first[::-1]


@router.get("/v1/audit/verify", response_model=ChainReport)
def audit_verify(who: Who, service: Service) -> dict[str, Any]:
    """Check the whole hash chain; names the first broken record."""
    return service.audit.verify(who)


class Checkpoint(BaseModel):
    """A signed tree head (RFC 9162 style) over the first ``size`` records of the trail."""

    format: str
    size: int = Field(description="Records covered.")
    root: str = Field(description="Merkle root (hex, RFC 9162 hashing).")
    at: str = Field(description="When it was signed.")
    public_key: str = Field(description="Ed25519 public key (base64).")
    key_id: str
    signature: str = Field(description="Ed25519 signature (base64).")


class InclusionProof(BaseModel):
    """Record ``seq`` is leaf ``seq - 1`` of the tree of ``size`` records with ``root``."""

    seq: int
    hash: str
    size: int
    root: str
    proof: list[str]


@router.post("/v1/audit/checkpoints", response_model=Checkpoint)
def audit_checkpoint(who: Who, service: Service) -> dict[str, Any]:
    """Sign a checkpoint of the whole trail now. It is also kept outside the data directory;
    download it and keep it elsewhere, then check the trail against it offline."""
    return service.audit.checkpoint(who)


@router.get("/v1/audit/checkpoints", response_model=list[Checkpoint], responses=PAGED)
def audit_checkpoints(who: Who, service: Service, page: Paging, response: Response,
                      n: Annotated[int | None, OLD_N] = None) -> list[dict[str, Any]]:
    """The checkpoints kept outside the data directory, newest first, paginated."""
    page = _sized(page, n)
    return paginate_in_order(service.audit.checkpoints(who, 1_000_000),
                             lambda c: str(c["signature"]), page, response, "checkpoints")


@router.get("/v1/audit/proof/{seq}", response_model=InclusionProof)
def audit_proof(who: Who, service: Service, seq: Annotated[int, Path(ge=1, le=2**62)],
                size: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> dict[str, Any]:
    """An inclusion proof of one record in the tree of the first ``size`` records (a
    checkpoint's size; all records by default)."""
    return service.audit.prove(who, seq, size)


@router.get("/v1/audit/trail", response_class=Response,
            responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                             "description": "Every record, oldest first, one JSON object a "
                                            "line, for python -m facegate.audit.offline."}})
def audit_trail(who: Who, service: Service) -> Response:
    """The whole trail as JSON lines (the export is audited)."""
    return Response(service.audit.export_jsonl(who), media_type="application/x-ndjson",
                    headers={"Content-Disposition": 'attachment; filename="facegate-trail.jsonl"'})
