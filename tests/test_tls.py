"""``facegate serve --tls-cert --tls-key`` on the machine's network address, for real: a
self-signed certificate made here, ``/healthz`` over HTTPS verified against it, the console's
sign-in over HTTPS on that address, and the served process's output, every line of it a JSON
object without a query string, a key or a client's address."""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest
from stress.common import Server
from tests.served import Served, free_port, lan_address, self_signed

from facegate.web.security import LOGIN, LOGIN_CSRF_COOKIE, SESSION_COOKIE


@dataclass
class Https:
    lan: str
    port: int
    ctx: ssl.SSLContext
    keys: dict[str, str]
    served: Served

    @property
    def base(self) -> str:
        return f"https://{self.lan}:{self.port}"


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Https]:
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no network address other than loopback")
    root = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(root / "tls", [lan, "127.0.0.1"])
    with Server(root / "served") as server:
        keys = server.init()
        port = free_port()
        served = Served(server, ["--host", "0.0.0.0", "--port", str(port),
                                 "--tls-cert", str(cert), "--tls-key", str(key)],
                        {"FACEGATE_PUBLIC_URL": f"https://{lan}:{port}",
                         "FACEGATE_LOG_FORMAT": "json", "FACEGATE_LOG_LEVEL": "INFO"},
                        root / "serve.log")
        ctx = ssl.create_default_context(cafile=str(cert))
        try:
            served.wait(f"https://{lan}:{port}/healthz", verify=ctx)
            yield Https(lan, port, ctx, keys, served)
        finally:
            served.stop()


def test_healthz_over_https_verified_against_the_certificate(https: Https) -> None:
    r = httpx.get(https.base + "/healthz", verify=https.ctx)
    assert r.status_code == 200 and r.json()["status"] == "live"
    assert r.url.scheme == "https"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(https.base + "/healthz")  # the system's authorities do not know it
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://{https.lan}:{https.port}/healthz")  # no plain HTTP on the port


def test_console_sign_in_over_https_on_a_network_address(https: Https) -> None:
    with httpx.Client(base_url=https.base, verify=https.ctx) as c:
        form = c.get(LOGIN)
        assert form.status_code == 200 and 'name="api_key"' in form.text
        assert "HTTPS is required" not in form.text
        assert "Secure" in form.headers["set-cookie"] and LOGIN_CSRF_COOKIE in c.cookies
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        r = c.post(LOGIN, data={"api_key": https.keys["officer"], "csrf": token[1]})
        assert r.status_code == 303 and r.headers["location"] == "/console", r.text
        session = [v for v in r.headers.get_list("set-cookie")
                   if v.startswith(SESSION_COOKIE + "=")]
        assert session and "Secure" in session[0] and "HttpOnly" in session[0]
        board = c.get("/console")
        assert board.status_code == 200 and str(board.url) == https.base + "/console"
        assert 'action="/console/logout"' in board.text
        # A wrong key over the same HTTPS is refused as before.
        again = c.get(LOGIN)
        token = re.search(r'name="csrf" value="([^"]+)"', again.text)
        assert token
        bad = c.post(LOGIN, data={"api_key": "fg_not_a_key_at_all", "csrf": token[1]})
        assert bad.status_code == 401


def test_the_served_output_is_json_lines_without_personal_data(https: Https) -> None:
    officer = {"X-API-Key": https.keys["officer"]}
    with httpx.Client(base_url=https.base, verify=https.ctx) as c:
        assert c.get("/healthz?ref=REF-SECRET-77").status_code == 200
        c.get("/v1/subjects/s_someone?ref=REF-SECRET-77", headers=officer)
        assert c.get("/v1/deployments", headers={"X-API-Key": "fg_wrong_key_1"}
                     ).status_code == 401
        assert c.get("/metrics").status_code == 200
        assert c.get(LOGIN + "?lang=en").status_code == 200
    out = https.served.stop()
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) >= 5
    records = []
    for line in lines:
        record = json.loads(line)  # every line is one JSON object
        assert {"timestamp", "level", "logger", "message"} <= set(record), line
        stamp = datetime.fromisoformat(record["timestamp"])
        assert stamp.utcoffset() is not None, line
        records.append(record)
    assert any(r["logger"].startswith("uvicorn") and "Uvicorn running on https://" in
               r["message"] for r in records)
    access = [r for r in records if r["logger"] == "facegate.access"]
    routes = {(r["method"], r["route"], r["status"]) for r in access}
    assert {("GET", "/healthz", 200), ("GET", "/v1/deployments", 401),
            ("GET", "/metrics", 200), ("GET", LOGIN, 200)} <= routes, routes
    assert ("GET", "/v1/subjects/{subject_id}") in {(m, r) for m, r, _ in routes}
    assert all(isinstance(r["duration_ms"], float | int) for r in access)
    for secret in ("REF-SECRET-77", "s_someone", "fg_wrong_key_1", "fg_not_a_key_at_all",
                   https.keys["officer"], https.lan, "ref=", "lang=en"):
        assert secret not in out, secret
