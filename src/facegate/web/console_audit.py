"""The console's audit pages: the trail with filters and the chain check, CSV and JSON
exports, and signed checkpoints with the whole trail to download for the offline verifier
(``security.controls``). Officers and auditors alike: nothing here changes data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from facegate.errors import FacegateError
from facegate.service import Facegate
from facegate.service.audit_queries import checkpoint_file_text
from facegate.web.security import LOGIN, Session


@dataclass(frozen=True)
class Helpers:
    """What the console's pages share: the session, rendering, and refusals."""

    session_of: Callable[[Request], Session | None]
    view: Callable[..., Response]
    denied: Callable[..., Response]
    failed: Callable[[Request, Session, FacegateError], Response]


def audit_pages(r: APIRouter, service: Facegate, h: Helpers) -> None:
    session_of, view, denied, failed = h.session_of, h.view, h.denied, h.failed


    def audit_filters(request: Request) -> dict[str, str | None]:
        q = request.query_params
        return {k: (q.get(k) or None) for k in ("operation", "deployment", "subject",
                                                 "decision", "rule", "since", "until")}

    @r.get("/audit")
    def audit(request: Request) -> Response:
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        filters = audit_filters(request)
        try:
            records = service.audit.search(s.actor, 200, **filters)
        except FacegateError as e:
            return failed(request, s, e)
        chain = service.audit.verify(s.actor) if request.query_params.get("verify") else None
        query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
        return view(request, s, "console/audit.html", records=records, filters=filters,
                    chain=chain, query=query, checkpoints=service.audit.checkpoints(s.actor))

    @r.get("/audit/checkpoint.json")
    def audit_checkpoint(request: Request) -> Response:
        """Sign a checkpoint now and download it (auditors too: signing changes no data)."""
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        try:
            cp = service.audit.checkpoint(s.actor)
        except FacegateError as e:
            return failed(request, s, e)
        return Response(checkpoint_file_text(cp), media_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="facegate-'
                                 f'checkpoint-{cp["size"]}.json"'})

    @r.get("/audit/trail.jsonl")
    def audit_trail(request: Request) -> Response:
        """The whole trail for the offline verifier (the export is audited)."""
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        return Response(service.audit.export_jsonl(s.actor), media_type="application/x-ndjson",
                        headers={"Content-Disposition":
                                 'attachment; filename="facegate-trail.jsonl"'})

    @r.get("/audit/export")
    def audit_export(request: Request, format: str = "csv") -> Response:
        s = session_of(request)
        if s is None:
            return RedirectResponse(LOGIN, status_code=303)
        if format not in ("csv", "json"):
            return denied(request, s, "format must be csv or json", 422)
        body = service.audit.export(s.actor, format, **audit_filters(request))
        media = "text/csv" if format == "csv" else "application/json"
        return Response(body, media_type=f"{media}; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="facegate-audit.{format}"'})
