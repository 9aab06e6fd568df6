"""Console sessions, CSRF and the content-security policy (``security.controls``).

A session is a signed cookie (HMAC-SHA256 under a key derived from the master key) naming the
API key that signed in; it is checked against the store on every request, so revoking the key
ends the session. Each session has a random id; signing out adds it to a revocation list kept
in the serving process until the session would have expired, so a copied cookie is refused
after logout. The list lives in memory: with several serving processes a sign-out is known
only to the process that handled it (run one process, or sticky sessions, or revoke the key).
Forms carry a CSRF token bound to the session (or, before sign-in, to a separate cookie).
Cookies are HttpOnly and SameSite=Strict; they are Secure when the configured public URL
(``FACEGATE_PUBLIC_URL``) is https or the request itself came over HTTPS (served with TLS, or
from a trusted proxy's ``X-Forwarded-Proto``), never decided from the request's Host header.

Signing in over plain HTTP to an address of this machine other than loopback is refused with
a page that says HTTPS is required (``needs_https``): the API key would cross the network in
clear, and a browser drops a Secure cookie sent over plain HTTP, so the sign-in could not
hold anyway."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from facegate.service import Actor
from facegate.service.keys import Keys

SESSION_COOKIE = "fg_session"
LOGIN = "/console/login"  # where a request without a live session is sent
LOGIN_CSRF_COOKIE = "fg_login_csrf"
SESSION_SECONDS = 8 * 3600
CONSOLE_ROLES = ("officer", "auditor", "admin")

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# The kiosk (``web/kiosk.py``): no image from the camera can become a ``data:`` or ``blob:``
# image, no worker can cache anything, and nothing can be sent to another origin.
KIOSK_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
             "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
             "frame-ancestors 'none'; worker-src 'none'; manifest-src 'none'; font-src 'self'")
PAGES = ("/console", "/notice", "/rights", "/static", "/kiosk")


@dataclass(frozen=True)
class Session:
    key_id: str
    name: str
    role: str
    csrf: str
    expires: int
    sid: str = ""

    @property
    def actor(self) -> Actor:
        """Who acts through this session: its key's name and role."""
        return Actor(self.name, self.role)

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
                   int(time.time()) + SESSION_SECONDS, secrets.token_urlsafe(18))


def read_session(signer: Signer, request: Request,
                 signed_out: Callable[[str], bool] | None = None) -> Session | None:
    """The signed, unexpired, not signed-out session of ``request`` (``signed_out`` asks the
    store); a cookie without a session id (made before ids existed) is refused."""
    data = signer.loads(request.cookies.get(SESSION_COOKIE))
    if data is None or int(data.get("expires", 0)) < time.time():
        return None
    try:
        s = Session(str(data["key_id"]), str(data["name"]), str(data["role"]),
                    str(data["csrf"]), int(data["expires"]), str(data["sid"]))
    except KeyError:
        return None
    if not s.sid or (signed_out is not None and signed_out(s.sid)):
        return None
    return s


def secure_cookie(public_url: str) -> bool:
    """Secure when the installation's public URL is https; from configuration only, never
    from the request (a proxy may forward ``Host: 127.0.0.1``)."""
    return urlsplit(public_url).scheme.lower() == "https"


def over_https(request: Request | None) -> bool:
    """The request came over HTTPS: uvicorn's TLS, or a trusted proxy's forwarded scheme."""
    return request is not None and request.scope.get("scheme") == "https"


def network_address(address: str | None) -> bool:
    """``address`` is an IP address other than loopback (127.0.0.0/8, ::1, ::ffff:127.x.x.x).
    A name that is no IP address (a test harness's, a Unix socket's path) is not one."""
    try:
        ip = ipaddress.ip_address((address or "").strip("[]"))
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return not (ip.is_loopback or (mapped is not None and mapped.is_loopback))


def needs_https(request: Request) -> bool:
    """Plain HTTP that reached this machine on a network address (not loopback): the local
    address the connection arrived on decides, never the Host header."""
    if over_https(request):
        return False
    server = request.scope.get("server")
    return server is not None and network_address(str(server[0]))


def set_cookie(response: Response, public_url: str, name: str, value: str,
               max_age: int = SESSION_SECONDS, request: Request | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict",
                        secure=secure_cookie(public_url) or over_https(request), path="/")


def save_session(response: Response, public_url: str, signer: Signer,
                 session: Session, request: Request | None = None) -> None:
    set_cookie(response, public_url, SESSION_COOKIE, signer.dumps(session.__dict__),
               request=request)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


@dataclass(frozen=True)
class SignIn:
    """What a sign-in form's key came to: its id and actor, or why not (``error``:
    https_required, expired, locked, bad_key) with the status to answer and, when locked out,
    the seconds to wait."""

    error: str | None
    status: int = 200
    wait: int | None = None
    key_id: str = ""
    actor: Actor | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.wait)} if self.wait is not None else {}


def check_sign_in(keys: Keys, request: Request, api_key: str, csrf: str, path: str) -> SignIn:
    """The checks every sign-in form (console, kiosk) passes, in order: HTTPS off loopback
    (the key is not even looked at), the form's token, the client's lockout (the API's own,
    ``security.controls``), then the key; an unknown key is counted and audited at ``path``.
    Which roles may sign in is the caller's to say."""
    if needs_https(request):
        return SignIn("https_required", 403)
    if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE), csrf):
        return SignIn("expired", 403)
    client = request.client.host if request.client else "unknown"
    wait = keys.locked_out(client)
    if wait is not None:
        return SignIn("locked", 429, wait)
    found = keys.key_of(api_key)
    if found is None:
        keys.failed(api_key, client, path)
        return SignIn("bad_key", 401)
    return SignIn(None, key_id=found[0], actor=found[1])


class SecurityHeaders(BaseHTTPMiddleware):
    """CSP and friends on every page of the console and the public pages."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if request.url.path.startswith(PAGES):
            kiosk = request.url.path.startswith("/kiosk")
            response.headers["Content-Security-Policy"] = KIOSK_CSP if kiosk else CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["X-Frame-Options"] = "DENY"
            if kiosk:  # the camera for this page only; nothing of it is kept anywhere
                response.headers["Permissions-Policy"] = ("camera=(self), microphone=(), "
                                                          "geolocation=()")
            if kiosk or request.url.path.startswith("/console"):
                response.headers["Cache-Control"] = "no-store"
        return response
