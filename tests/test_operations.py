"""What an operator touches daily, over real HTTP: the root redirects to the console,
``/metrics`` counts requests by route template and refusals by rule and reports the
galleries without personal data, and the console refuses a sign-in over plain HTTP on a
network address with a page that says HTTPS is required."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import ID02, JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo, running
from tests.served import lan_address, threaded

from facegate.api.app import create_app
from facegate.engine import Engine
from facegate.service import Actor, Facegate, Settings
from facegate.web.security import LOGIN

ADMIN = Actor("test-admin", "admin")
SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(\{(?P<labels>.*)\})? (?P<value>\S+)$")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus' text format as {(name, labels): value}."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = SAMPLE.match(line)
        assert m, line
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m["labels"] or ""))
        out[(m["name"], labels)] = float(m["value"])
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture()
def served(sqlite_service: Facegate) -> Iterator[tuple[str, Facegate, dict[str, str]]]:
    keys = {role: sqlite_service.keys.create(ADMIN, f"door-camera-{role}", role)["key"]
            for role in ("officer", "operator")}
    for base in running(create_app(sqlite_service, housekeeping_every_s=0)):
        yield base, sqlite_service, keys


def test_the_root_sends_a_browser_to_the_console(
        served: tuple[str, Facegate, dict[str, str]]) -> None:
    base, _, _ = served
    r = httpx.get(base + "/")
    assert r.status_code == 307 and r.headers["location"] == "/console"
    landed = httpx.get(base + "/", follow_redirects=True)
    assert landed.status_code == 200 and str(landed.url) == base + LOGIN
    assert 'action="/console/login"' in landed.text


def test_requests_are_counted_and_timed_by_route_template(
        served: tuple[str, Facegate, dict[str, str]]) -> None:
    base, service, keys = served
    sid = str(service.subjects.add(OFFICER, "STAFF-0042")["id"])
    officer = {"X-API-Key": keys["officer"]}
    route = "/v1/subjects/{subject_id}"
    with httpx.Client(base_url=base) as c:
        before = c.get("/metrics").text
        for _ in range(3):
            assert c.get(f"/v1/subjects/{sid}", headers=officer).status_code == 200
        c.get(f"/v1/subjects/{sid}?ref=STAFF-0042", headers=officer)  # whatever it answers
        assert c.get("/v1/subjects/s_nobody", headers=officer).status_code == 404
        assert c.get("/no/such/page?token=x").status_code == 404
        after = c.get("/metrics")
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    text = after.text
    ok = {"method": "GET", "route": route, "status": "200"}
    assert value(text, "facegate_http_requests_total", **ok) \
        - value(before, "facegate_http_requests_total", **ok) == 3
    assert value(text, "facegate_http_request_duration_seconds_count", **ok) \
        - value(before, "facegate_http_request_duration_seconds_count", **ok) == 3
    assert value(text, "facegate_http_request_duration_seconds_sum", **ok) > 0
    missing = {"method": "GET", "route": route, "status": "404"}
    assert value(text, "facegate_http_requests_total", **missing) \
        - value(before, "facegate_http_requests_total", **missing) == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(text, "facegate_http_requests_total", **unmatched) >= 1
    # No raw URL, subject, reference, key (or its name), query or address in any label.
    for secret in (sid, "s_nobody", "STAFF-0042", "ref=", "token", "/no/such",
                   keys["officer"], "door-camera", "127.0.0.1"):
        assert secret not in text, secret


def test_refusals_are_counted_per_rule(served: tuple[str, Facegate, dict[str, str]]) -> None:
    base, _, keys = served
    with httpx.Client(base_url=base) as c:
        before = c.get("/metrics").text
        for _ in range(2):  # no key: security.controls
            assert c.get("/v1/deployments").json()["rules"] == ["security.controls"]
        bath = office_manifest(id="sauna")
        bath["location"]["type"] = "public_bath"
        r = c.post("/v1/deployments", json=bath, headers={"X-API-Key": keys["officer"]})
        assert r.status_code == 403 and r.json()["rules"] == ["place.private-space"]
        r = c.get("/v1/nothing-here", headers={"X-API-Key": keys["officer"]})
        assert r.status_code == 404 and r.json()["rules"] == []
        after = c.get("/metrics").text

    def delta(rule: str) -> float:
        return (value(after, "facegate_refusals_total", rule=rule)
                - value(before, "facegate_refusals_total", rule=rule))

    assert delta("security.controls") == 2
    assert delta("place.private-space") == 1
    # The counters are the process's (earlier tests counted too): only these two moved.
    moved = {dict(labels)["rule"] for (name, labels) in samples(after)
             if name == "facegate_refusals_total" and delta(dict(labels)["rule"]) > 0}
    assert moved == {"security.controls", "place.private-space"}


def test_gallery_sizes_per_deployment_and_engine(data_dir: Path, engine: Engine) -> None:
    settings = Settings(data_dir=data_dir)
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    try:
        door = assessed(service, office_manifest(mode="identify"))
        for ref, face in (("G-1", JOLIE[0]), ("G-2", ID02[0])):
            sid = str(service.subjects.add(OFFICER, ref)["id"])
            service.consents.grant(OFFICER, sid, door, "access_control")
            service.matching.enrol(OPERATOR, sid, door, [photo(face)])
        service.matching.indexes.forget(door)  # a process starting to serve holds no index
        for base in running(create_app(service, housekeeping_every_s=0)):
            text = ""
            for _ in range(600):
                text = httpx.get(base + "/metrics").text
                if value(text, "facegate_ready") == 1:
                    break
                time.sleep(0.05)
            assert value(text, "facegate_ready") == 1, text
            assert value(text, "facegate_store_up") == 1
            assert value(text, "facegate_index_load_phase", phase="loaded") == 1
            assert value(text, "facegate_index_load_phase", phase="loading") == 0
            galleries = {dict(labels)["deployment"]: (dict(labels), v)
                         for (name, labels), v in samples(text).items()
                         if name == "facegate_gallery_templates"}
            labels, size = galleries[door]
            assert size == 2
            assert labels["engine"] == f"{engine.name}/{engine.model_version}"
            assert labels["backend"] == "ExactIndex"
            assert "G-1" not in text and sid not in text
    finally:
        service.close()


# ---- the console over plain HTTP on a network address ----------------------------------------

def test_sign_in_over_plain_http_on_a_network_address_says_https_is_required(
        data_dir: Path, engine: Engine) -> None:
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no network address other than loopback")
    # The public URL is https, so the cookies are Secure: over plain HTTP the browser would
    # drop them and the form would come back "expired".
    settings = Settings(data_dir=data_dir, public_url=f"https://{lan}")
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    key = service.keys.create(ADMIN, "officer-lan", "officer")["key"]
    try:
        with threaded(create_app(service, housekeeping_every_s=0), "0.0.0.0",
                      proxy_headers=False) as port:
            with httpx.Client(base_url=f"http://{lan}:{port}") as c:
                page = c.get(LOGIN)
                assert page.status_code == 200
                assert "必须使用 HTTPS 登录" in page.text and "HTTPS is required" in page.text
                assert 'name="api_key"' not in page.text
                assert f'href="https://{lan}{LOGIN}"' in page.text
                r = c.post(LOGIN, data={"api_key": key, "csrf": "x"})
                assert r.status_code == 403 and "fg_session" not in r.headers.get(
                    "set-cookie", "")
                assert "必须使用 HTTPS 登录" in r.text and "HTTPS is required" in r.text
                assert "expired" not in r.text and "已过期" not in r.text
                # A forwarded scheme from a proxy nobody trusts changes nothing.
                spoofed = c.get(LOGIN, headers={"X-Forwarded-Proto": "https"})
                assert "HTTPS is required" in spoofed.text
            # The same server on loopback: the form, as before.
            local = httpx.get(f"http://127.0.0.1:{port}{LOGIN}")
            assert local.status_code == 200 and 'name="api_key"' in local.text
            assert "HTTPS is required" not in local.text
    finally:
        service.close()


@pytest.mark.parametrize("address, network", [
    ("192.0.2.2", True), ("10.0.0.5", True), ("fd00::2", True), ("[fd00::2]", True),
    ("127.0.0.1", False), ("127.8.9.1", False), ("::1", False), ("::ffff:127.0.0.1", False),
    ("testserver", False), ("", False)])
def test_which_local_addresses_need_https(address: str, network: bool) -> None:
    from facegate.web.security import network_address

    assert network_address(address) is network


def test_a_trusted_proxy_forwards_https(sqlite_service: Facegate) -> None:
    from facegate.cli.serve import proxy_options

    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no network address other than loopback")
    app = create_app(sqlite_service, housekeeping_every_s=0)
    with threaded(app, "0.0.0.0", **proxy_options(f"10.9.9.9, {lan}")) as port:
        r = httpx.get(f"http://{lan}:{port}{LOGIN}", headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 200 and 'name="api_key"' in r.text
        assert "Secure" in r.headers["set-cookie"]  # it came over HTTPS, so Secure
        plain = httpx.get(f"http://{lan}:{port}{LOGIN}")
        assert "HTTPS is required" in plain.text
    assert proxy_options("") == {"proxy_headers": False}


# ---- log lines ------------------------------------------------------------------------------

def test_log_lines_carry_the_exception_and_never_a_query_or_a_client() -> None:
    import json
    import logging
    import sys
    from datetime import datetime

    from facegate import logs

    try:
        raise ValueError("the store went away")
    except ValueError:
        failed = logging.LogRecord("facegate", logging.ERROR, __file__, 1, "loading %s failed",
                                   ("indexes",), sys.exc_info())
    line = logs.JsonFormatter().format(failed)
    record = json.loads(line)
    assert "\n" not in line and record["message"] == "loading indexes failed"
    assert record["level"] == "ERROR" and record["logger"] == "facegate"
    assert "ValueError: the store went away" in record["exception"]
    assert datetime.fromisoformat(record["timestamp"]).utcoffset() is not None
    # uvicorn's own access line, should it be turned on: no client, no query.
    access = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("192.0.2.7:5555", "GET", "/v1/subjects?ref=R-9", "1.1", 200),
                               None)
    for formatter in (logs.JsonFormatter(), logs.TextFormatter()):
        text = formatter.format(access)
        assert "GET /v1/subjects 200" in text
        assert "192.0.2.7" not in text and "R-9" not in text
    stamp = logs.TextFormatter().format(access).split(" ", 1)[0]
    assert datetime.fromisoformat(stamp).utcoffset() is not None
    assert logs.dict_config("text", "debug")["root"]["level"] == "DEBUG"
    for bad in (("xml", "INFO"), ("json", "LOUD")):
        with pytest.raises(Exception, match="FACEGATE_LOG_"):
            logs.dict_config(*bad)
