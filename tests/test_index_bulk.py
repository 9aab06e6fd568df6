"""Adding many templates at once (a rebuild from the store adds them in batches): the exact
and IVF indexes give what one-at-a-time additions give, and inside ``IvfIndex.bulk`` no build
starts until the end, so a rebuild trains once, at the gallery's full size."""

from __future__ import annotations

import numpy as np
import pytest
from bench.index_ivf import face_like, probes

from facegate.index.exact import ExactIndex
from facegate.index.ivf import IvfIndex

DIM = 32


def hits(index: ExactIndex | IvfIndex, q: np.ndarray, k: int) -> list[tuple[str, str, float]]:
    return [(h.subject_id, h.template_id, round(h.score, 5)) for h in index.search(q, k)]


def test_exact_add_many_is_one_at_a_time_across_blocks() -> None:
    rng = np.random.default_rng(3)
    v = rng.standard_normal((1_000, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    tids = [f"t{i}" for i in range(1_000)]
    sids = [f"s{i // 3}" for i in range(1_000)]
    one, many = ExactIndex(DIM, block_rows=128), ExactIndex(DIM, block_rows=128)
    for t, s, x in zip(tids, sids, v, strict=True):
        one.add(t, s, x)
    for start in (0, 10, 300, 777):  # batches crossing the first block's doublings and blocks
        end = {0: 10, 10: 300, 300: 777, 777: 1_000}[start]
        many.add_many(tids[start:end], sids[start:end], v[start:end])
    again = rng.standard_normal((2, DIM)).astype(np.float32)  # t5 replaced, t1000 new
    one.add("t5", "s1", again[0])
    one.add("t1000", "s999", again[1])
    many.add_many(["t5", "t1000"], ["s1", "s999"], again)
    assert len(one) == len(many) == 1_001 and one.subjects() == many.subjects()
    for q in [*v[::97], *again]:
        assert hits(many, q, 10) == hits(one, q, 10)
    assert many.remove_subject("s1") == one.remove_subject("s1") == 3
    for q in v[::89]:
        assert hits(many, q, 10) == hits(one, q, 10)
    with pytest.raises(ValueError, match="dimensions"):
        many.add_many(["x"], ["y"], np.ones((1, DIM + 1), dtype=np.float32))
    with pytest.raises(ValueError, match="as many"):
        many.add_many(["x", "z"], ["y"], np.ones((2, DIM), dtype=np.float32))


def test_a_bulk_load_builds_the_ivf_index_once_at_its_full_size() -> None:
    vectors, who, centres = face_like(12_000, DIM, per=4, seed=2)
    sids = [f"s{w}" for w in who]
    tids = [f"t{i}" for i in range(len(vectors))]
    ivf = IvfIndex(DIM, build_threshold=2_000, rebuild_growth=1.5)
    exact = ExactIndex(DIM)
    exact.add_many(tids, sids, vectors)
    with ivf.bulk():
        for start in range(0, len(vectors), 1_000):
            ivf.add_many(tids[start:start + 1_000], sids[start:start + 1_000],
                         vectors[start:start + 1_000])
            assert not ivf.building and ivf.builds == 0  # six times the threshold: no build
        assert [h.template_id for h in ivf.search(vectors[7], 1)] == ["t7"]  # exact serves
    assert ivf.wait_idle(120) and ivf.builds == 1 and ivf.ready
    assert ivf.nlist == 128 and len(ivf) == 12_000  # lists for 12k, not for 2k
    assert ivf.subject_count() == len(ivf.subjects()) == 3_000
    queries = probes(centres, 100)
    agree = [ivf.search(q, 1)[0].template_id == exact.search(q, 1)[0].template_id
             for q in queries]
    assert np.mean(agree) >= 0.99
    ivf.add_many(["late"], ["s-late"], vectors[:1])  # after the build: into the IVF lists
    assert int(ivf._ivf.ntotal) == 12_001 and "s-late" in ivf.subjects()


def test_without_bulk_the_gallery_is_rebuilt_as_it_grows() -> None:
    vectors, who, _ = face_like(12_000, DIM, per=4, seed=2)
    ivf = IvfIndex(DIM, build_threshold=2_000, rebuild_growth=1.5)
    for start in range(0, len(vectors), 1_000):
        ivf.add_many([f"t{i}" for i in range(start, start + 1_000)],
                     [f"s{w}" for w in who[start:start + 1_000]], vectors[start:start + 1_000])
        ivf.wait_idle(120)
    assert ivf.builds >= 3  # 2k, then each time it grew 1.5 times
