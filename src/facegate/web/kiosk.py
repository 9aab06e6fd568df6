"""The kiosk page at ``/kiosk/{deployment}``: a tablet at a door or counter, signed in with a
device key of that deployment (``security.controls``), that makes the rules visible where a
face meets a camera (``facegate.service.kiosk``).

The page is bilingual at once (Chinese and English side by side, nobody has to find a switch).
Its script (``static/kiosk.js``) starts no camera before the person chose face; it sends one
frame, then clears it and stops the camera. No image is kept in the page, the browser cache or
the server: every answer here is ``Cache-Control: no-store``, and the page's CSP
(``KIOSK_CSP``) admits no ``data:`` or ``blob:`` image, no worker (so no service-worker
cache) and no other origin to send a frame to.

The device signs in once with its key, which becomes a signed cookie (HttpOnly,
SameSite=Strict) naming the key; it is checked against the store on every request, so revoking
the key in the console stops the kiosk at its next request."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from facegate.errors import FacegateError
from facegate.images import read_upload
from facegate.service import Actor, Facegate
from facegate.web.fonts import cjk_webfont
from facegate.web.render import page
from facegate.web.security import (
    LOGIN_CSRF_COOKIE,
    Signer,
    check_sign_in,
    csrf_ok,
    needs_https,
    set_cookie,
)

KIOSK_COOKIE = "fg_kiosk"
KIOSK_SECONDS = 30 * 86400  # a kiosk stays signed in; revoking its key stops it at once
CSRF_HEADER = "X-CSRF-Token"
FONT_URL = "/fonts/wqy-microhei.ttf"
# Every answer to a frame takes at least this long: a verification of a held reference takes
# well under it, so how long the answer took tells nobody whether the reference exists.
ANSWER_FLOOR_S = 0.75


@dataclass(frozen=True)
class KioskSession:
    key_id: str
    name: str
    deployment: str
    device: str
    csrf: str
    expires: int

    @property
    def actor(self) -> Actor:
        return Actor(self.name, "device", self.deployment, self.device)


class Step(BaseModel):
    transaction: str = Field(min_length=1, max_length=40)


def _error(e: FacegateError) -> JSONResponse:
    """The error for the page: the API's body (``FacegateError.to_dict``) without its details
    (a decision's findings, remedies): the screen faces the public."""
    english, chinese = e.messages()
    return JSONResponse({"error": e.code, "message": english, "message_zh": chinese,
                         "rules": list(e.rules)}, status_code=e.http_status)


def font_router() -> APIRouter:
    """The Chinese font the kiosk's text is set in (WenQuanYi Micro Hei, the documents' font;
    ``docs/licenses/wqy-microhei.txt``): a tablet without Chinese fonts still shows the
    notice, not boxes (``notice.required``). Served once, then cached by the browser."""
    r = APIRouter(include_in_schema=False)

    @r.get(FONT_URL)
    def font() -> Response:
        return Response(cjk_webfont(), media_type="font/ttf",
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})

    return r


