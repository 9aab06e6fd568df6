"""Liveness and readiness: at start the service loads every 1:N index from the store in the
background, through the gate (``index.load``) and with an audit record; ``/healthz`` answers
all along, ``/readyz`` says 503 until the indexes are loaded and 200 after."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from tests.conftest import JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo, running

from facegate import __version__
from facegate.api.app import LOADER, create_app
from facegate.policy import Facts, decide
from facegate.policy.packs import DEFAULT_PACK
from facegate.service import Facegate


def _enrol(service: Facegate, dep: str, ref: str) -> str:
    sid = str(service.subjects.add(OFFICER, ref)["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")
    service.matching.enrol(OPERATOR, sid, dep, [photo(JOLIE[0])])
    return sid


def _wait_ready(base: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(base + "/readyz")
        if r.status_code == 200:
            return dict(r.json())
        assert r.json()["phase"] != "failed", r.json()
        time.sleep(0.05)
    raise AssertionError(f"not ready within {timeout} s: {r.json()}")


def test_the_indexes_load_at_start_while_the_service_answers(service: Facegate,
                                                               door: str) -> None:
    sid = _enrol(service, door, "RD-1")
    lobby = assessed(service, office_manifest(id="lobby-1n", mode="identify"))
    verify_only = assessed(service, office_manifest(id="desk-1to1", mode="verify"))
    registry = service.matching.indexes
    registry.forget(door)
    assert registry.held(door) == []  # a fresh process holds nothing

    # Loading waits at the first index until released: the probes answer meanwhile.
    release = threading.Event()
    started = threading.Event()
    load = registry.preload

    def slow(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(30)
        return load(*args, **kwargs)

    registry.preload = slow  # type: ignore[method-assign]
    try:
        for base in running(create_app(service, housekeeping_every_s=0)):
            assert started.wait(30)
            live = httpx.get(base + "/healthz")
            assert live.status_code == 200
            assert live.json() == {"status": "live", "version": __version__}
            waiting = httpx.get(base + "/readyz")
            assert waiting.status_code == 503
            assert waiting.json()["phase"] == "loading" and waiting.json()["ready"] is False
            assert waiting.json()["store"] is True
            release.set()
            ready = _wait_ready(base)
    finally:
        release.set()
        registry.preload = load  # type: ignore[method-assign]

    assert ready["phase"] == "loaded" and ready["store"] is True
    loaded = {e["deployment"]: e for e in ready["loaded"]}
    assert set(loaded) == {door, lobby}  # 1:N deployments only; the 1:1 desk has no index
    assert verify_only not in loaded
    assert loaded[door]["templates"] == 1 and loaded[lobby]["templates"] == 0
    assert loaded[door]["backend"] == "ExactIndex"
    (index,) = registry.held(door)
    assert index.subjects() == {sid}  # held before any identification asked for it
    rebuilds = registry.rebuilds
    found = service.matching.identify(OPERATOR, door, photo(JOLIE[1]))["candidates"]
    assert found[0]["subject"] == sid and registry.rebuilds == rebuilds  # no rebuild now

    trail = [r for r in service.audit.tail(OFFICER, 100) if r["operation"] == "index.load"]
    assert {r["deployment"] for r in trail} == {door, lobby}
    (at_door,) = [r for r in trail if r["deployment"] == door]
    assert at_door["actor"] == LOADER.name and at_door["decision"] == "allowed"
    assert "purpose.bound" in at_door["rules"]
    assert at_door["detail"]["template_count"] == 1


def test_withdrawals_go_on_while_an_index_loads(service: Facegate, door: str) -> None:
    """The load holds neither the registry's lock nor the store's write lock: a withdrawal
    completes while it is under way, and the subject withdrawn meanwhile is neither returned
    nor left in the loaded index."""
    sid = _enrol(service, door, "RD-2")
    other = _enrol(service, door, "RD-3")
    registry = service.matching.indexes
    registry.forget(door)
    release, inside = threading.Event(), threading.Event()
    build = registry._build

    def slow(*args: Any, **kwargs: Any) -> Any:
        out = build(*args, **kwargs)  # the templates are read: the withdrawal comes after
        inside.set()
        assert release.wait(30)
        return out

    registry._build = slow  # type: ignore[method-assign]
    loader = threading.Thread(target=service.readiness.load, args=(LOADER,))
    try:
        loader.start()
        assert inside.wait(30)
        done = threading.Event()
        threading.Thread(target=lambda: (service.consents.withdraw(OFFICER, sid, door),
                                         done.set()), daemon=True).start()
        assert done.wait(20), "the withdrawal waited for the load"
    finally:
        release.set()
        loader.join(30)
        registry._build = build  # type: ignore[method-assign]
    assert service.readiness.status()["ready"]
    found = service.matching.identify(OPERATOR, door, photo(JOLIE[1]))["candidates"]
    assert sid not in [c["subject"] for c in found]
    (index,) = registry.held(door)
    assert index.subjects() == {other}  # the change log removed it from the loaded index


def test_the_gate_decides_who_loads_which_index() -> None:
    from datetime import date

    from facegate.policy import Manifest

    manifest = Manifest.model_validate(office_manifest(mode="verify"))
    base = {"operation": "index.load", "pack": DEFAULT_PACK, "on": date(2026, 12, 1),
            "deployment": manifest, "deployment_active": True}
    refused = decide(Facts(**{**base, "actor_role": "operator"}))
    assert not refused.allowed and "security.controls" in refused.refused_by
    one_to_one = decide(Facts(**{**base, "actor_role": "admin"}))
    assert not one_to_one.allowed and "purpose.bound" in one_to_one.refused_by
    ended = decide(Facts(**{**base, "actor_role": "admin", "deployment_active": False,
                            "deployment_terminated": True,
                            "deployment": Manifest.model_validate(
                                office_manifest(mode="identify"))}))
    assert not ended.allowed
    assert "purpose.bound" in ended.refused_by
    allowed = decide(Facts(**{**base, "actor_role": "admin", "deployment":
                              Manifest.model_validate(office_manifest(mode="identify"))}))
    assert allowed.allowed, allowed.refused_by


def test_a_load_brings_a_held_index_up_to_date(service: Facegate, door: str) -> None:
    _enrol(service, door, "RD-4")
    service.readiness.load(LOADER)  # holds the index with one template
    _enrol(service, door, "RD-5")
    out = service.readiness.load(LOADER)
    assert [e["templates"] for e in out["loaded"] if e["deployment"] == door] == [2]


def test_the_sizes_reported_are_those_held_now(service: Facegate, door: str) -> None:
    _enrol(service, door, "RD-6")
    service.readiness.load(LOADER)
    _enrol(service, door, "RD-7")
    service.matching.identify(OPERATOR, door, photo(JOLIE[1]))  # applies the change log
    (entry,) = [e for e in service.readiness.status()["loaded"] if e["deployment"] == door]
    assert entry["templates"] == 2


def test_not_ready_before_loading(service: Facegate) -> None:
    status = service.readiness.status()
    assert status["ready"] is False and status["phase"] == "waiting" and status["store"]

