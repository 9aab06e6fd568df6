"""The IVF-Flat index: exact answers until its background build is done, recall@1 >= 0.995
against ``ExactIndex`` after it, no change lost while it builds, one hit per subject."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from bench.index_ivf import face_like, probes

from facegate.index.exact import ExactIndex
from facegate.index.ivf import IvfIndex

DIM = 128


def fill(n: int, threshold: int, seed: int = 0, **kw: Any) -> tuple[IvfIndex, ExactIndex, Any]:
    vectors, who, centres = face_like(n, DIM, per=4, seed=seed)
    ivf, exact = IvfIndex(DIM, build_threshold=threshold, **kw), ExactIndex(DIM)
    for i in range(n):
        ivf.add(f"t{i}", f"s{who[i]}", vectors[i])
        exact.add(f"t{i}", f"s{who[i]}", vectors[i])
    return ivf, exact, (vectors, who, centres)


def held_build(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Make builds wait (after their snapshot) until ``release`` is set."""
    started, release = threading.Event(), threading.Event()
    real = IvfIndex._train_and_fill

    def slow(self: IvfIndex, *args: Any) -> Any:
        started.set()
        assert release.wait(60)
        return real(self, *args)

    monkeypatch.setattr(IvfIndex, "_train_and_fill", slow)
    return started, release


def same_hits(a: list[Any], b: list[Any]) -> None:
    assert [(h.subject_id, h.template_id) for h in a] == [(h.subject_id, h.template_id)
                                                          for h in b]
    assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-5)


@pytest.fixture(scope="module")
def built() -> tuple[IvfIndex, ExactIndex, Any]:
    ivf, exact, data = fill(80_000, threshold=80_000)
    assert ivf.wait_ready(120)
    return ivf, exact, data


def test_recall_at_1_against_exact_after_the_build(built: Any) -> None:
    ivf, exact, (_, _, centres) = built
    assert ivf.ready and ivf.nlist > 1 and ivf.nprobe < ivf.nlist  # really approximate
    queries = probes(centres, 600)
    agree = 0
    for q in queries:
        a, b = ivf.search(q, 1), exact.search(q, 1)
        agree += a[0].template_id == b[0].template_id or abs(a[0].score - b[0].score) < 1e-5
        assert a[0].score == pytest.approx(float(q @ ivf_vector(built, a[0].template_id)),
                                           abs=1e-5)  # exact inner products
    assert agree / len(queries) >= 0.995


def ivf_vector(built: Any, template_id: str) -> Any:
    return built[2][0][int(template_id[1:])]


def test_search_returns_distinct_subjects_best_first(built: Any) -> None:
    ivf, exact, (_, _, centres) = built
    for q in probes(centres, 20, seed=7):
        hits = ivf.search(q, 25)
        assert len(hits) == 25
        assert len({h.subject_id for h in hits}) == 25
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert hits[0].score == pytest.approx(exact.search(q, 1)[0].score, abs=1e-5)
    # More subjects than one over-fetch holds: the search widens until it has them.
    assert len(ivf.search(centres[0], 3000)) == 3000
    assert ivf.search(centres[0], 0) == []


def test_below_the_threshold_it_is_exact_and_ready() -> None:
    ivf, exact, (_, _, centres) = fill(2_000, threshold=50_000)
    assert ivf.ready and not ivf.building and ivf.nlist == 0
    for q in probes(centres, 20):
        same_hits(ivf.search(q, 5), exact.search(q, 5))
    assert ivf.subjects() == exact.subjects() and len(ivf) == len(exact) == 2_000


def test_searches_before_the_build_is_ready_are_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = held_build(monkeypatch)
    ivf, exact, (_, _, centres) = fill(12_000, threshold=12_000)
    assert started.wait(30)
    assert ivf.building and not ivf.ready and not ivf.wait_ready(0.05)
    for q in probes(centres, 30):
        same_hits(ivf.search(q, 10), exact.search(q, 10))
    release.set()
    assert ivf.wait_ready(60) and ivf.nlist > 0


