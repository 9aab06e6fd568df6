"""The ivf backend's search structure (faiss IVF-Flat) at 10M templates, without the rest.

    .venv/bin/python bench/faiss_scale.py --n 10000000 --json

``IvfIndex`` holds, until its background build is done, the gallery twice (the exact index
that serves meanwhile and the snapshot the build reads) and then the IVF lists: at 10M 128-d
templates that is 15 GB of vectors at the peak, on top of the bookkeeping, more than this
machine kind's 24 GiB leaves for a benchmark that must also hold the gallery to check recall.
This benchmark therefore builds the same faiss structure ``IvfIndex`` builds (IVF-Flat, inner
product, ``default_nlist`` lists, trained on 64 vectors per list), straight from the generated
gallery, and measures what it costs: training, filling, memory, p50/p99 of one search at
several ``nprobe`` with the recall@1 each gives against an exhaustive scan (blocked NumPy,
which also gives the exact scan's own time per probe).

Gallery: ``bench/index_ivf.py``'s face-like templates (4 per identity); probes: fresh samples
of enrolled identities.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from index_ivf import face_like, probes

from facegate.index.ivf import default_nlist

BLOCK = 1 << 20


def _rss_gb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


def exhaustive(vectors: NDArray[np.float32], queries: NDArray[np.float32]
               ) -> tuple[NDArray[np.int64], NDArray[np.float32], float]:
    """Each query's best row and score by a blocked scan of every vector; the scan's time per
    query when the queries are scanned one at a time (measured on the first few)."""
    best = np.full(len(queries), -1, dtype=np.int64)
    score = np.full(len(queries), -np.inf, dtype=np.float32)
    for start in range(0, len(vectors), BLOCK):
        s = vectors[start: start + BLOCK] @ queries.T
        at = np.argmax(s, axis=0)
        top = s[at, np.arange(len(queries))]
        better = top > score
        best[better], score[better] = at[better] + start, top[better]
    times = []
    for q in queries[:5]:
        t = time.perf_counter()
        for start in range(0, len(vectors), BLOCK):
            np.argmax(vectors[start: start + BLOCK] @ q)
        times.append(time.perf_counter() - t)
    return best, score, float(np.median(times))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--nprobe", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--threads", type=int, default=1, help="faiss threads (the service: 1 "
                    "per search)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line")
    args = ap.parse_args(argv)
    faiss.omp_set_num_threads(args.threads)
    started = time.perf_counter()
    vectors, _, centres = face_like(args.n, args.dim)
    out: dict[str, Any] = {"n": args.n, "dim": args.dim, "queries": args.queries,
                           "generate_s": round(time.perf_counter() - started, 1)}
    queries = probes(centres, args.queries)
    del centres
    nlist = default_nlist(args.n)
    rss = _rss_gb()
    started = time.perf_counter()
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(args.dim), args.dim, nlist,
                               faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(args.n, size=min(args.n, 64 * nlist), replace=False))
    index.train(np.ascontiguousarray(vectors[sample]))
    out["train_s"] = round(time.perf_counter() - started, 1)
    for start in range(0, args.n, 65536):
        index.add_with_ids(np.ascontiguousarray(vectors[start: start + 65536]),
                           np.arange(start, min(args.n, start + 65536), dtype=np.int64))
    out |= {"nlist": nlist, "build_s": round(time.perf_counter() - started, 1),
            "index_gb": round(_rss_gb() - rss, 2)}
    truth, truth_score, scan_s = exhaustive(vectors, queries)
    out["exact_scan_ms"] = round(scan_s * 1000, 1)
    runs = []
    for nprobe in args.nprobe:
        params = faiss.SearchParametersIVF(nprobe=nprobe)  # type: ignore[call-arg]
        times, hit = [], 0
        for i, q in enumerate(queries):
            t = time.perf_counter()
            scores, ids = index.search(q.reshape(1, -1), 1, params=params)
            times.append(time.perf_counter() - t)
            hit += ids[0, 0] == truth[i] or abs(scores[0, 0] - truth_score[i]) < 1e-5
        ms = np.array(times) * 1000
        runs.append({"nprobe": nprobe, "p50_ms": round(float(np.percentile(ms, 50)), 2),
                     "p99_ms": round(float(np.percentile(ms, 99)), 2),
                     "recall_at_1": round(hit / len(queries), 4)})
    out |= {"runs": runs, "peak_rss_gb": round(_rss_gb(), 2), "cpus": os.cpu_count(),
            "machine": platform.machine(), "threads": args.threads}
    print("| n | nlist | nprobe | p50 / p99 ms | recall@1 |\n|---|---|---|---|---|")
    for r in runs:
        print(f"| {args.n:,} | {nlist} | {r['nprobe']} | {r['p50_ms']} / {r['p99_ms']} "
              f"| {r['recall_at_1']} |")
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
