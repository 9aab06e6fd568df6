"""Face descriptor speed: dlib's ResNet against the same network run by onnxruntime.

    .venv/bin/python bench/descriptor_speed.py --limit 200 --json

Aligned chips come from LFW images (the first image of each of the first ``--limit`` people,
the largest face HOG finds, aligned by ``dlib.get_face_chip`` as the engine does it). On the
same chips it times, in milliseconds per face:
- ``dlib_batch_1`` / ``dlib_batch_32``: dlib's ``compute_face_descriptor`` one chip at a time
  and on lists of 32 chips (dlib's CPU build runs on one thread);
- ``onnx_{1,2}_thread(s)_batch_{1,32}``: ``OnnxDescriptor`` with 1 and 2 onnxruntime threads,
  one chip per run and 32 per run;
and reports each one's speed-up over ``dlib_batch_1`` and the largest absolute difference
between dlib's and onnxruntime's raw descriptors (and between the normalised templates).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from facegate.engine.base import FloatArray, ImageArray
from facegate.engine.dlib_engine import DlibEngine, _recogniser
from facegate.engine.dlib_onnx import FastDlibEngine, OnnxDescriptor, normalise
from facegate.images import ImageLimits, decode_image
from facegate.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "data" / "lfw"
BATCH = 32


def lfw_images(limit: int) -> list[Path]:
    """The first image of each of the first ``limit`` people of ``people.txt``."""
    paths = []
    for line in (LFW / "people.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            path = LFW / "images" / parts[0] / f"{parts[0]}_0001.jpg"
            if path.is_file():
                paths.append(path)
        if len(paths) == limit:
            break
    return paths


def face_chips(paths: list[Path], progress: bool) -> ImageArray:
    """The aligned chip of the largest face (HOG only) of each image that has one."""
    engine = DlibEngine(cnn_fallback=False)
    bar = Progress(len(paths), "chips", force=progress)
    chips = []
    for path in paths:
        found = engine._faces(decode_image(path.read_bytes(), ImageLimits()))
        if found:
            chips.append(found[0][1])
        bar.update()
    return np.stack(chips)


def timed(label: str, chips: ImageArray, batch: int, run: Callable[[ImageArray], FloatArray],
          progress: bool) -> tuple[float, FloatArray]:
    """Milliseconds per chip of ``run`` over ``chips`` in batches, and its results."""
    run(chips[:batch])  # warm up (allocations, first-run setup)
    bar = Progress(len(chips), label, force=progress)
    parts = []
    elapsed = 0.0
    for start in range(0, len(chips), batch):
        part = chips[start:start + batch]
        t = time.perf_counter()
        parts.append(run(part))
        elapsed += time.perf_counter() - t
        bar.update(len(part))
    return 1000 * elapsed / len(chips), np.concatenate(parts)


def dlib_raw(chips: ImageArray) -> FloatArray:
    net = _recogniser()
    if len(chips) == 1:
        return np.asarray(net.compute_face_descriptor(chips[0], 0), np.float32)[np.newaxis]
    return np.array([np.asarray(v, np.float32)
                     for v in net.compute_face_descriptor(list(chips), 0)], np.float32)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--limit", type=int, default=200, help="how many LFW images (one a person)")
    ap.add_argument("--json", action="store_true", help="one line of JSON")
    ap.add_argument("--progress", action="store_true",
                    help="progress bars on stderr even when it is not a terminal")
    args = ap.parse_args(argv)
    if not (LFW / "people.txt").is_file():
        raise SystemExit(f"LFW not found at {LFW} (see ../shared/data/README.md)")

    chips = face_chips(lfw_images(args.limit), args.progress)
    out: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"{platform.python_version()}, onnxruntime {ort.__version__}",
        "images": args.limit, "faces": len(chips), "ms_per_face": {}}
    ms = out["ms_per_face"]

    ms["dlib_batch_1"], reference = timed("dlib, batch 1", chips, 1, dlib_raw, args.progress)
    ms["dlib_batch_32"], batched = timed("dlib, batch 32", chips, BATCH, dlib_raw,
                                         args.progress)
    diff = float(np.abs(batched - reference).max())
    diff_normalised = 0.0
    t = time.perf_counter()
    OnnxDescriptor().warm_up()
    out["onnx_build_s"] = round(time.perf_counter() - t, 3)
    for threads in (1, 2):
        for batch in (1, BATCH):
            descriptor = OnnxDescriptor(threads=threads, batch_size=batch)
            key = f"onnx_{threads}_thread{'s' if threads > 1 else ''}_batch_{batch}"
            ms[key], got = timed(key.replace("_", " "), chips, batch, descriptor.describe,
                                 args.progress)
            diff = max(diff, float(np.abs(got - reference).max()))
            diff_normalised = max(diff_normalised, float(np.abs(
                normalise(got) - normalise(reference)).max()))
    out["ms_per_face"] = {k: round(v, 2) for k, v in ms.items()}
    out["speedup_vs_dlib_batch_1"] = {k: round(ms["dlib_batch_1"] / v, 1)
                                      for k, v in ms.items() if k != "dlib_batch_1"}
    out["max_abs_diff"] = diff
    out["max_abs_diff_normalised"] = diff_normalised
    # the whole pipeline per LFW image: decode, detect, align, describe (one thread)
    images = [p.read_bytes() for p in lfw_images(args.limit)]
    for label, engine in (("dlib", DlibEngine()), ("fast", FastDlibEngine(threads=1))):
        engine.warm_up()
        engine.analyse(decode_image(images[0], ImageLimits()))
        t = time.perf_counter()
        for data in images:
            engine.analyse(decode_image(data, ImageLimits()))
        out.setdefault("pipeline_ms_per_image", {})[label] = round(
            1000 * (time.perf_counter() - t) / len(images), 1)
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
