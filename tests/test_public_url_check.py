"""The public address a notice or sign points to (``notice.required``): loopback in every
spelling browsers accept is refused as "only this machine", and an address that is not
http(s) or has no host is refused for that reason, naming the configured address."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import assessed, office_manifest

from facegate.engine import Engine
from facegate.errors import Conflict
from facegate.service import Actor, Facegate, Settings
from facegate.service.documents import unreachable, url_problem

OFFICER = Actor("test-officer", "officer")


@pytest.mark.parametrize("url", [
    "http://127.1", "http://127.0.1", "http://0", "http://2130706433", "http://0x7f000001",
    "http://0177.0.0.1", "http://localhost.", "http://LOCALHOST.:8000", "http://app.localhost.",
    "http://127.0.0.1.", "http://[::1]", "http://[0:0:0:0:0:0:0:1]", "http://[::]",
    "http://[::ffff:127.0.0.1]", "http://[::ffff:7f00:1]:8000", "http://[::ffff:0.0.0.0]",
    "http://%31%32%37.0.0.1", "http://１２７.０.０.１", "https://127.0.0.1。",
])
def test_loopback_in_any_spelling_is_this_machine_only(url: str) -> None:
    assert url_problem(url) == "local" and unreachable(url)


@pytest.mark.parametrize("url, problem", [
    ("faces.example.com", "scheme"), ("javascript:alert(1)", "scheme"),
    ("ftp://faces.example.com", "scheme"), ("https://", "host"), ("http:///notice", "host"),
    ("http://[::1", "host"),
])
def test_not_a_web_address(url: str, problem: str) -> None:
    assert url_problem(url) == problem and unreachable(url)


@pytest.mark.parametrize("url", [
    "https://faces.example.com", "https://faces.example.com.", "http://192.168.1.20:8000",
    "http://10.1", "https://[2001:db8::1]", "http://localhost-gate.example.com",
])
def test_reachable_addresses_pass(url: str) -> None:
    assert url_problem(url) is None and not unreachable(url)


@pytest.mark.parametrize("public, words, absent", [
    ("javascript:alert(1)", "not an http:// or https:// address", "only this machine"),
    ("faces.example.com", "not an http:// or https:// address", "only this machine"),
    ("http://127.1:9000", "only this machine can reach", "not an http"),
])
def test_the_refusal_says_why_and_names_the_configured_address(
        data_dir: Path, engine: Engine, public: str, words: str, absent: str) -> None:
    settings = Settings(data_dir=data_dir, public_url=public)
    Facegate.initialise(settings)
    svc = Facegate(settings, engine)
    try:
        dep = assessed(svc, office_manifest())
        with pytest.raises(Conflict) as e:
            svc.documents.make(OFFICER, "sign", dep, "zh")
        assert words in e.value.message and absent not in e.value.message
        assert public.rstrip("/") in e.value.message and "127.0.0.1:8000" not in e.value.message
        assert e.value.message_zh and public in e.value.message_zh
        assert e.value.rules == ["notice.required"]
    finally:
        svc.close()
