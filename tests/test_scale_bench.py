"""The scale benchmark runs end to end at a small size, and the index rebuild from the store
(``TemplateRepository.open_for_index``) keeps its gate and its filters: a permit for another
operation or deployment is refused at the call, withdrawn consents and expired templates are
skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update
from tests.conftest import OFFICER, assessed, office_manifest

from facegate.engine import Engine
from facegate.service import Facegate
from facegate.store.models import Consent, SubjectKey, Template

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402


@pytest.mark.parametrize("backend", ["exact", "ivf"])
def test_scale_bench_small(backend: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--backend", backend, "--n", "2000",
         "--queries", "100", "--json", *(["--http", "3"] if backend == "exact" else [])],
        capture_output=True, text=True, timeout=600,
        cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    for key in ("backend", "n", "build_s", "p50_ms", "p99_ms", "recall_at_1", "ready_s",
                "withdraw_to_gone_ms", "memory_mb"):
        assert key in out
    assert out["backend"] == backend and out["n"] == 2000
    assert out["index_templates"] == 2000
    assert out["recall_at_1"] == 1.0
    assert out["ready_s"] > 0 and out["build_s"] > 0
    assert 0 < out["p50_ms"] <= out["p99_ms"]
    assert out["withdraw_to_gone_ms"] >= 0
    if backend == "exact":  # served over HTTP: ready once the index is loaded, less the
        # subject (4 templates) the bench withdrew
        assert out["http_ready_s"] >= out["http_live_s"] > 0
        (loaded,) = out["http_loaded"]
        assert loaded["templates"] == 1996 and loaded["deployment"] == "bench-scale"
        assert out["http_gallery"] == 499
        assert 0 < out["http_identify_p50_ms"] <= out["http_identify_p99_ms"]


def test_open_for_index_gate_and_filters(sqlite_service: Facegate, engine: Engine) -> None:
    svc = sqlite_service
    dep = assessed(svc, office_manifest(mode="identify"))
    other = assessed(svc, office_manifest(mode="identify", id="other-door", name="Other"))
    vectors = np.random.default_rng(0).standard_normal((8, engine.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    tids, sids = scale.fill(svc, dep, engine, vectors, per=2)
    people = list(dict.fromkeys(sids))
    now = svc.matching.clock.now()
    with svc.uow() as uow:
        s = uow.session
        s.execute(update(Consent).where(Consent.subject_id == people[0])
                  .values(withdrawn_at=now))
        s.execute(update(Template).where(Template.subject_id == people[1])
                  .values(expires_at=now - timedelta(seconds=1)))
        uow.commit()
    identify = scale.Searcher(svc, dep, engine).decision.permit()
    elsewhere = scale.Searcher(svc, other, engine).decision.permit()
    withdraw = svc.matching.gate.role(OFFICER, "consent.withdraw", subject=people[2]).permit()
    with svc.uow() as uow:
        s = uow.session
        deks = {k.subject_id: svc.keyring.unwrap(k.subject_id, k.wrapped)
                for k in s.query(SubjectKey)}
        repo = uow.templates
        for wrong, deployment in ((elsewhere, dep), (withdraw, dep)):
            with pytest.raises(PermissionError):
                repo.open_for_index(wrong, deployment, engine.name, engine.model_version,
                                    deks, now)  # refused at the call, not when iterated
        parts = list(repo.open_for_index(identify, dep, engine.name, engine.model_version,
                                         deks, now, batch=3))
        got = {t: (sid, v) for p in parts
               for t, sid, v in zip(p.ids, p.subject_ids, p.vectors, strict=True)}
        assert set(got) == set(tids[4:])  # not withdrawn (0), not expired (1)
        for i in range(4, 8):
            assert got[tids[i]][0] == sids[i]
            assert np.array_equal(got[tids[i]][1], vectors[i])
        assert all(len(p) <= 3 for p in parts)
        without = {k: v for k, v in deks.items() if k != people[3]}
        left = list(repo.open_for_index(identify, dep, engine.name, engine.model_version,
                                        without, now))
        assert {t for p in left for t in p.ids} == set(tids[4:6])  # no key, not opened
        assert not list(repo.open_for_index(identify, dep, engine.name, "other-model",
                                            deks, now))


def test_faiss_scale_bench_small(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "faiss_scale.py"), "--n", "20000", "--queries",
         "40", "--nprobe", "1", "64", "--json"], capture_output=True, text=True, timeout=600,
        cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["n"] == 20000 and out["nlist"] > 64 and out["exact_scan_ms"] > 0
    one, many = out["runs"]
    assert (one["nprobe"], many["nprobe"]) == (1, 64)
    assert many["recall_at_1"] == 1.0  # enough lists probed: as good as the exhaustive scan
    assert one["recall_at_1"] < many["recall_at_1"]  # one list misses some: recall is measured
