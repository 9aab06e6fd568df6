"""Reliability, short: two kill -9 cycles under enrol/withdraw load, and four clients for five
seconds of mixed load, each against a real ``facegate serve`` process (``stress/``; the full
runs and their figures are in BENCHMARKS.md)."""

from __future__ import annotations

import io

import pytest
from stress import common, concurrency, kill9

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _lfw() -> None:
    if not (common.LFW / "lfw-names.txt").is_file():
        pytest.skip(f"LFW photos not found at {common.LFW} (see ../shared/data/README.md)")


def test_kill9_keeps_every_acknowledgement() -> None:
    out = io.StringIO()
    s = kill9.run(cycles=2, seed=3, clients=3, min_s=1.5, max_s=3.0, pool=200, out=out)
    report = out.getvalue()
    assert s["cycles"] == 2, report
    assert s["enrol_acked"] >= 3 and s["withdraw_acked"] >= 1, report
    assert s["lost_acks"] == 0 and s["torn"] == 0, report
    assert s["orphans"] == 0, report
    assert s["audit_failures"] == 0, report
    assert s["withdrawn_matched"] == 0, report
    assert s["server_errors"] == 0, report
    assert s["violations"] == 0 and s["ok"], report
    assert s["templates_at_end"] == s["enrolled_at_end"], report


def test_concurrent_mixed_load_has_no_errors() -> None:
    out = io.StringIO()
    s = concurrency.run(clients=4, seconds=5, seed=3, pool=300, out=out)
    report = out.getvalue()
    ops = s["ops"]
    assert s["errors"] == 0, report
    assert s["withdrawn_matched"] == 0 and s["violations"] == 0, report
    assert s["audit_ok"], report
    assert s["enrolled"] >= 3 and s["withdrawals"] >= 1, report
    assert ops["identify"]["ok"] >= 1 and ops["read"]["ok"] >= 1, report
    assert s["ok"], report
