"""Jinja2 rendering for the web pages, with the page language and the signed-in session."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from facegate.web.i18n import lang_of, translator
from facegate.web.security import Session

ENV = Environment(loader=PackageLoader("facegate.web", "templates"),
                  autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def page(request: Request, template: str, session: Session | None = None,
         status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    html = ENV.get_template(template).render(
        request=request, lang=lang, t=translator(lang), session=session,
        other_lang="en" if lang == "zh" else "zh", path=request.url.path, **context)
    return HTMLResponse(html, status_code=status_code)
