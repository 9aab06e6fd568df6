"""Open-set 1:N identification on LFW through facegate's engine.

    .venv/bin/python bench/identification.py --engine fast --json

Gallery: the first image of every identity with two or more images (1,680 people). Mated
probes: their other images. Non-mated probes: every image of the identities with a single
image (people not enrolled). Reported: rank-1 hit rate and FNIR at the default threshold, and
FNIR at FPIR 0.01 (the threshold at which 1% of non-mated probes return a candidate).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from facegate.engine import engine_factory
from facegate.engine.calibration import TemplateCache, default_cache, image_path, templates
from facegate.engine.dlib_engine import DlibEngine
from facegate.engine.dlib_onnx import FastDlibEngine
from facegate.engine.sface_engine import SfaceEngine
from facegate.service.config import (
    CALIBRATION,
    DEFAULT_FMR,
    identify_fmr,
    threshold_for,
)

ENGINES = {"dlib": DlibEngine, "fast": FastDlibEngine, "sface": SfaceEngine}
ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "data" / "lfw"


def people(lfw: Path) -> dict[str, int]:
    out = {}
    for line in (lfw / "lfw-names.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = int(parts[1])
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lfw", type=Path, default=LFW)
    ap.add_argument("--engine", choices=sorted(ENGINES),
                    help="default: the installation's engine (FACEGATE_ENGINE)")
    ap.add_argument("--workers", type=int)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    factory = ENGINES[args.engine] if args.engine else engine_factory()
    engine = factory()
    counts = people(args.lfw)
    paths = [image_path(name, k) for name, n in counts.items() for k in range(1, n + 1)]
    cache = TemplateCache(default_cache(engine))
    started = time.monotonic()
    templates(args.lfw, paths, factory, cache, args.workers, progress=not args.json)

    gallery_names = [name for name, n in counts.items() if n >= 2]
    gallery = np.stack([cache.vectors[image_path(name, 1)] for name in gallery_names])
    mated = [(name, image_path(name, k)) for name in gallery_names
             for k in range(2, counts[name] + 1)]
    non_mated = [image_path(name, 1) for name, n in counts.items() if n == 1]
    m_vec = np.stack([cache.vectors[p] for _, p in mated])
    n_vec = np.stack([cache.vectors[p] for p in non_mated])
    index = {name: i for i, name in enumerate(gallery_names)}
    truth = np.array([index[name] for name, _ in mated])

    m_scores = m_vec @ gallery.T
    best = m_scores.argmax(axis=1)
    best_score = m_scores.max(axis=1)
    mate_score = m_scores[np.arange(len(truth)), truth]
    n_best = (n_vec @ gallery.T).max(axis=1)

    key = f"{engine.name}/{engine.model_version}"
    t_default = threshold_for(key, DEFAULT_FMR)
    t_fpir = float(np.quantile(n_best, 0.99))  # 1% of non-mated probes at or above
    # the 1:N default at this gallery size
    fmr_1n = identify_fmr(CALIBRATION.get(key, {}), len(gallery_names))
    t_1n = threshold_for(key, fmr_1n)
    how = [cache.how.get(p, "failed") for p in paths]

    def fnir(t: float) -> float:
        # a mated probe is missed unless its mate is the top candidate at or above t
        return float(np.mean(~((best == truth) & (best_score >= t))))

    out = {
        "engine": key, "gallery": len(gallery_names), "mated_probes": len(mated),
        "non_mated_probes": len(non_mated),
        "rank1_hit_rate": round(float(np.mean(best == truth)), 5),
        "default_threshold": t_default,
        "fnir_at_default": round(fnir(t_default), 5),
        "fpir_at_default": round(float(np.mean(n_best >= t_default)), 5),
        "threshold_at_fpir_0.01": round(t_fpir, 4),
        "fnir_at_fpir_0.01": round(fnir(t_fpir), 5),
        "identify_fmr": fmr_1n, "identify_threshold": t_1n,
        "expected_false_matches": float(f"{len(gallery_names) * fmr_1n:.3g}"),
        "fnir_at_identify_threshold": round(fnir(t_1n), 5),
        "fpir_at_identify_threshold": round(float(np.mean(n_best >= t_1n)), 5),
        "mate_score_median": round(float(np.median(mate_score)), 4),
        "images": len(paths), "found_by": {k: how.count(k) for k in sorted(set(how))},
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
