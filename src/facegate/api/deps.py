"""What every resource's routes share: the caller from the API key (``Who``), the service,
uploads within the size limit, documents and error bodies.

A request with a missing or unknown key is audited (``auth.failed``: the client's address and a
digest prefix of the key, never the key). After ``FAILURE_LIMIT`` such failures from one
client address within ``FAILURE_WINDOW_S`` seconds, that address is locked out for
``FAILURE_WINDOW_S`` seconds: every request from it that needs a key, a valid one included,
is answered 429 with ``Retry-After``. The counts live in the serving process's memory (each
process counts for itself); behind a reverse proxy every client shares the proxy's address."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Annotated, Any

from fastapi import Depends, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader

from facegate.documents import Document
from facegate.errors import ImageTooLarge
from facegate.service import Actor, Facegate

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False,
                       description="An API key made by `facegate key create` or `facegate init`.")


FAILURE_LIMIT = 10
FAILURE_WINDOW_S = 60.0


class Unauthorised(Exception):
    """No valid API key came with the request (401, ``security.controls``), or the client is
    locked out after too many failures (429; ``retry_after`` seconds)."""

    def __init__(self, retry_after: int | None = None) -> None:
        super().__init__("a valid API key is required")
        self.retry_after = retry_after


class FailureLimiter:
    """Failed authentications per client address, and the addresses locked out."""

    def __init__(self, limit: int = FAILURE_LIMIT, window_s: float = FAILURE_WINDOW_S) -> None:
        self.limit, self.window_s = limit, window_s
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Seconds left of the client's lockout, or None when it is not locked out."""
        with self._lock:
            until = self._locked_until.get(client)
            left = until - time.monotonic() if until is not None else 0.0
            if left <= 0:
                self._locked_until.pop(client, None)
                return None
            return max(1, int(left + 0.999))

    def failed(self, client: str) -> bool:
        """Count a failure; True when it locks the client out."""
        now = time.monotonic()
        with self._lock:
            for c in [c for c, q in self._failures.items() if q[-1] < now - self.window_s]:
                del self._failures[c]
            q = self._failures.setdefault(client, deque())
            q.append(now)
            while q[0] < now - self.window_s:
                q.popleft()
            if len(q) < self.limit:
                return False
            del self._failures[client]
            self._locked_until[client] = now + self.window_s
            return True


_LIMITER_LOCK = threading.Lock()


def _service(request: Request) -> Facegate:
    service: Facegate = request.app.state.service
    return service


def _limiter(request: Request) -> FailureLimiter:
    with _LIMITER_LOCK:
        limiter = getattr(request.app.state, "auth_failures", None)
        if not isinstance(limiter, FailureLimiter):
            limiter = request.app.state.auth_failures = FailureLimiter()
        return limiter


def _actor(request: Request, key: Annotated[str | None, Depends(API_KEY)]) -> Actor:
    """The caller, from the API key; no endpoint works without one. Failures are audited
    and limited per client address."""
    client = request.client.host if request.client else "unknown"
    limiter = _limiter(request)
    wait = limiter.retry_after(client)
    if wait is not None:
        raise Unauthorised(retry_after=wait)
    service = _service(request)
    who = service.keys.authenticate(key)
    if not isinstance(who, Actor):
        locked = limiter.failed(client)
        service.keys.failed(key, client, request.url.path, locked)
        raise Unauthorised()  # this failure is answered 401; the next ones 429
    return who


Who = Annotated[Actor, Depends(_actor)]
Service = Annotated[Facegate, Depends(_service)]


def read_image(service: Facegate, upload: UploadFile) -> bytes:
    """An uploaded image's bytes; more than the installation's limit is refused (413)."""
    max_bytes = service.settings.image_limits.max_bytes
    data = upload.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLarge(f"{upload.filename or 'the image'} is larger than "
                            f"{max_bytes} bytes")
    return data


def attrs(value: str | None) -> list[str]:
    """Requested face attributes, from a comma-separated form or query value."""
    return [a for a in (value or "").split(",") if a.strip()]


def document(doc: Document, fmt: str) -> Response:
    """A generated document as HTML, or as an inline PDF named after its kind and language."""
    if fmt == "html":
        return HTMLResponse(doc.html)
    name = f"{doc.kind}-{doc.lang}.pdf"
    return Response(doc.pdf(), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


def error(status: int, body: dict[str, Any]) -> JSONResponse:
    """An error body (``error``, ``message``, and ``rules`` where rules decided) with its
    status."""
    return JSONResponse(status_code=status, content=body)