def router(service: Facegate) -> APIRouter:
    r = APIRouter(prefix="/kiosk", include_in_schema=False)
    signer = Signer(service.keyring.session_key + b"/kiosk")

    def session_of(request: Request, deployment_id: str) -> KioskSession | None:
        data = signer.loads(request.cookies.get(KIOSK_COOKIE))
        if data is None or int(data.get("expires", 0)) < time.time():
            return None
        try:
            s = KioskSession(**{k: data[k] for k in KioskSession.__dataclass_fields__})
        except (KeyError, TypeError):
            return None
        if s.deployment != deployment_id or not service.keys.active(s.key_id):
            return None
        return s

    def sign_in(request: Request, deployment_id: str, error: str | None = None,
                status_code: int = 200, wait: int | None = None) -> Response:
        token = secrets.token_urlsafe(24)
        out = page(request, "kiosk/login.html", deployment_id=deployment_id, csrf=token,
                   error=error, wait=wait, https=not needs_https(request),
                   status_code=status_code)
        set_cookie(out, service.settings.public_url, LOGIN_CSRF_COOKIE, token, max_age=3600,
                   request=request)
        return out

    @r.get("/{deployment_id}")
    def kiosk(request: Request, deployment_id: str) -> Response:
        """A new transaction: the short notice and the two choices."""
        s = session_of(request, deployment_id)
        if s is None:
            return sign_in(request, deployment_id)
        try:
            view = service.kiosk.start(s.actor, deployment_id)
        except FacegateError as e:
            english, chinese = e.messages()
            return page(request, "kiosk/error.html", deployment_id=deployment_id,
                        message_en=english, message_zh=chinese, rules=e.rules,
                        status_code=e.http_status)
        return page(request, "kiosk/kiosk.html", k=view, csrf=s.csrf)

    @r.post("/{deployment_id}/login")
    def login(request: Request, deployment_id: str, api_key: Annotated[str, Form()],
              csrf: Annotated[str, Form()]) -> Response:
        """Sign the device in with its key (a device key of this deployment only)."""
        got = check_sign_in(service.keys, request, api_key, csrf, request.url.path)
        who = got.actor
        if who is None:
            refused = sign_in(request, deployment_id, got.error, got.status, got.wait)
            refused.headers.update(got.headers)
            return refused
        if who.role != "device" or who.deployment != deployment_id or who.device is None:
            return sign_in(request, deployment_id, "not_device", 403)
        session = KioskSession(got.key_id, who.name, deployment_id, who.device,
                               secrets.token_urlsafe(24), int(time.time()) + KIOSK_SECONDS)
        out = RedirectResponse(f"/kiosk/{deployment_id}", status_code=303)
        set_cookie(out, service.settings.public_url, KIOSK_COOKIE,
                   signer.dumps(session.__dict__), max_age=KIOSK_SECONDS, request=request)
        out.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return out

    def guarded(request: Request, deployment_id: str) -> KioskSession | JSONResponse:
        s = session_of(request, deployment_id)
        if s is None:
            return JSONResponse({"error": "signed_out", "rules": ["security.controls"],
                                 "message": "The kiosk is signed out; staff must sign it in.",
                                 "message_zh": "本设备已退出登录，请工作人员重新登录。"},
                                status_code=401)
        if not csrf_ok(s.csrf, request.headers.get(CSRF_HEADER)):
            return JSONResponse({"error": "csrf", "rules": ["security.controls"],
                                 "message": "The page's security token is stale; start again.",
                                 "message_zh": "页面安全令牌已失效，请重新开始。"},
                                status_code=403)
        return s

    def step(request: Request, deployment_id: str, body: Step,
             act: Callable[[Actor, str, str], dict[str, Any]]) -> Response:
        s = guarded(request, deployment_id)
        if isinstance(s, Response):
            return s
        try:
            return JSONResponse(act(s.actor, deployment_id, body.transaction))
        except FacegateError as e:
            return _error(e)

    @r.post("/{deployment_id}/choice")
    def choice(request: Request, deployment_id: str, body: Step) -> Response:
        """The person chose face for this transaction."""
        return step(request, deployment_id, body, service.kiosk.choose_face)

    @r.post("/{deployment_id}/decline")
    def decline(request: Request, deployment_id: str, body: Step) -> Response:
        """The person chose the alternative: recorded; the face path ends."""
        return step(request, deployment_id, body, service.kiosk.decline)

    @r.post("/{deployment_id}/match")
    def match(request: Request, deployment_id: str, image: Annotated[UploadFile, File()],
              transaction: Annotated[str, Form(max_length=40)],
              claim: Annotated[str | None, Form(max_length=200)] = None) -> Response:
        """One frame, compared and dropped: matched or not, never who."""
        s = guarded(request, deployment_id)
        if isinstance(s, Response):
            return s
        start = time.monotonic()
        try:
            frame = read_upload(image.file, "the frame", service.settings.image_limits)
            out: dict[str, Any] = service.kiosk.match(s.actor, deployment_id, frame,
                                                      transaction, claim)
            del frame
            answer = JSONResponse(out)
        except FacegateError as e:
            answer = _error(e)
        left = start + ANSWER_FLOOR_S - time.monotonic()
        if left > 0:  # a claim nobody holds is answered no faster than one that is held
            time.sleep(left)
        return answer

    return r