def test_changes_during_the_build_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = held_build(monkeypatch)
    ivf, exact, (vectors, _, centres) = fill(12_000, threshold=12_000)
    assert started.wait(30)
    extra, _, extra_centres = face_like(400, DIM, per=4, seed=99)
    for i, v in enumerate(extra):
        ivf.add(f"new{i}", f"newsubject{i // 4}", v)
        exact.add(f"new{i}", f"newsubject{i // 4}", v)
    gone = [f"t{i}" for i in range(0, 2000, 3)] + ["new0", "new5"]
    assert ivf.remove_templates([*gone, "no such template"]) == len(gone)
    exact.remove_templates(gone)
    assert ivf.remove_subject("s2500") == exact.remove_subject("s2500") == 4
    assert ivf.remove_subject("newsubject7") == exact.remove_subject("newsubject7") == 4
    ivf.add("t9999", "moved", vectors[9999])  # re-added: replaces the old template
    exact.remove_templates(["t9999"])
    exact.add("t9999", "moved", vectors[9999])
    assert not ivf.ready
    release.set()
    assert ivf.wait_ready(60) and ivf.nlist > 0
    assert len(ivf) == len(exact) and ivf.subjects() == exact.subjects()
    assert int(ivf._ivf.ntotal) == len(exact)
    for i in (1, 2, 4, 6, 399):  # added during the build: found, with their own vector
        assert ivf.search(extra[i], 1)[0].template_id == f"new{i}"
    for i in (0, 3, 1998, 10001, 10002):  # removed during the build: never found
        assert all(h.template_id != f"t{i}" for h in ivf.search(vectors[i], 50))
    assert ivf.search(vectors[9999], 1)[0].subject_id == "moved"
    queries = np.concatenate([probes(centres, 100), probes(extra_centres, 50)])
    agree = [ivf.search(q, 1)[0].template_id == exact.search(q, 1)[0].template_id
             for q in queries]
    assert np.mean(agree) >= 0.98


@pytest.mark.parametrize("phase", ["exact", "ivf"])
def test_remove_subject_removes_every_template(phase: str) -> None:
    ivf, _, (vectors, _, _) = fill(8_000, threshold=50_000 if phase == "exact" else 8_000)
    assert ivf.wait_ready(60)
    assert (ivf.nlist > 0) == (phase == "ivf")
    assert ivf.remove_subject("s10") == 4 and ivf.remove_subject("s10") == 0
    assert "s10" not in ivf.subjects() and len(ivf) == 7_996
    for i in range(40, 44):
        assert all(h.subject_id != "s10" for h in ivf.search(vectors[i], 100))
    assert ivf.remove_templates(["t44", "t45"]) == 2
    assert all(h.template_id not in {"t44", "t45"} for h in ivf.search(vectors[44], 100))
    assert len(ivf) == 7_994
    if phase == "ivf":
        assert int(ivf._ivf.ntotal) == 7_994


def test_the_index_is_rebuilt_when_the_gallery_grows() -> None:
    ivf, exact, (_, _, centres) = fill(3_000, threshold=2_000, rebuild_growth=1.5)
    assert ivf.wait_idle(60) and ivf.ready and ivf.builds == 1
    more, _, more_centres = face_like(2_000, DIM, per=4, seed=5)
    for i, v in enumerate(more):  # past 1.5 x the size of the first build: built again
        ivf.add(f"more{i}", f"more{i // 4}", v)
        exact.add(f"more{i}", f"more{i // 4}", v)
        assert ivf.ready  # the current IVF index serves while the next one builds
    assert ivf.wait_idle(60) and ivf.builds == 2
    assert len(ivf) == int(ivf._ivf.ntotal) == 5_000
    queries = np.concatenate([probes(centres, 60), probes(more_centres, 60)])
    agree = [ivf.search(q, 1)[0].template_id == exact.search(q, 1)[0].template_id
             for q in queries]
    assert np.mean(agree) >= 0.98


@pytest.mark.parametrize("phase", ["exact", "ivf"])
def test_wrong_dimensions_are_refused(phase: str) -> None:
    ivf, _, _ = fill(3_000, threshold=50_000 if phase == "exact" else 3_000)
    assert ivf.wait_ready(60)
    with pytest.raises(ValueError, match="dimensions"):
        ivf.add("x", "y", np.ones(DIM + 1, dtype=np.float32))
    with pytest.raises(ValueError, match="dimensions"):
        ivf.search(np.ones(DIM - 1, dtype=np.float32), 1)
    assert len(ivf) == 3_000 and "y" not in ivf.subjects()
