"""Removal, growth and search latency of ``ExactIndex`` (blocks, swap-with-last removal)
against the former single matrix compacted on every removal (reimplemented here).

    .venv/bin/python bench/index_removal.py --n 1000000

N random 128-d normalised vectors, ``--per-subject`` templates per subject. Reported, for
both: ``remove_subject`` p50/p99 (the former one over fewer removals: each takes a pass over
the whole matrix), the worst single ``add`` while building (the former one copies the matrix
when it doubles), and ``search`` p50 (k=5). A Markdown table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facegate.index import ExactIndex, Hit

DIM = 128


class CompactingIndex:
    """The former ``ExactIndex``: one growing matrix, compacted on every removal."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._n = 0
        self._template_ids: list[str] = []
        self._subject_ids: list[str] = []
        self._lock = threading.RLock()

    def add(self, template_id: str, subject_id: str, vector: NDArray[np.float32]) -> None:
        with self._lock:
            if self._n == self._matrix.shape[0]:
                grown = np.zeros((max(64, 2 * self._n), self.dim), dtype=np.float32)
                grown[: self._n] = self._matrix[: self._n]
                self._matrix = grown
            self._matrix[self._n] = vector
            self._n += 1
            self._template_ids.append(template_id)
            self._subject_ids.append(subject_id)

    def _keep(self, keep: list[int]) -> int:
        removed = self._n - len(keep)
        if removed:
            self._matrix[: len(keep)] = self._matrix[keep]
            self._matrix[len(keep): self._n] = 0.0
            self._template_ids = [self._template_ids[i] for i in keep]
            self._subject_ids = [self._subject_ids[i] for i in keep]
            self._n = len(keep)
        return removed

    def remove_subject(self, subject_id: str) -> int:
        with self._lock:
            return self._keep([i for i, s in enumerate(self._subject_ids) if s != subject_id])

    def search(self, vector: NDArray[np.float32], k: int) -> list[Hit]:
        with self._lock:
            scores = self._matrix[: self._n] @ vector
            m = min(self._n, max(16 * k, 64))
            cand = np.argpartition(-scores, m - 1)[:m]
            order = cand[np.argsort(-scores[cand], kind="stable")]
            seen: set[str] = set()
            hits: list[Hit] = []
            for i in order.tolist():
                if self._subject_ids[i] not in seen:
                    seen.add(self._subject_ids[i])
                    hits.append(Hit(self._subject_ids[i], self._template_ids[i],
                                    float(scores[i])))
                    if len(hits) == k:
                        break
            return hits


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) * 1000.0  # ms


def build(index: Any, vectors: NDArray[np.float32], per_subject: int) -> float:
    """Add every vector; the slowest single add, in ms."""
    worst = 0.0
    for i, v in enumerate(vectors):
        t = time.perf_counter()
        index.add(f"t{i}", f"s{i // per_subject}", v)
        worst = max(worst, time.perf_counter() - t)
    return worst * 1000.0


def timed(fn: Any, args: list[Any]) -> list[float]:
    out = []
    for a in args:
        t = time.perf_counter()
        fn(a)
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="templates")
    ap.add_argument("--per-subject", type=int, default=2)
    ap.add_argument("--removals", type=int, default=200, help="subjects removed (new index)")
    ap.add_argument("--old-removals", type=int, default=20,
                    help="subjects removed (compacting index)")
    ap.add_argument("--searches", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    vectors = rng.standard_normal((a.n, DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = list(vectors[rng.choice(a.n, a.searches, replace=False)])
    subjects = a.n // a.per_subject
    gone = [f"s{i}" for i in rng.choice(subjects, a.removals + a.old_removals, replace=False)]

    rows: dict[str, dict[str, float]] = {}
    for name, index, removals in [
        ("compacting (former)", CompactingIndex(DIM), gone[a.removals:]),
        ("blocks + swap (ExactIndex)", ExactIndex(DIM), gone[: a.removals]),
    ]:
        worst_add = build(index, vectors, a.per_subject)
        search = timed(lambda q, ix=index: ix.search(q, 5), queries)
        remove = timed(index.remove_subject, removals)
        rows[name] = {"remove_p50_ms": pct(remove, 50), "remove_p99_ms": pct(remove, 99),
                      "removals": len(removals), "worst_add_ms": worst_add,
                      "search_p50_ms": pct(search, 50)}
        del index

    machine = f"{platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}"
    print(f"N = {a.n:,} templates x {DIM}-d float32, {a.per_subject} per subject; {machine}\n")
    print("| index | remove_subject p50 | p99 | removals | worst add | search p50 (k=5) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(f"| {name} | {r['remove_p50_ms']:.3f} ms | {r['remove_p99_ms']:.3f} ms | "
              f"{r['removals']:.0f} | {r['worst_add_ms']:.1f} ms | {r['search_p50_ms']:.1f} ms |")
    print()
    print(json.dumps({"bench": "index_removal", "n": a.n, "dim": DIM,
                      "per_subject": a.per_subject, "machine": machine,
                      "results": rows}))


if __name__ == "__main__":
    main()
