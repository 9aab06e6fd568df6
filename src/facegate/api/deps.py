"""What every resource's routes share: the caller from the API key (``Who``), the service,
uploads within the size limit, documents and error bodies.

A request with a missing or unknown key is audited and counted against the client's address
(``Keys.failed``); a locked-out address is answered 429 with ``Retry-After``, a valid key
included. The console's sign-in shares the same counts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader

from facegate.documents import Document
from facegate.documents.localized import fallback_headers
from facegate.images import read_upload
from facegate.service import Actor, Facegate

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False,
                       description="An API key made by `facegate key create` or `facegate init`.")


class Unauthorised(Exception):
    """No valid API key came with the request (401, ``security.controls``), or the client is
    locked out after too many failures (429; ``retry_after`` seconds)."""

    def __init__(self, retry_after: int | None = None) -> None:
        super().__init__("a valid API key is required")
        self.retry_after = retry_after


def _service(request: Request) -> Facegate:
    service: Facegate = request.app.state.service
    return service


def _actor(request: Request, key: Annotated[str | None, Depends(API_KEY)]) -> Actor:
    """The caller, from the API key; no endpoint works without one. Failures are audited
    and limited per client address."""
    client = request.client.host if request.client else "unknown"
    service = _service(request)
    wait = service.keys.locked_out(client)
    if wait is not None:
        raise Unauthorised(retry_after=wait)
    who = service.keys.authenticate(key)
    if not isinstance(who, Actor):
        service.keys.failed(key, client, request.url.path)
        raise Unauthorised()  # this failure is answered 401; the next ones 429
    return who


Who = Annotated[Actor, Depends(_actor)]
Service = Annotated[Facegate, Depends(_service)]


def read_image(service: Facegate, upload: UploadFile) -> bytes:
    """An uploaded image's bytes; more than the installation's limit is refused (413)."""
    return read_upload(upload.file, upload.filename or "the image",
                       service.settings.image_limits)


def attrs(value: str | None) -> list[str]:
    """Requested face attributes, from a comma-separated form or query value."""
    return [a for a in (value or "").split(",") if a.strip()]


# How a route that answers with ``document`` describes its 200 in the OpenAPI document.
DOCUMENT: dict[int | str, dict[str, Any]] = {200: {
    "description": "The document: an inline PDF, or HTML with ``format=html``.",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "text/html": {"schema": {"type": "string"}}}}}


def document(doc: Document, fmt: str) -> Response:
    """A generated document as HTML, or as an inline PDF named after its kind and language."""
    # the manifest texts shown in the other language, for want of the document's own
    fallback = fallback_headers(doc.fallbacks)
    if fmt == "html":
        return HTMLResponse(doc.html, headers=fallback)
    name = f"{doc.kind}-{doc.lang}.pdf"
    return Response(doc.pdf(), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"', **fallback})


def error(status: int, body: dict[str, Any]) -> JSONResponse:
    """An error body (``error``, ``message``, and ``rules`` where rules decided) with its
    status."""
    return JSONResponse(status_code=status, content=body)
