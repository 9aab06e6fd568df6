"""The interactive documentation works without the internet: ``/docs`` (Swagger UI) and
``/redoc`` (ReDoc) in Debian's Chromium, with every request to another host aborted, render
the operations from this installation's own assets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from tests.browser import chromium, needs_chromium
from tests.conftest import running

from facegate.api.app import create_app
from facegate.service import Facegate

browsers = needs_chromium


@pytest.fixture()
def base(sqlite_service: Facegate) -> Iterator[str]:
    yield from running(create_app(sqlite_service, housekeeping_every_s=0))


@pytest.fixture()
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _offline_page(browser: Any, base: str) -> tuple[Any, list[str], list[str]]:
    """A page whose requests to any host but the server's are aborted (and noted), and whose
    script errors are noted."""
    here = urlsplit(base).netloc
    blocked: list[str] = []
    errors: list[str] = []
    page = browser.new_page()

    def route(r: Any) -> None:
        url = r.request.url
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != here:
            blocked.append(url)
            r.abort()
        else:
            r.continue_()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, blocked, errors


def test_the_pages_name_only_local_assets(base: str) -> None:
    for path in ("/docs", "/redoc"):
        html = httpx.get(base + path, timeout=30).text
        assert "/docs-assets/" in html, path
        assert "cdn.jsdelivr.net" not in html and "fonts.googleapis" not in html, path
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        r = httpx.get(f"{base}/docs-assets/{asset}", timeout=30)
        assert r.status_code == 200 and len(r.content) > 10_000, asset
    # the console's script-src 'self' policy is not put on the documentation pages
    assert "content-security-policy" not in httpx.get(base + "/docs", timeout=30).headers


@browsers
def test_swagger_ui_renders_the_operations_offline(base: str, browser: Any) -> None:
    page, blocked, errors = _offline_page(browser, base)
    page.goto(base + "/docs")
    page.get_by_text("/v1/identify", exact=True).first.wait_for(state="visible", timeout=30_000)
    assert page.get_by_text("/v1/enrol/batch", exact=True).first.is_visible()
    assert errors == []
    assert blocked == []  # nothing even tried to leave the machine


@browsers
def test_redoc_renders_the_operations_offline(base: str, browser: Any) -> None:
    page, blocked, errors = _offline_page(browser, base)
    page.goto(base + "/redoc")
    page.get_by_text("/v1/identify").first.wait_for(state="attached", timeout=30_000)
    page.get_by_text("Enrol several subjects at one deployment.").first.wait_for(
        state="visible", timeout=30_000)
    assert errors == []
    assert blocked == []
