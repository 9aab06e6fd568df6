"""LFW verification accuracy through facegate's own path (decode, detect, align, embed).

    .venv/bin/python bench/accuracy.py                       # the full protocol, plot, table
    .venv/bin/python bench/accuracy.py --limit 300 --seed 1 --json   # a one-minute spot check

The standard protocol: 10 folds of ``pairs.txt``, the threshold chosen on 9 folds and tested on
the 10th; mean accuracy and standard deviation. TAR at FAR and the threshold table use every
genuine and impostor pair among the protocol's images (far more impostors than pairs.txt has,
so small FARs are resolved). Templates are cached (``~/.cache/facegate/bench``), so a rerun
takes seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from facegate.engine import engine_factory
from facegate.engine.calibration import (
    FMR_TARGETS,
    TemplateCache,
    all_pair_scores,
    calibration_table,
    default_cache,
    pair_scores,
    read_pairs,
    templates,
    ten_fold,
    threshold_for_fmr,
)
from facegate.engine.dlib_engine import DlibEngine
from facegate.engine.dlib_onnx import FastDlibEngine
from facegate.engine.sface_engine import SfaceEngine

ENGINES = {"dlib": DlibEngine, "fast": FastDlibEngine, "sface": SfaceEngine}
ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "data" / "lfw"


def plot(genuine: np.ndarray, impostor: np.ndarray, out: Path, label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    thresholds = np.linspace(-0.2, 1.0, 1201)
    imp = np.sort(impostor)
    gen = np.sort(genuine)
    far = 1 - np.searchsorted(imp, thresholds, side="left") / len(imp)
    frr = np.searchsorted(gen, thresholds, side="left") / len(gen)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    ok = far > 0
    a.semilogx(far[ok], 1 - frr[ok], color="#0b3d91")
    a.set_xlabel("false accept rate (FAR)")
    a.set_ylabel("true accept rate (TAR)")
    a.set_title(f"ROC, LFW ({label})")
    a.set_xlim(1e-6, 1)
    a.grid(True, which="both", alpha=.3)
    b.loglog(far[ok], np.maximum(frr[ok], 1e-5), color="#b42318")
    b.set_xlabel("false match rate (FMR)")
    b.set_ylabel("false non-match rate (FNMR)")
    b.set_title("DET")
    b.set_xlim(1e-6, 1)
    b.grid(True, which="both", alpha=.3)
    fig.tight_layout()
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lfw", type=Path, default=LFW, help="the LFW folder (pairs.txt, images/)")
    ap.add_argument("--limit", type=int, help="evaluate a random subset of N pairs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, help="processes (default: every core)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--engine", choices=sorted(ENGINES),
                    help="sface (YuNet + SFace), dlib, or fast (dlib's network run by "
                         "onnxruntime); default: the installation's engine (FACEGATE_ENGINE)")
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "lfw-roc-det.png")
    args = ap.parse_args(argv)

    pairs = read_pairs(args.lfw / "pairs.txt")
    if args.limit:
        pairs = random.Random(args.seed).sample(pairs, min(args.limit, len(pairs)))
    factory = ENGINES[args.engine] if args.engine else engine_factory()
    engine = factory()
    cache = TemplateCache(default_cache(engine))
    started = time.monotonic()
    paths = [p for pair in pairs for p in (pair.a, pair.b)]
    templates(args.lfw, paths, factory, cache, args.workers, progress=not args.json)
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    scores = pair_scores(pairs, cache)
    how = [cache.how[p] for p in dict.fromkeys(paths)]
    result: dict[str, Any] = {
        "engine": f"{engine.name}/{engine.model_version}", "detector": engine.detector_label,
        "pairs": len(pairs), "images": len(how),
        "found_by": {k: how.count(k) for k in sorted(set(how))},
    }
    if args.limit:
        accs, thresholds = ten_fold(scores, same, np.arange(len(pairs)) % 10)
    else:
        accs, thresholds = ten_fold(scores, same, folds)
    result |= {"accuracy": round(float(np.mean(accs)), 5), "std": round(float(np.std(accs)), 5),
               "fold_accuracies": [round(a, 4) for a in accs],
               "fold_thresholds": [round(t, 4) for t in thresholds]}
    unique = list(dict.fromkeys(paths))
    present = [p for p in unique if p in cache.vectors]
    vectors = np.stack([cache.vectors[p] for p in present])
    labels = [p.split("/")[1] for p in present]
    genuine, impostor = all_pair_scores(vectors, labels)
    result["all_pairs"] = {"genuine": len(genuine), "impostor": len(impostor)}
    result["tar_at_far"] = {f"{far:g}": round(float(np.mean(
        genuine >= threshold_for_fmr(impostor, far))), 5) for far in (1e-2, 1e-3, 1e-4)}
    result["thresholds"] = calibration_table(genuine, impostor, FMR_TARGETS)
    result["seconds"] = round(time.monotonic() - started, 1)
    if not args.limit:
        out = args.plot.with_name(f"{args.plot.stem}-{engine.name}{args.plot.suffix}")
        plot(genuine, impostor, out if engine.name != "dlib" else args.plot, result["engine"])
        result["plot"] = str((out if engine.name != "dlib" else args.plot).relative_to(ROOT))
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
