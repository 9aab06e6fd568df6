"""The public pages' cookies (the language switch's ``lang`` and the rights form's CSRF token)
follow the console's Secure rule (``web/security.py``): Secure when the request came over
HTTPS, directly or through a trusted proxy's forwarded scheme, and not over plain HTTP, where a
browser would drop a Secure cookie and the switch would do nothing. Over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.conftest import running
from tests.served import lan_address, threaded

from facegate.api.app import create_app
from facegate.service import Facegate
from facegate.web.security import LOGIN, LOGIN_CSRF_COOKIE

# uvicorn believes X-Forwarded-Proto from 127.0.0.1 unless told otherwise: a trusted proxy.
FORWARDED_HTTPS = {"X-Forwarded-Proto": "https"}


def cookie(r: httpx.Response, name: str) -> str:
    """The Set-Cookie header that sets ``name``."""
    found = [h for h in r.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, r.headers.get_list("set-cookie")
    return found[0]


def secure(header: str) -> bool:
    return "secure" in [part.strip().lower() for part in header.split(";")]


def switch(c: httpx.Client, lang: str, headers: dict[str, str] | None = None
           ) -> httpx.Response:
    r = c.post("/lang", data={"lang": lang, "next": LOGIN}, headers=headers or {})
    assert r.status_code == 303 and r.headers["location"] == LOGIN, r.text
    return r


def reads(c: httpx.Client) -> str:
    """The language the sign-in page is served in, with the client's cookies."""
    page = c.get(LOGIN).text
    return "zh" if '<html lang="zh-CN">' in page else "en" if '<html lang="en">' in page else "?"


@pytest.fixture()
def base(service: Facegate, door: str) -> Iterator[str]:
    yield from running(create_app(service, housekeeping_every_s=0))


def test_the_switch_works_over_plain_http(base: str) -> None:
    with httpx.Client(base_url=base, timeout=120,
                      headers={"Accept-Language": "zh-CN"}) as c:
        assert reads(c) == "zh"
        set_lang = cookie(switch(c, "en"), "lang")
        assert not secure(set_lang) and "httponly" in set_lang.lower()
        assert reads(c) == "en"
        switch(c, "zh")
        assert reads(c) == "zh"


def test_over_https_the_public_cookies_are_secure_as_the_consoles(base: str, door: str
                                                                   ) -> None:
    with httpx.Client(base_url=base, timeout=120) as c:
        assert secure(cookie(switch(c, "en", FORWARDED_HTTPS), "lang"))
        form = c.get(f"/rights/{door}", headers=FORWARDED_HTTPS)
        assert form.status_code == 200 and secure(cookie(form, LOGIN_CSRF_COOKIE))
        console = c.get(LOGIN, headers=FORWARDED_HTTPS)
        assert secure(cookie(console, LOGIN_CSRF_COOKIE))  # the console's, the same rule
        # and over plain HTTP none of them is Secure
        assert not secure(cookie(switch(c, "en"), "lang"))
        assert not secure(cookie(c.get(f"/rights/{door}"), LOGIN_CSRF_COOKIE))
        assert not secure(cookie(c.get(LOGIN), LOGIN_CSRF_COOKIE))


def test_the_switch_works_over_plain_http_on_a_network_address(service: Facegate) -> None:
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no network address other than loopback")
    app = create_app(service, housekeeping_every_s=0)
    with threaded(app, "0.0.0.0", proxy_headers=False) as port, httpx.Client(
            base_url=f"http://{lan}:{port}", timeout=120,
            headers={"Accept-Language": "zh-CN"}) as c:
        assert not secure(cookie(switch(c, "en"), "lang"))
        assert reads(c) == "en"
        # a forwarded scheme from no trusted proxy makes nothing Secure
        assert not secure(cookie(switch(c, "zh", FORWARDED_HTTPS), "lang"))
        assert reads(c) == "zh"
