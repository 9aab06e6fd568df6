"""Jinja2 rendering for the web pages, with the page language and the signed-in session.

Every page reads times in the installation's zone with the offset (``when``), purposes by
name (``purpose``) and the rule pack in its footer (``pack``, the installation's unless the
page names another)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from facegate.documents.text import PURPOSES, label, plain
from facegate.localtime import DEFAULT_ZONE, shown
from facegate.web.i18n import lang_of, translator
from facegate.web.security import Session

ENV = Environment(loader=PackageLoader("facegate.web", "templates"),
                  autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def _installation(request: Request) -> dict[str, Any]:
    """The zone and rule pack of the service behind the app serving ``request``."""
    service = getattr(request.app.state, "service", None)
    settings = getattr(service, "settings", None)
    return {"tz": settings.tz if settings is not None else DEFAULT_ZONE,
            "pack": settings.rule_pack if settings is not None else ""}


def page(request: Request, template: str, session: Session | None = None,
         status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    here = _installation(request)
    tz = here["tz"]
    context.setdefault("pack", here["pack"])

    def when(value: Any, seconds: bool = False) -> str:
        return shown(value, tz, seconds=seconds)

    def purpose(code: Any) -> str:
        return plain(label(PURPOSES, code, lang))

    html = ENV.get_template(template).render(
        request=request, lang=lang, t=translator(lang), session=session,
        other_lang="en" if lang == "zh" else "zh", path=request.url.path, when=when,
        purpose=purpose, **context)
    return HTMLResponse(html, status_code=status_code)
