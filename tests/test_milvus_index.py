"""The milvus backend (index/milvus.py) against a real Milvus server (the ``milvus`` wheel, a
standalone server in a temporary directory): the same results as ``ExactIndex``, removals in
force at the next search (Strong consistency), rebuilds that keep a shared collection, and
through the service a withdrawn subject never returned."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bench.milvus_server import free_port, milvus_server
from tests.conftest import ID02, JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo

from facegate.engine import Engine
from facegate.errors import IndexUnavailable
from facegate.index import ExactIndex, Hit
from facegate.index.milvus import MilvusIndex, collection_name
from facegate.service import Facegate, Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        import milvus  # noqa: F401 - the server wheel
    except ImportError:
        if os.environ.get("CI") == "true":
            raise  # CI installs it (scripts/setup.sh): a missing server is a failure there
        pytest.skip("the milvus server wheel is not installed (pip install --no-deps "
                    "milvus==2.3.5, as scripts/setup.sh does)")
    with milvus_server(str(tmp_path_factory.mktemp("milvus"))) as uri:
        yield uri


def clustered(rng: np.random.Generator, n: int, dim: int, centres: int) -> np.ndarray:
    c = rng.standard_normal((centres, dim))
    v = c[rng.integers(0, centres, n)] + 0.15 * rng.standard_normal((n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def uniform(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("kind", ["uniform", "clustered"])
def test_milvus_finds_what_the_exact_index_finds(milvus_uri: str, kind: str) -> None:
    rng = np.random.default_rng(7)
    dim, n = 64, 1500
    vectors = uniform(rng, n, dim) if kind == "uniform" else clustered(rng, n, dim, 20)
    tids = [f"t{i}" for i in range(n)]
    sids = [f"s{int(i) % 400}" for i in range(n)]  # several templates per subject
    exact, remote = ExactIndex(dim), MilvusIndex(dim, milvus_uri, f"cmp_{kind}")
    for t, s, v in zip(tids, sids, vectors, strict=True):
        exact.add(t, s, v)
    remote.add_many(tids, sids, vectors)
    assert len(remote) == n and remote.subjects() == exact.subjects()
    queries = np.vstack([vectors[rng.integers(0, n, 10)], uniform(rng, 5, dim)])
    for q in queries:
        for k in (1, 10):
            want, got = exact.search(q, k), remote.search(q, k)
            assert [h.subject_id for h in got] == [h.subject_id for h in want]
            assert [h.template_id for h in got] == [h.template_id for h in want]
            assert np.allclose([h.score for h in got], [h.score for h in want], atol=1e-5)
    remote.drop()


def test_removed_templates_and_subjects_are_never_found(milvus_uri: str) -> None:
    rng = np.random.default_rng(3)
    dim = 32
    vectors = uniform(rng, 60, dim)
    index = MilvusIndex(dim, milvus_uri, "removals")
    index.add_many([f"t{i}" for i in range(60)], [f"s{i // 3}" for i in range(60)], vectors)
    for i in range(0, 60, 6):  # each removal is searched for at once
        sid = f"s{i // 3}"
        assert index.search(vectors[i], 1)[0].subject_id == sid
        assert index.remove_subject(sid) == 3
        assert sid not in [h.subject_id for h in index.search(vectors[i], 20)]
        assert index.remove_templates([f"t{i + 3}", "absent"]) == 1
        assert "t" + str(i + 3) not in [h.template_id for h in index.search(vectors[i + 3], 20)]
    assert len(index) == 60 - 10 * 4 and "s0" not in index.subjects()
    index.add("t0", "s0", vectors[0])  # enrolled again
    assert index.search(vectors[0], 1)[0].template_id == "t0"
    index.drop()


def test_a_rebuild_keeps_the_shared_collection_and_settles_it(milvus_uri: str) -> None:
    """Another process's rebuild never empties the collection under this one: it upserts
    what the store has, then removes the rest; re-keying drops the old epoch's."""
    v = uniform(np.random.default_rng(5), 3, 16)
    old = MilvusIndex.for_deployment(16, milvus_uri, "door", "engine-a", 0)
    old.add("t1", "s1", v[0])
    old.add("t3", "s3", v[2])  # withdrawn from the store before the rebuild below
    again = MilvusIndex.for_deployment(16, milvus_uri, "door", "engine-a", 0)
    assert [h.subject_id for h in old.search(v[0], 1)] == ["s1"]  # still served
    again.add("t1", "s1", v[0])  # the rebuild adds what the store has
    assert again.remove_absent() == 1  # and removes the rest
    assert again.remove_absent() == 0
    assert [h.subject_id for h in old.search(v[2], 5)] == ["s1"]  # s3 gone for everyone
    assert [h.template_id for h in again.search(v[0], 5)] == ["t1"]
    rekeyed = MilvusIndex.for_deployment(16, milvus_uri, "door", "engine-a", 1)
    rekeyed.add("t2", "s2", v[1])
    names = rekeyed._client.list_collections()
    assert collection_name("door", "engine-a", 1) in names
    assert collection_name("door", "engine-a", 0) not in names  # the old epoch's is dropped
    assert [h.subject_id for h in rekeyed.search(v[0], 5)] == ["s2"]
    rekeyed.drop()


