"""Engine and service speed on LFW images, all in one run on one machine.

    .venv/bin/python bench/speed.py --images 200 --json

Measures (images per second unless said otherwise):
- ``engine_1_core`` / ``engine_all_cores``: decode + detect + align + embed with the engine
  (the installation's, YuNet + SFace by default; ``--engine dlib|fast|sface``), in one process
  and in one process per core;
- ``bare_enrol`` vs ``governed_enrol``: the same images enrolled as templates by the bare engine
  (decode + analyse) and through the service (gate, encryption, store, audit, index), one
  process; their ratio must be >= 0.9;
- ``bare_verify`` vs ``governed_verify``: the same for 1:1 verification;
- ``batch_1_core`` vs ``batch_all_cores``: ``facegate enrol-batch`` with 1 and all workers;
- ``face_recognition``: with ``--engine dlib``, the ``face_recognition`` package (HOG, 5-point,
  same dlib models) on the same images, and facegate's engine relative to it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import multiprocessing
import os
import platform
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from facegate.engine import Engine, engine_factory
from facegate.engine.dlib_engine import DlibEngine
from facegate.engine.dlib_onnx import FastDlibEngine
from facegate.engine.sface_engine import SfaceEngine
from facegate.images import ImageLimits, decode_image

ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "data" / "lfw"

ENGINES: dict[str, Callable[[], Engine]] = {
    "dlib": DlibEngine, "fast": FastDlibEngine, "sface": SfaceEngine}
_engine: Engine | None = None

# Worker processes start fresh ("spawn"): a forked child would inherit dlib's thread pool in a
# broken state (the CNN detector then waits for threads that do not exist in the child).
SPAWN = multiprocessing.get_context("spawn")


def _init(factory: Callable[[], Engine]) -> None:
    global _engine
    _engine = factory()
    if isinstance(_engine, DlibEngine):
        _engine.warm_up()


def _one(path: str) -> int:
    assert _engine is not None
    return len(_engine.analyse(decode_image(Path(path).read_bytes(), ImageLimits())))


def engine_rate(paths: list[str], workers: int, factory: Callable[[], Engine]) -> float:
    with ProcessPoolExecutor(workers, mp_context=SPAWN, initializer=_init,
                             initargs=(factory,)) as pool:
        list(pool.map(_one, paths[:workers * 2]))  # warm every worker
        t = time.perf_counter()
        list(pool.map(_one, paths, chunksize=4))
        return len(paths) / (time.perf_counter() - t)


def people(n: int) -> list[tuple[str, list[str]]]:
    """LFW people with at least 2 images: (name, [enrol image, probe image])."""
    out = []
    for line in (LFW / "people.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and int(parts[1]) >= 2:
            name = parts[0]
            out.append((name, [str(LFW / "images" / name / f"{name}_{k:04d}.jpg")
                               for k in (1, 2)]))
        if len(out) == n:
            break
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=200, help="how many people (2 images each)")
    ap.add_argument("--batch", type=int, default=400,
                    help="people for the batch-enrolment comparison (worker start-up is a "
                         "fixed cost, so a real batch is larger)")
    ap.add_argument("--engine", choices=sorted(ENGINES),
                    help="default: the installation's engine (FACEGATE_ENGINE)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    factory = ENGINES[args.engine] if args.engine else engine_factory()
    os.environ.setdefault("FACEGATE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    from facegate.service import Actor, Facegate, Settings
    from facegate.service.batch import enrol_batch

    cores = os.cpu_count() or 1
    folks = people(args.images)
    enrol_paths = [p[0] for _, p in folks]
    probe_paths = [p[1] for _, p in folks]
    data = {p: Path(p).read_bytes() for _, ps in folks for p in ps}
    out: dict[str, Any] = {"machine": f"{platform.machine()}, {cores} cores, "
                                      f"{platform.python_version()}", "people": len(folks)}

    out["engine_1_core"] = round(engine_rate(enrol_paths, 1, factory), 2)
    out["engine_all_cores"] = round(engine_rate(enrol_paths, cores, factory), 2)

    engine = factory()
    out["engine"] = f"{engine.name}/{engine.model_version}"
    if isinstance(engine, DlibEngine):
        engine.warm_up()
    t = time.perf_counter()
    bare = [engine.analyse(decode_image(data[p], ImageLimits())) for p in enrol_paths]
    out["bare_enrol"] = round(len(enrol_paths) / (time.perf_counter() - t), 2)
    t = time.perf_counter()
    for p, faces in zip(probe_paths, bare, strict=True):
        probe = engine.analyse(decode_image(data[p], ImageLimits()))
        if probe and faces:
            float(probe[0].embedding @ faces[0].embedding)  # type: ignore[operator]
    out["bare_verify"] = round(len(probe_paths) / (time.perf_counter() - t), 2)

    admin, operator = Actor("bench", "admin"), Actor("bench-op", "operator")
    manifest = yaml.safe_load((ROOT / "examples" / "office-door" / "deployment.yaml")
                              .read_text())
    manifest["mode"] = "identify"
    with tempfile.TemporaryDirectory() as tmp:
        Facegate.initialise(Settings(data_dir=Path(tmp) / "d"))
        svc = Facegate(Settings(data_dir=Path(tmp) / "d"), engine)
        dep = svc.deployments.apply(admin, manifest)["id"]
        svc.assessments.record(admin, dep, yaml.safe_load(
            (ROOT / "examples" / "office-door" / "assessment.yaml").read_text()))
        sids = []
        for name, _ in folks:
            sid = svc.subjects.add(admin, name)["id"]
            svc.consents.grant(admin, sid, dep, "access_control")
            sids.append(sid)
        t = time.perf_counter()
        enrolled = []
        for sid, p in zip(sids, enrol_paths, strict=True):
            try:
                svc.matching.enrol(operator, sid, dep, [data[p]])
                enrolled.append((sid, p))
            except Exception:
                pass
        out["governed_enrol"] = round(len(enrol_paths) / (time.perf_counter() - t), 2)
        t = time.perf_counter()
        probe_of = dict(zip(enrol_paths, probe_paths, strict=True))
        for sid, p in enrolled:
            with contextlib.suppress(Exception):
                svc.matching.verify(operator, sid, dep, data[probe_of[p]])
        out["governed_verify"] = round(len(enrolled) / (time.perf_counter() - t), 2)
        svc.close()

        # batch enrolment, 1 worker vs every core (fresh stores)
        folder = Path(tmp) / "batch"
        batch_folks = people(args.batch)
        out["batch_people"] = len(batch_folks)
        for name, ps in batch_folks:
            (folder / name).mkdir(parents=True)
            (folder / name / "1.jpg").write_bytes(Path(ps[0]).read_bytes())
        consents = Path(tmp) / "consents.csv"
        consents.write_text("ref\n" + "\n".join(n for n, _ in batch_folks) + "\n")
        # single core: everything in this process, one image after another (workers=0);
        # all cores: one worker process per core finds and describes faces while this
        # process writes subjects, consents, templates and audit records
        for workers, key in ((0, "batch_1_core"), (cores, "batch_all_cores")):
            Facegate.initialise(Settings(data_dir=Path(tmp) / f"b{workers}"))
            s2 = Facegate(Settings(data_dir=Path(tmp) / f"b{workers}"), engine)
            s2.deployments.apply(admin, manifest)
            s2.assessments.record(admin, dep, yaml.safe_load(
                (ROOT / "examples" / "office-door" / "assessment.yaml").read_text()))
            t = time.perf_counter()
            rep = enrol_batch(s2, admin, folder, dep, consents, workers=workers)
            out[key] = round(len(batch_folks) / (time.perf_counter() - t), 2)
            out[key + "_templates"] = rep["templates"]
            s2.close()

    if engine.name == "dlib":
        import face_recognition as fr
        t = time.perf_counter()
        for p in enrol_paths:
            img = fr.load_image_file(p)
            fr.face_encodings(img, fr.face_locations(img))
        out["face_recognition"] = round(len(enrol_paths) / (time.perf_counter() - t), 2)
        out["ratio_facegate_vs_face_recognition"] = round(
            out["bare_enrol"] / out["face_recognition"], 3)

    out["ratio_governed_vs_bare_enrol"] = round(out["governed_enrol"] / out["bare_enrol"], 3)
    out["ratio_governed_vs_bare_verify"] = round(out["governed_verify"] / out["bare_verify"], 3)
    out["ratio_batch_all_vs_1"] = round(out["batch_all_cores"] / out["batch_1_core"], 3)
    out["ratio_engine_all_vs_1"] = round(out["engine_all_cores"] / out["engine_1_core"], 3)
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
