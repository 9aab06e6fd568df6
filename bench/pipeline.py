"""The whole pipeline per LFW image on one thread (decode, detect, align, embed), for each
engine, side by side in one run: the engines take turns on the same images, so the machine's
load falls on all of them alike.

    .venv/bin/python bench/pipeline.py --images 300 --seed 7 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "data" / "lfw"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lfw", type=Path, default=LFW)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engines", default="sface,fast,dlib")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from facegate.engine.dlib_engine import DlibEngine
    from facegate.engine.dlib_onnx import FastDlibEngine
    from facegate.engine.sface_engine import SfaceEngine
    from facegate.images import ImageLimits, decode_image

    cv2.setNumThreads(1)
    build = {"sface": SfaceEngine, "fast": FastDlibEngine, "dlib": DlibEngine}
    engines = {name: build[name]() for name in args.engines.split(",")}
    paths = sorted(str(p) for p in (args.lfw / "images").rglob("*.jpg"))
    paths = random.Random(args.seed).sample(paths, min(args.images, len(paths)))
    blobs = [Path(p).read_bytes() for p in paths]
    limits = ImageLimits()
    for engine in engines.values():  # warm up: first runs allocate
        for data in blobs[:5]:
            engine.analyse(decode_image(data, limits))
    times: dict[str, list[float]] = {name: [] for name in engines}
    faces: dict[str, int] = dict.fromkeys(engines, 0)
    for data in blobs:
        for name, engine in engines.items():
            start = time.perf_counter()
            found = engine.analyse(decode_image(data, limits))
            times[name].append((time.perf_counter() - start) * 1000)
            faces[name] += bool(found)
    out: dict[str, Any] = {
        "images": len(blobs), "seed": args.seed, "machine": f"{platform.machine()}, "
        f"{os.cpu_count()} cores", "threads": 1,
        "engines": {name: {"median_ms": round(statistics.median(t), 2),
                           "mean_ms": round(statistics.fmean(t), 2),
                           "p90_ms": round(statistics.quantiles(t, n=10)[-1], 2),
                           "images_with_a_face": faces[name]}
                    for name, t in times.items()},
    }
    first = next(iter(engines))
    out["relative_to"] = first
    out["ratios"] = {name: round(statistics.median(times[name]) /
                                 statistics.median(times[first]), 2) for name in engines}
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