def test_searches_wait_for_writes_only_while_they_may_be_unseen(milvus_uri: str) -> None:
    """Strong (a time tick, ~200 ms) right after this index wrote, Bounded (ms) after that:
    a removal older than the server's graceful time is seen by a Bounded search."""
    v = uniform(np.random.default_rng(9), 40, 16)
    index = MilvusIndex(16, milvus_uri, "levels")
    index.add_many([f"t{i}" for i in range(40)], [f"s{i // 2}" for i in range(40)], v)
    assert index.consistency() == "Strong"  # a Bounded search might not see them yet
    assert index.search(v[0], 1)[0].template_id == "t0"
    assert index.remove_subject("s0") == 2
    assert index.consistency() == "Strong"
    assert "s0" not in [h.subject_id for h in index.search(v[0], 10)]
    time.sleep(6)  # past the default graceful time (5 s)
    index._strong_until = 0.0  # as if STRONG_AFTER_WRITE_S had passed
    assert index.consistency() == "Bounded"
    found = [h.subject_id for h in index.search(v[0], 10)]
    assert "s0" not in found and "s1" in found  # Bounded sees the removal and the rest
    index.drop()


def test_an_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(IndexUnavailable) as raised:
        MilvusIndex(8, f"http://127.0.0.1:{free_port()}", "nowhere", timeout=2)
    assert raised.value.http_status == 503


def test_through_the_service_a_withdrawn_subject_is_never_returned(
        data_dir: Path, engine: Engine, milvus_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw: list[list[Hit]] = []  # what the index proposed, before the store confirms it
    search = MilvusIndex.search

    def proposing(self: MilvusIndex, vector: Any, k: int) -> list[Hit]:
        raw.append(search(self, vector, k))
        return raw[-1]

    monkeypatch.setattr(MilvusIndex, "search", proposing)
    settings = Settings(data_dir=data_dir, index_backend="milvus", milvus_uri=milvus_uri)
    Facegate.initialise(settings)
    svc = Facegate(settings, engine)
    try:
        door = assessed(svc, office_manifest(mode="identify"))

        def enrolled(ref: str, photos: list[str]) -> str:
            sid = str(svc.subjects.add(OFFICER, ref)["id"])
            svc.consents.grant(OFFICER, sid, door, "access_control")
            svc.matching.enrol(OPERATOR, sid, door, [photo(p) for p in photos])
            return sid

        other = enrolled("E-0", ID02[:2])
        probe = photo(JOLIE[2])
        for round_ in range(6):
            jolie = enrolled(f"E-{round_ + 1}", JOLIE[:2])
            out = svc.matching.identify(OPERATOR, door, probe)
            assert [c["subject"] for c in out["candidates"]][:1] == [jolie]
            [index] = svc.matching.indexes.held(door)
            inner = index.inner
            assert isinstance(inner, MilvusIndex)
            svc.consents.withdraw(OFFICER, jolie)
            out = svc.matching.identify(OPERATOR, door, probe)
            assert jolie not in [c["subject"] for c in out["candidates"]]
            left = inner._client.query(inner.collection, filter=f'subject_id == "{jolie}"',
                                       output_fields=["template_id"],
                                       consistency_level="Strong")
            assert list(left) == []  # gone from the server itself, not only filtered out
            assert jolie not in {h.subject_id for h in raw[-1]}  # not even proposed
        out = svc.matching.identify(OPERATOR, door, photo(ID02[2]))
        assert [c["subject"] for c in out["candidates"]][:1] == [other]
    finally:
        svc.close()
