"""Console sessions, CSRF and the content-security policy (``security.controls``).

A session is a signed cookie (HMAC-SHA256 under a key derived from the master key) naming the
API key that signed in; it is checked against the store on every request, so revoking the key
ends the session. Forms carry a CSRF token bound to the session (or, before sign-in, to a
separate cookie). Cookies are HttpOnly, SameSite=Strict and Secure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

SESSION_COOKIE = "fg_session"
LOGIN_CSRF_COOKIE = "fg_login_csrf"
SESSION_SECONDS = 8 * 3600
CONSOLE_ROLES = ("officer", "auditor", "admin")

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGES = ("/console", "/notice", "/rights", "/static")


@dataclass(frozen=True)
class Session:
    key_id: str
    name: str
    role: str
    csrf: str
    expires: int

    @property
    def can_change(self) -> bool:
        """Auditors read; they never change anything."""
        return self.role in ("officer", "admin")


class Signer:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest()
                                        ).decode().rstrip("=")

    def dumps(self, data: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()
                                        ).decode().rstrip("=")
        return f"{body}.{self._mac(body.encode())}"

    def loads(self, token: str | None) -> dict[str, Any] | None:
        if not token or "." not in token:
            return None
        body, mac = token.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


def new_session(key_id: str, name: str, role: str) -> Session:
    return Session(key_id, name, role, secrets.token_urlsafe(24),
                   int(time.time()) + SESSION_SECONDS)


def read_session(signer: Signer, request: Request) -> Session | None:
    data = signer.loads(request.cookies.get(SESSION_COOKIE))
    if data is None or int(data.get("expires", 0)) < time.time():
        return None
    try:
        return Session(str(data["key_id"]), str(data["name"]), str(data["role"]),
                       str(data["csrf"]), int(data["expires"]))
    except KeyError:
        return None


def secure_cookie(request: Request) -> bool:
    """Secure everywhere but plain-http loopback during development, where browsers would
    otherwise drop the cookie."""
    return request.url.scheme == "https" or request.url.hostname not in (
        "127.0.0.1", "localhost", "::1")


def set_cookie(response: Response, request: Request, name: str, value: str,
               max_age: int = SESSION_SECONDS) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=secure_cookie(request), path="/")


def save_session(response: Response, request: Request, signer: Signer,
                 session: Session) -> None:
    set_cookie(response, request, SESSION_COOKIE, signer.dumps(session.__dict__))


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


class SecurityHeaders(BaseHTTPMiddleware):
    """CSP and friends on every page of the console and the public pages."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if request.url.path.startswith(PAGES):
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["X-Frame-Options"] = "DENY"
            if request.url.path.startswith("/console"):
                response.headers["Cache-Control"] = "no-store"
        return response
