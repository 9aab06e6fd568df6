"""``ExactIndex`` (blocks of rows, removal by swapping the last row in) against a brute-force
reference, from threads, and under identification: stale index entries never reach a caller,
and do not crowd out the live candidates."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import JOLIE, OFFICER, OPERATOR, photo

from facegate.index import ExactIndex, Hit
from facegate.service import Facegate

DIM = 3


@dataclass
class Reference:
    """Rows in insertion order; a search sorts them all (score descending, earliest added
    first on ties) and keeps each subject's first row."""

    rows: list[tuple[str, str, tuple[int, ...]]] = field(default_factory=list)

    def add(self, tid: str, sid: str, vec: tuple[int, ...]) -> None:
        self.remove_templates([tid])
        self.rows.append((tid, sid, vec))

    def remove_templates(self, tids: list[str]) -> int:
        before = len(self.rows)
        self.rows = [r for r in self.rows if r[0] not in set(tids)]
        return before - len(self.rows)

    def remove_subject(self, sid: str) -> int:
        before = len(self.rows)
        self.rows = [r for r in self.rows if r[1] != sid]
        return before - len(self.rows)

    def search(self, q: tuple[int, ...], k: int) -> list[Hit]:
        scored = [(sum(a * b for a, b in zip(v, q, strict=True)), i, t, s)
                  for i, (t, s, v) in enumerate(self.rows)]
        scored.sort(key=lambda x: (-x[0], x[1]))
        hits: list[Hit] = []
        seen: set[str] = set()
        for score, _, t, s in scored:
            if len(hits) >= k:
                break
            if s not in seen:
                seen.add(s)
                hits.append(Hit(s, t, float(score)))
        return hits


# small integer vectors: dot products are exact in float32, and ties are frequent
vectors = st.tuples(*[st.integers(-2, 2)] * DIM)
tids = st.integers(0, 24).map(lambda i: f"t{i}")
sids = st.integers(0, 6).map(lambda i: f"s{i}")
ops = st.lists(st.one_of(
    st.tuples(st.just("add"), tids, sids, vectors),
    st.tuples(st.just("add"), tids, sids, vectors),
    st.tuples(st.just("add"), tids, sids, vectors),
    st.tuples(st.just("remove_subject"), sids),
    st.tuples(st.just("remove_templates"), st.lists(tids, max_size=4)),
    st.tuples(st.just("search"), vectors, st.integers(0, 9)),
), max_size=60)


def arr(v: tuple[int, ...]) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.array(v, dtype=np.float32)


@settings(max_examples=300, deadline=None)
@given(ops=ops, block_rows=st.sampled_from([1, 2, 3, 7, 1000]))
def test_matches_brute_force_reference(ops: list[tuple[Any, ...]], block_rows: int) -> None:
    index, ref = ExactIndex(DIM, block_rows=block_rows), Reference()
    for op in ops:
        if op[0] == "add":
            index.add(op[1], op[2], arr(op[3]))
            ref.add(op[1], op[2], op[3])
        elif op[0] == "remove_subject":
            assert index.remove_subject(op[1]) == ref.remove_subject(op[1])
        elif op[0] == "remove_templates":
            assert index.remove_templates(op[1]) == ref.remove_templates(op[1])
        else:
            assert index.search(arr(op[1]), op[2]) == ref.search(op[1], op[2])
        assert len(index) == len(ref.rows)
        assert index.subjects() == {s for _, s, _ in ref.rows}
        assert index.subject_count() == len(index.subjects())
    for q in [(1, 0, 0), (0, -1, 1), (0, 0, 0)]:
        assert index.search(arr(q), 100) == ref.search(q, 100)


def test_first_block_doubles_then_blocks_are_appended() -> None:
    rng = np.random.default_rng(1)
    index, ref = ExactIndex(DIM, block_rows=100), Reference()
    for i in range(450):
        v = tuple(int(x) for x in rng.integers(-3, 4, DIM))
        index.add(f"t{i}", f"s{i % 37}", arr(v))
        ref.add(f"t{i}", f"s{i % 37}", v)
    for sid in ["s3", "s0", "s36"]:
        assert index.remove_subject(sid) == ref.remove_subject(sid)
    assert index.remove_templates([f"t{i}" for i in range(0, 450, 7)]) \
        == ref.remove_templates([f"t{i}" for i in range(0, 450, 7)])
    for q in [(1, 2, 3), (-1, 0, 2), (3, 3, -3)]:
        for k in [1, 5, 40]:
            assert index.search(arr(q), k) == ref.search(q, k)


@pytest.mark.parametrize("block_rows", [1, 4, None])
def test_removing_every_row(block_rows: int | None) -> None:
    rng = np.random.default_rng(2)
    index = ExactIndex(8, block_rows=block_rows)
    for i in range(100):
        index.add(f"t{i}", f"s{i % 10}", rng.standard_normal(8).astype(np.float32))
    assert index.remove_templates([f"t{i}" for i in range(0, 100, 10)]) == 10  # s0 gone
    assert "s0" not in index.subjects() and index.remove_subject("s0") == 0
    for s in range(1, 10):
        assert index.remove_subject(f"s{s}") == 10
    assert len(index) == 0 and index.subjects() == set()
    assert index.search(rng.standard_normal(8).astype(np.float32), 5) == []
    assert index.remove_subject("s1") == 0 and index.remove_templates(["t1", "nope"]) == 0
    # nothing of a removed template stays behind in the blocks
    assert all(not b.any() for b in index._blocks)
    v = np.ones(8, dtype=np.float32)
    index.add("again", "s1", v)
    assert index.search(v, 3) == [Hit("s1", "again", 8.0)]


