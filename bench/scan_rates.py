"""Per-core scan rates of the search kernels a very large gallery would rest on: float32
inner products (NumPy, the exact index), 8-bit scalar quantisation (faiss SQ8) and 4-bit
product-quantisation fast scan (faiss PQ fast-scan), each on one thread over ``--n`` random
normalised 128-d vectors. The figures feed docs/scale.md.

    .venv/bin/python bench/scan_rates.py --n 1000000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # after the thread settings above
from numpy.typing import NDArray

DIM = 128


def best_of(fn: Callable[[], object], runs: int) -> float:
    """The fastest of ``runs`` calls, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def vectors(n: int, seed: int) -> NDArray[np.float32]:
    m = np.random.default_rng(seed).standard_normal((n, DIM), dtype=np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m


def rates(n: int, runs: int, seed: int) -> dict[str, float | int | str]:
    m = vectors(n, seed)
    q = m[:1].copy()
    out: dict[str, float | int | str] = {"n": n, "dim": DIM}
    out["float32_mvec_s"] = n / best_of(lambda: m @ q[0], runs) / 1e6
    try:
        import faiss
    except ImportError:
        out["faiss"] = "not installed"
        return out
    faiss.omp_set_num_threads(1)
    sq = faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_8bit,
                                    faiss.METRIC_INNER_PRODUCT)
    sq.train(m[: min(n, 100_000)])
    sq.add(m)
    out["sq8_mvec_s"] = n / best_of(lambda: sq.search(q, 10), runs) / 1e6
    pq = faiss.IndexPQFastScan(DIM, 32, 4, faiss.METRIC_INNER_PRODUCT)
    pq.train(m[: min(n, 100_000)])
    pq.add(m)
    out["pq_fastscan_mvec_s"] = n / best_of(lambda: pq.search(q, 10), runs) / 1e6
    exact = m @ q[0]
    truth = set(np.argsort(-exact)[:1].tolist())
    _, found = pq.search(q, 1)
    out["pq_fastscan_top1_is_exact"] = int(int(found[0][0]) in truth)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    out = rates(a.n, a.runs, a.seed)
    if a.json:
        print(json.dumps(out))
        return
    for key, value in out.items():
        print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
