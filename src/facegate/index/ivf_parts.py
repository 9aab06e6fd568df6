"""The parts of the IVF index that need none of its state: picking ``nprobe`` for a target
recall, replaying logged changes into a new index, removing ids, copying vectors out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

# Log entries: ("add", ids, vectors) or ("remove", ids).
Change = tuple[str, NDArray[np.int64], NDArray[np.float32] | None]


def calibrate(index: Any, vecs: NDArray[np.float32], ids: NDArray[np.int64],
              rng: np.random.Generator, count: int, target: float) -> int:
    """The smallest nprobe (doubling from nlist/64) whose recall@1 against exact search,
    for gallery vectors as queries (each excluding itself), reaches the target with half
    its miss rate as margin."""
    n, nlist = len(ids), int(index.nlist)
    rows = np.sort(rng.choice(n, size=min(n, count), replace=False))
    queries = np.ascontiguousarray(vecs[rows])
    best = np.full(len(rows), -np.inf, dtype=np.float32)
    for start in range(0, n, 65536):
        block = vecs[start: start + 65536] @ queries.T
        own = (rows >= start) & (rows < start + len(block))
        block[rows[own] - start, np.flatnonzero(own)] = -np.inf
        np.maximum(best, block.max(axis=0), out=best)
    goal = 1.0 - (1.0 - target) / 2
    probe = max(1, nlist // 64)
    while probe < nlist:
        params = faiss.SearchParametersIVF(nprobe=probe)  # type: ignore[call-arg]
        scores, found = index.search(queries, 2, params=params)
        other = np.where(found[:, 0] == ids[rows], scores[:, 1], scores[:, 0])
        other = np.where(found[:, 0] == -1, -np.inf, other)
        if float(np.mean(other >= best - 1e-5)) >= goal:
            return probe
        probe *= 2
    return nlist


def remove_ids(index: Any, ids: NDArray[np.int64]) -> None:
    # The hash-table direct map removes by lookup only with an IDSelectorArray.
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)))


def replay(index: Any, changes: Iterable[Change]) -> None:
    """Apply logged changes in order, consecutive additions as one batch."""
    adds: list[tuple[NDArray[np.int64], NDArray[np.float32]]] = []

    def flush() -> None:
        if adds:
            index.add_with_ids(np.concatenate([v for _, v in adds]),
                               np.concatenate([i for i, _ in adds]))
            adds.clear()

    for kind, ids, vecs in changes:
        if kind == "add":
            assert vecs is not None
            adds.append((ids, vecs))
        else:
            flush()
            remove_ids(index, ids)
    flush()


def extract(index: Any, dim: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Every (id, vector) an IVF-Flat index holds, copied out of its inverted lists."""
    lists = index.invlists
    ids: list[NDArray[np.int64]] = []
    vecs: list[NDArray[np.float32]] = []
    for no in range(int(index.nlist)):
        size = int(lists.list_size(no))
        if size:
            ids.append(faiss.rev_swig_ptr(lists.get_ids(no), size).copy())
            codes = faiss.rev_swig_ptr(lists.get_codes(no), size * lists.code_size).copy()
            vecs.append(codes.view(np.float32).reshape(size, dim))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
    return np.concatenate(ids).astype(np.int64), np.concatenate(vecs)
