"""``/metrics`` of ``facegate serve --workers 2`` with ``PROMETHEUS_MULTIPROC_DIR``: whichever
worker answers the scrape, the request counts are every worker's, summed."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from stress.common import Server
from tests.served import Served, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
HEALTHZ = re.compile(
    r'^facegate_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$', re.M)


def healthz_count(text: str) -> float:
    found = HEALTHZ.search(text)
    return float(found[1]) if found else 0.0


def test_workers_metrics_are_summed(postgres_url: str, tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"left by an earlier run")
    with Server(tmp_path / "served", workers=2, database_url=postgres_url) as server:
        server.init()
        port = free_port("127.0.0.1")
        base = f"http://127.0.0.1:{port}"
        served = Served(server, ["--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                        {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                         "FACEGATE_LOG_LEVEL": "WARNING"}, tmp_path / "serve.log")
        try:
            served.wait(base + "/healthz")
            sent = 1
            pids: set[str] = set()
            while sent < 400 and len(pids) < 2:  # until both workers have answered some
                with httpx.Client() as fresh:  # a new connection each time
                    assert fresh.get(base + "/healthz").status_code == 200
                sent += 1
                pids = {p.stem.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}
            assert len(pids) == 2, f"one worker answered all {sent} requests"
            assert "1" not in pids  # the stale file of an earlier run was removed at start
            for _ in range(6):  # scrapes land on either worker: each sees the sum
                with httpx.Client() as fresh:
                    assert healthz_count(fresh.get(base + "/metrics").text) == sent
        finally:
            served.stop()
