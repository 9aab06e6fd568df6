"""The IVF-Flat 1:N index against exact search on synthetic face-like templates.

    .venv/bin/python bench/index_ivf.py --n 1000000 --json

Gallery: ``--n`` unit vectors, ``--per`` templates per identity (a random centre inside a
shared cone, plus noise: same-identity cosine about 0.95, different identities 0.6-0.83, as
face descriptors measure). Probes: fresh samples of random enrolled identities.

Reported: the background build (from the moment the gallery reaches the threshold until the
IVF index serves), nlist and the calibrated nprobe, p50/p99 search latency (k=1 and k=10) for
the IVF index and ``ExactIndex``, recall@1 (the IVF's top template is the exact one, or scores
the same) and the share of exact top-10 subjects the IVF returns.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facegate.index.exact import ExactIndex
from facegate.index.ivf import IvfIndex


def _unit(x: NDArray[np.float32]) -> NDArray[np.float32]:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def face_like(n: int, dim: int = 128, per: int = 4, seed: int = 0, noise: float = 0.02
              ) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float32]]:
    """``n`` templates of ``ceil(n / per)`` identities: (vectors, identity of each, centres)."""
    rng = np.random.default_rng(seed)
    people = -(-n // per)
    axis = _unit(rng.standard_normal(dim).astype(np.float32))
    spread = rng.uniform(0.45, 0.65, size=(people, 1)).astype(np.float32)
    centres = _unit(axis + spread * _unit(rng.standard_normal((people, dim)).astype(np.float32)))
    who = np.arange(n, dtype=np.int64) // per
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 262144):
        part = who[start: start + 262144]
        jitter = rng.standard_normal((len(part), dim)).astype(np.float32) * noise
        vectors[start: start + len(part)] = _unit(centres[part] + jitter)
    return vectors, who, centres


def probes(centres: NDArray[np.float32], count: int, seed: int = 1,
           noise: float = 0.02) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(centres), size=count)
    jitter = rng.standard_normal((count, centres.shape[1])).astype(np.float32) * noise
    return _unit(centres[pick] + jitter)


def _latency(index: Any, queries: NDArray[np.float32], k: int) -> tuple[list[Any], float, float]:
    out, times = [], []
    for q in queries:
        t = time.perf_counter()
        out.append(index.search(q, k))
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1000
    return out, float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--per", type=int, default=4, help="templates per identity")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--nprobe", type=int, default=None,
                    help="lists probed (default: calibrated for recall@1 at build)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line")
    args = ap.parse_args(argv)
    vectors, who, centres = face_like(args.n, args.dim, args.per)
    ivf = IvfIndex(args.dim, build_threshold=args.n, nprobe=args.nprobe)
    started = time.perf_counter()
    for i in range(args.n):
        ivf.add(f"t{i}", f"s{who[i]}", vectors[i])
    add_s = time.perf_counter() - started
    started = time.perf_counter()
    ivf.wait_ready()
    build_s = time.perf_counter() - started
    exact = ExactIndex(args.dim)
    for i in range(args.n):
        exact.add(f"t{i}", f"s{who[i]}", vectors[i])
    del vectors
    queries = probes(centres, args.queries)
    ivf1, ivf_p50, ivf_p99 = _latency(ivf, queries, 1)
    ivf10, ivf10_p50, ivf10_p99 = _latency(ivf, queries, 10)
    ex1, ex_p50, ex_p99 = _latency(exact, queries, 1)
    ex10, _, _ = _latency(exact, queries, 10)
    recall1 = float(np.mean([a[0].template_id == b[0].template_id
                             or abs(a[0].score - b[0].score) < 1e-5
                             for a, b in zip(ivf1, ex1, strict=True)]))
    recall10 = float(np.mean([len({h.subject_id for h in a} & {h.subject_id for h in b}) / 10
                              for a, b in zip(ivf10, ex10, strict=True)]))
    result = {
        "n": args.n, "dim": args.dim, "per": args.per, "queries": args.queries,
        "nlist": ivf.nlist, "nprobe": ivf.nprobe, "add_s": round(add_s, 2),
        "build_s": round(build_s, 2),
        "ivf_p50_ms": round(ivf_p50, 3), "ivf_p99_ms": round(ivf_p99, 3),
        "ivf_k10_p50_ms": round(ivf10_p50, 3), "ivf_k10_p99_ms": round(ivf10_p99, 3),
        "exact_p50_ms": round(ex_p50, 3), "exact_p99_ms": round(ex_p99, 3),
        "recall_at_1": recall1, "top10_subject_recall": recall10,
        "cpus": os.cpu_count(), "machine": platform.machine(),
    }
    print("| n | nlist | nprobe | build s | IVF p50 / p99 ms (k=1) | IVF p50 / p99 ms (k=10) "
          "| exact p50 / p99 ms | recall@1 | top-10 recall |\n" + "|---" * 9 + "|")
    print(f"| {args.n:,} | {ivf.nlist} | {ivf.nprobe} | {build_s:.1f} | {ivf_p50:.2f} / "
          f"{ivf_p99:.2f} | {ivf10_p50:.2f} / {ivf10_p99:.2f} | {ex_p50:.1f} / {ex_p99:.1f} "
          f"| {recall1:.4f} | {recall10:.4f} |")
    if args.json:
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
