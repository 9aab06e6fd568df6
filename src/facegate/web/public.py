"""The person's pages: the notice a sign's QR code opens, and the rights-request form. No key,
nothing personal shown (``notice.required``, ``notice.accessible``, ``rights.*``).

The rights form's answer never tells a right reference or birth date from a wrong one: every
accepted request shows the same "received" page (nothing is carried out at once; the officer
handles it), and each answer takes at least ``ANSWER_FLOOR_S`` so that the store's work does
not show in its timing. Over a rate limit the answer is 429 (``security.controls``). The
client address used for the limits is the connection's peer; behind a reverse proxy, run the
server so that it reports the forwarded address (uvicorn's ``--forwarded-allow-ips``)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from facegate.documents import text as labels
from facegate.documents.localized import Picker, fallback_headers
from facegate.errors import FacegateError, TooManyRequests
from facegate.service import Facegate
from facegate.service.documents import unreachable
from facegate.web.i18n import lang_of
from facegate.web.render import page
from facegate.web.security import LOGIN_CSRF_COOKIE, csrf_ok, set_cookie

FORM_CSRF_COOKIE = LOGIN_CSRF_COOKIE
ANSWER_FLOOR_S = 0.25
TOO_MANY = ("请求过于频繁，请稍后再试（{m} 分钟后）。 / "
            "Too many requests; please try again later (in {m} min).")


def _wait_until(start: float, floor: float = ANSWER_FLOOR_S) -> None:
    """Sleep until ``floor`` seconds after ``start``: answers share one timing shape."""
    left = start + floor - time.monotonic()
    if left > 0:
        time.sleep(left)


def _label(table: Any, code: Any, lang: str) -> str:
    return labels.plain(labels.label(table, code, lang))


def _texts(content: dict[str, Any], lang: str) -> dict[str, Any]:
    """The notice's own texts in ``lang`` (or the other language, listed in ``fallbacks``)."""
    t = Picker(lang)

    def pick(name: str, value: Any) -> Any:
        """The text in ``lang``; a plain string as it was, noted when written in the other
        script (an English necessity on the Chinese page); nothing stays nothing."""
        if value is None or value == "":
            return value
        picked = labels.plain(t(name, value))
        return picked if isinstance(value, Mapping) else value

    op = content.get("operator") or {}
    alt = content.get("alternative")
    out: dict[str, Any] = {
        "name": pick("name", content.get("name")),
        "operator": {**op, "name": pick("operator.name", op.get("name")),
                     "contact": pick("operator.contact", op.get("contact"))},
        "capture_area": pick("location.capture_area", content.get("capture_area")),
        "necessity": pick("necessity", content.get("necessity")),
        "least_impact": pick("least_impact", content.get("least_impact")),
        "alternative": {**alt, "description": pick("alternative.description",
                                                   alt.get("description"))} if alt else alt,
    }
    note = t.note_text()
    return {**out, "fallbacks": list(t.fallbacks),
            "fallback_note": None if note is None else labels.plain(note)}


def router(service: Facegate) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.post("/lang")
    def switch_language(request: Request, lang: Annotated[str, Form()],
                        next: Annotated[str, Form()] = "/") -> Response:
        """The language switch: a cookie, then back where the person was (same site only)."""
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        out = RedirectResponse(target, status_code=303)
        if lang in ("zh", "en"):
            set_cookie(out, service.settings.public_url, "lang", lang, max_age=365 * 86400,
                       request=request)
        return out

    @r.get("/favicon.ico")
    def favicon() -> Response:
        """Browsers ask for /favicon.ico whatever the page links: send them to the SVG."""
        return RedirectResponse("/static/favicon.svg", status_code=308)

    @r.get("/notice/{deployment_id}")
    def notice(request: Request, deployment_id: str) -> Response:
        content = service.deployments.notice(deployment_id)
        lang = lang_of(request)
        view = {
            **content, **_texts(content, lang),
            "purpose_label": _label(labels.PURPOSES, content.get("purpose"), lang),
            "method_label": _label(labels.MODES, "identify" if "1:N" in str(
                content.get("method")) else "verify", lang),
            "alternative_label": _label(labels.ALTERNATIVES, (content.get("alternative") or {})
                                        .get("method"), lang),
            "rights_text": (content.get("rights") or {}).get(lang),
        }
        out = page(request, "public/notice.html", n=view, deployment_id=deployment_id,
                   pack=service.settings.rule_pack)
        out.headers.update(fallback_headers(view["fallbacks"]))
        return out

    @r.get("/notice/{deployment_id}/pdf")
    def notice_pdf(request: Request, deployment_id: str) -> Response:
        # Without a public address the notice is marked DRAFT (notice.required)
        draft = unreachable(service.deployments.notice_url(deployment_id))
        doc = service.documents.make(None, "notice", deployment_id, lang_of(request),
                                     draft=draft)
        return Response(doc.pdf(), media_type="application/pdf",
                        headers={"Content-Disposition":
                                 f'inline; filename="notice-{deployment_id}.pdf"'})

    @r.get("/rights/{deployment_id}")
    def rights_form(request: Request, deployment_id: str) -> Response:
        service.deployments.notice(deployment_id)  # 404 for an unknown deployment
        token = secrets.token_urlsafe(24)
        out = page(request, "public/rights.html", deployment_id=deployment_id, csrf=token,
                   error=None, values={})
        set_cookie(out, service.settings.public_url, FORM_CSRF_COOKIE, token, max_age=3600,
                   request=request)
        return out

    @r.post("/rights/{deployment_id}")
    def rights_submit(request: Request, deployment_id: str,
                      kind: Annotated[str, Form()], ref: Annotated[str, Form()],
                      csrf: Annotated[str, Form()], contact: Annotated[str, Form()] = "",
                      birth_date: Annotated[str, Form()] = "") -> Response:
        values = {"kind": kind, "ref": ref, "contact": contact}
        if not csrf_ok(request.cookies.get(FORM_CSRF_COOKIE), csrf):
            return page(request, "public/rights.html", deployment_id=deployment_id,
                        csrf=csrf, values=values, status_code=403,
                        error="The form expired; please send it again. / 表单已过期，请重新提交。")
        start = time.monotonic()
        client = request.client.host if request.client else ""
        try:
            born = date.fromisoformat(birth_date) if birth_date.strip() else None
            result = service.rights.submit(deployment_id, kind, ref, born, contact, client)
        except ValueError:
            return page(request, "public/rights.html", deployment_id=deployment_id, csrf=csrf,
                        values=values, status_code=422,
                        error="The birth date must be YYYY-MM-DD. / 出生日期格式应为 YYYY-MM-DD。")
        except TooManyRequests as e:
            wait = int(e.details.get("retry_after_s", 60))
            out = page(request, "public/rights.html", deployment_id=deployment_id, csrf=csrf,
                       values=values, status_code=429,
                       error=TOO_MANY.format(m=max(1, (wait + 59) // 60)))
            out.headers["Retry-After"] = str(wait)
            return out
        except FacegateError as e:
            _wait_until(start)
            return page(request, "public/rights.html", deployment_id=deployment_id, csrf=csrf,
                        values=values, status_code=e.http_status,
                        error=e.messages()[1 if lang_of(request) == "zh" else 0])
        _wait_until(start)
        return page(request, "public/rights_done.html", deployment_id=deployment_id,
                    result=result)

    return r
