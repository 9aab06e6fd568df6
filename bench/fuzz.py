"""Hostile images thrown at decode + detect + embed: every one must give faces or a refusal.

    .venv/bin/python bench/fuzz.py --cases 3000 --seed 1 --workers 2
    .venv/bin/python bench/fuzz.py --cases 1 --seed 1 --first 417 --save /tmp/case  # one again

Case ``i`` is made by ``bench/fuzz_cases.py`` from ``random.Random(f"{seed}:{i}")``. A worker
process decodes its bytes with the default limits, runs the engine's ``detect`` and ``embed``
on the largest and the smallest face found. The outcome is ``faces``, ``no_faces``, the code of a
``BadInput`` refusal, or a failure: ``error:<exception>`` (an API call would answer 500),
``crash`` (the worker died, and a new one takes the next case) or ``timeout``. Printed: counts
by outcome, time per case, and each failure with its recipe.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: the repository root holds ``bench``
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fuzz_cases import KINDS, Photos, make_case

# ---- running cases where a crash cannot take the caller down --------------------------------


def outcome(engine: Any, data: bytes) -> str:
    """``faces``, ``no_faces``, a ``BadInput`` code, or ``error:<exception>``: ``data``
    decoded with the default limits, its faces detected, the largest and smallest embedded."""
    from facegate.errors import BadInput
    from facegate.images import decode_image

    try:
        image = decode_image(data)
        faces = engine.detect(image)
        for face in faces[:1] + faces[1:][-1:]:  # the largest and the smallest
            engine.embed(image, face)
    except BadInput as e:
        return e.code
    except Exception as e:  # what the API would answer with a 500
        return f"error:{type(e).__name__}: {' '.join(str(e).split())}"[:300]
    return "faces" if faces else "no_faces"


def _serve(conn: Connection, engine_kind: str) -> None:
    """The worker: builds the engine, then answers each case's bytes with its outcome."""
    import warnings

    from PIL import Image

    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused all the same
    from facegate.engine import engine_factory

    os.environ["FACEGATE_ENGINE"] = engine_kind
    engine: Any = engine_factory()()
    if hasattr(engine, "warm_up"):
        engine.warm_up()
    conn.send("ready")
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        conn.send(outcome(engine, data))


class Isolated:
    """Runs cases in a worker process (``engine``: ``sface``, ``dlib`` or ``fast``); a worker
    that dies is the outcome ``crash (exit N)`` and the next case starts a new one."""

    def __init__(self, engine: str = "sface", timeout_s: float = 300.0) -> None:
        self.engine = engine
        self.timeout_s = timeout_s
        self._proc: Any = None
        self._conn: Connection | None = None

    def _start(self) -> Connection:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.engine), daemon=True)
        self._proc.start()
        child.close()
        if not parent.poll(self.timeout_s) or parent.recv() != "ready":
            raise RuntimeError("the fuzz worker did not start")
        self._conn = parent
        return parent

    def __call__(self, data: bytes) -> str:
        conn = self._conn or self._start()
        conn.send_bytes(data)
        try:
            if conn.poll(self.timeout_s):
                answer: str = conn.recv()
                return answer
            self._proc.kill()
            result = "timeout"
        except (EOFError, ConnectionError):
            result = "crash"
        self._proc.join(10)
        result += f" (exit {self._proc.exitcode})"
        self._conn = None
        return result

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._proc.join(10)
            self._conn = None


def failed(result: str) -> bool:
    """A failure: anything but faces, no faces or a refusal with a code."""
    return result.startswith(("error:", "crash", "timeout"))


# ---- the command ----------------------------------------------------------------------------


def _run_share(first: int, count: int, seed: int, engine: str, photos: Photos
               ) -> list[tuple[int, str, str, float]]:
    """Cases ``first`` .. ``first + count - 1`` through one worker: (index, recipe, outcome,
    seconds)."""
    run, rows = Isolated(engine), []
    try:
        for i in range(first, first + count):
            rnd = random.Random(f"{seed}:{i}")
            case = make_case(rnd.choice(KINDS), rnd, photos)
            t = time.perf_counter()
            rows.append((i, case.recipe, run(case.data), time.perf_counter() - t))
    finally:
        run.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="index of the first case")
    parser.add_argument("--workers", type=int, default=1, help="processes running cases")
    parser.add_argument("--engine", choices=["sface", "dlib", "fast"], default="sface")
    parser.add_argument("--save", type=Path, help="write each failing case's bytes here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    started, photos = time.perf_counter(), Photos()
    share = -(-args.cases // args.workers)
    with ThreadPoolExecutor(args.workers) as pool:
        parts = [pool.submit(_run_share, args.first + k, min(share, args.cases - k), args.seed,
                             args.engine, photos) for k in range(0, args.cases, share)]
        rows = [row for part in parts for row in part.result()]
    wall = time.perf_counter() - started

    counts = Counter(r.split(" ")[0] if r.startswith(("crash", "timeout"))
                     else r.split(":")[0] for _, _, r, _ in rows)
    times = sorted(t for *_, t in rows)
    failures = [{"case": i, "recipe": recipe, "result": r} for i, recipe, r, _ in rows
                if failed(r)]
    for f in failures if args.save else []:
        args.save.mkdir(parents=True, exist_ok=True)
        rnd = random.Random(f"{args.seed}:{f['case']}")
        data = make_case(rnd.choice(KINDS), rnd, photos).data
        (args.save / f"case-{args.seed}-{f['case']}.bin").write_bytes(data)
    report = {"cases": len(rows), "seed": args.seed, "engine": args.engine,
              "workers": len(parts), "wall_s": round(wall, 1),
              "per_case_s": {"mean": round(sum(times) / len(times), 3),
                             "median": round(times[len(times) // 2], 3),
                             "max": round(times[-1], 3)},
              "outcomes": dict(counts.most_common()), "failures": failures,
              "slowest": [{"case": i, "recipe": recipe, "result": r, "s": round(t, 2)}
                          for i, recipe, r, t in sorted(rows, key=lambda row: -row[3])[:3]]}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['cases']} cases (seed {args.seed}, engine {args.engine}, "
              f"{report['workers']} workers) in {wall:.1f} s; per case {report['per_case_s']}")
        for name, n in counts.most_common():
            print(f"  {name:24} {n}")
        for slow in report["slowest"]:
            print(f"slow: case {slow['case']} {slow['s']} s ({slow['result']}): {slow['recipe']}")
        for f in failures:
            print(f"FAILED case {f['case']}: {f['result']}\n    {f['recipe']}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