def test_dimension_errors() -> None:
    index = ExactIndex(4)
    with pytest.raises(ValueError, match="3 dimensions, the index 4"):
        index.add("t", "s", np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="5 dimensions, the index 4"):
        index.search(np.zeros(5, dtype=np.float32), 1)
    index.add("t", "s", np.ones((1, 4), dtype=np.float32))  # any shape of 4 values
    with pytest.raises(ValueError):
        index.search(np.zeros((2, 4), dtype=np.float32), 1)
    assert len(index) == 1
    with pytest.raises(ValueError):
        ExactIndex(0)


def test_concurrent_add_remove_search() -> None:
    dim, index = 16, ExactIndex(16, block_rows=8)
    rng = np.random.default_rng(3)
    anchor = rng.standard_normal(dim).astype(np.float32)
    anchor /= np.linalg.norm(anchor)
    index.add("anchor", "anchor", anchor)  # never removed: always the best match of itself
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        r = np.random.default_rng(100 + w)
        try:
            for round_ in range(150):
                sid = f"w{w}-{round_}"
                for j in range(3):
                    v = r.standard_normal(dim).astype(np.float32)
                    v -= anchor * float(v @ anchor) * 1.01  # never as close to the anchor
                    index.add(f"{sid}-{j}", sid, v / np.linalg.norm(v))
                if round_ % 3 == 0:
                    index.remove_templates([f"{sid}-0", f"{sid}-1", f"{sid}-2"])
                elif round_ % 3 == 1:
                    index.remove_subject(sid)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    def searcher() -> None:
        try:
            while not stop.is_set():
                hits = index.search(anchor, 10)
                assert hits[0].subject_id == "anchor" and hits[0].template_id == "anchor"
                assert len({h.subject_id for h in hits}) == len(hits)
                assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        except BaseException as e:
            errors.append(e)

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    searchers = [threading.Thread(target=searcher) for _ in range(2)]
    for t in writers + searchers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in searchers:
        t.join()
    assert errors == []
    # rounds 2, 5, 8, ... of each writer stay: 50 subjects of 3 templates each
    kept = {f"w{w}-{r}" for w in range(4) for r in range(2, 150, 3)}
    assert index.subjects() == kept | {"anchor"}
    assert len(index) == 3 * len(kept) + 1
    for sid in ["w0-2", "w3-149"]:
        index.remove_subject(sid)
    assert len(index.search(anchor, 1000)) == len(kept) - 1


# ---- identification: the index proposes, the store decides ---------------------------------


def registry_indexes(service: Facegate) -> list[ExactIndex]:
    return [index for _, index in service.matching.identification.indexes._indexes.values()]


def test_identify_returns_k_confirmed_despite_stale_entries(service: Facegate,
                                                            door: str) -> None:
    people = []
    for i, p in enumerate([JOLIE[0], JOLIE[1], JOLIE[2], JOLIE[0]]):  # one face, four people
        sid = str(service.subjects.add(OFFICER, f"staff-{i}")["id"])
        service.consents.grant(OFFICER, sid, door, "access_control")
        assert service.matching.enrol(OPERATOR, sid, door, [photo(p)])["templates"]
        people.append(sid)
    probe = photo("id01_angelina_jolie/img6.jpg")
    out = service.matching.identify(OPERATOR, door, probe, top=4)
    ranked = [c["subject"] for c in out["candidates"]]
    assert sorted(ranked) == sorted(people)
    withdrawn, live = ranked[:2], ranked[2:]
    for sid in withdrawn:
        service.consents.withdraw(OFFICER, sid, door)
    assert [c["subject"] for c in service.matching.identify(OPERATOR, door, probe,
                                                            top=4)["candidates"]] == live
    # Behind the store's back, the cached index gets the withdrawn subjects back, and subjects
    # the store never held, all scoring as high as a template can (the probe's own vector).
    vector = service.recogniser.probe(probe)[0].faces[0].embedding
    assert vector is not None
    [index] = registry_indexes(service)
    stale = withdrawn + [f"ghost-{g}" for g in range(10)]
    for n, sid in enumerate(stale):
        index.add(f"stale-{n}", sid, vector)
    # (equal vectors may score an ulp apart, by their rows: the order among them is not fixed)
    assert {h.subject_id for h in index.search(vector, len(stale))} == set(stale)
    out = service.matching.identify(OPERATOR, door, probe, top=2)
    assert [c["subject"] for c in out["candidates"]] == live
    assert [c["subject"] for c in out["faces"][0]["candidates"]] == live
    assert [c["subject"] for c in service.matching.identify(OPERATOR, door, probe,
                                                            top=1)["candidates"]] == live[:1]
    assert registry_indexes(service) == [index]  # the stale index was used, not rebuilt
    # the duplicate check at enrolment also skips the stale entries
    newcomer = str(service.subjects.add(OFFICER, "staff-new")["id"])
    service.consents.grant(OFFICER, newcomer, door, "access_control")
    dup = service.matching.enrol(OPERATOR, newcomer, door, [photo(JOLIE[1])])
    assert sorted(c["subject"] for c in dup["possible_duplicates"]) == sorted(live)
