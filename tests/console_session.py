"""Signing in to the officer's console over real HTTP (no browser): the sign-in form's CSRF
token, then the session cookie the console sets, in a page language of the caller's choice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def signed_in(base: str, key: str, lang: str = "en") -> Iterator[httpx.Client]:
    """An HTTP client signed in to ``base``'s console with ``key``, reading ``lang`` pages."""
    with httpx.Client(base_url=base, timeout=120, cookies={"lang": lang}) as client:
        form = client.get("/console/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token, form.text
        r = client.post("/console/login", data={"csrf": token.group(1), "api_key": key})
        assert r.status_code == 303, r.text
        assert client.get("/console").status_code == 200
        yield client
