"""Batch enrolment: a folder with one sub-folder of images per subject reference, and a file of
consent records. Faces are found and described in worker processes (every core); subjects,
consents and templates are written by this process, each through the gate and the audit trail.

Resumable and idempotent: a journal in the data directory (``batches/<deployment>.json``,
keyed by the keyed digest of each reference, never the reference itself) records the
references done; a rerun skips them. An enrolment is committed before its journal entry is
written: a subject that already has templates at the deployment but no entry (a crash between
the two) is not enrolled again; its entry is written from the store and the rerun goes on.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from facegate.engine import Engine, Face
from facegate.errors import BadInput, FacegateError, NotFound
from facegate.images import ImageLimits
from facegate.progress import Progress
from facegate.service.actors import Actor
from facegate.service.facade import Facegate
from facegate.service.faces import enrolment_face

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

_engine: Engine | None = None
_limits: ImageLimits | None = None

# Worker processes start fresh ("spawn"): a forked child would inherit dlib's thread pool in a
# broken state (the CNN detector then waits for threads that do not exist in the child).
SPAWN = multiprocessing.get_context("spawn")


def _init(factory: Callable[[], Engine], limits: ImageLimits) -> None:
    global _engine, _limits
    _engine, _limits = factory(), limits


def _analyse(job: tuple[str, list[str]]) -> tuple[str, list[Face | tuple[str, str, list[str]]]]:
    """In a worker: the enrolment face of each image of one reference, or why not."""
    ref, paths = job
    assert _engine is not None and _limits is not None
    out: list[Face | tuple[str, str, list[str]]] = []
    for p in paths:
        try:
            out.append(enrolment_face(_engine, Path(p).read_bytes(), _limits))
        except FacegateError as e:
            out.append((e.code, e.message, list(e.details.get("issues", []))))
        except OSError as e:
            out.append(("unreadable", f"cannot read {p}: {e.strerror}", []))
    return ref, out


def read_consents(path: Path) -> dict[str, dict[str, Any]]:
    """Consent records by reference: CSV with a header (``ref`` and optionally
    ``birth_date``, ``method``, ``guardian_ref``, ``guardian_relationship``) or YAML/JSON
    (a list of such mappings)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from None
    if path.suffix.lower() == ".csv":
        rows: Any = list(csv.DictReader(text.splitlines()))
    else:
        rows = yaml.safe_load(text)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadInput(f"{path}: expected a list of consent records")
    out: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(rows, start=1):
        ref = str(row.get("ref") or "").strip()
        if not ref:
            raise BadInput(f"{path}: record {i} has no ref")
        birth = str(row.get("birth_date") or "").strip()
        try:
            born = date.fromisoformat(birth) if birth else None
        except ValueError:
            raise BadInput(f"{path}: record {i}: birth_date must be YYYY-MM-DD") from None
        out[ref] = {"birth_date": born, "method": str(row.get("method") or "written"),
                    "guardian_ref": str(row.get("guardian_ref") or "") or None,
                    "guardian_relationship": str(row.get("guardian_relationship") or "")
                    or None}
    return out


def subject_folders(folder: Path) -> dict[str, list[str]]:
    if not folder.is_dir():
        raise BadInput(f"{folder} is not a folder")
    out = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        images = sorted(str(p) for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if images:
            out[sub.name] = images
    return out


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, dict[str, Any]] = (
            json.loads(path.read_text()) if path.exists() else {})

    def record(self, key: str, entry: dict[str, Any]) -> None:
        self.done[key] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.done, indent=1))
        os.replace(tmp, self.path)


def enrol_batch(service: Facegate, actor: Actor, folder: Path, deployment_id: str,
                consents_file: Path, workers: int | None = None, progress: bool = False,
                factory: Callable[[], Engine] | None = None) -> dict[str, Any]:
    """Enrol every subject folder that has a consent record; returns a report (enrolled,
    skipped as already done, rejected images with reasons, references without consent)."""
    records = read_consents(consents_file)
    folders = subject_folders(folder)
    dep = service.deployments.get(actor, deployment_id)  # NotFound early
    purpose = dep["purpose"]
    # Workers describe faces with the engine the deployment's new templates are made by.
    engine_key = dep["migrating_to"] or dep["engine"]
    journal = Journal(service.settings.data_dir / "batches" / f"{deployment_id}.json")
    key = service.keyring.ref_digest
    todo = {ref: paths for ref, paths in folders.items()
            if ref in records and key(ref) not in journal.done}
    report: dict[str, Any] = {
        "deployment": deployment_id, "subjects": len(folders), "enrolled": 0, "templates": 0,
        "skipped_done": sum(1 for r in folders if key(r) in journal.done),
        "no_consent_record": sorted(r for r in folders if r not in records),
        "rejected": [], "refused": [], "already_enrolled": 0,
    }
    bar = Progress(sum(len(p) for p in todo.values()), "enrol", force=progress)
    workers = (os.cpu_count() or 1) if workers is None else workers
    for ref, results in _analysed(todo, workers, factory or service.recogniser.factory(engine_key),
                                  service.settings.image_limits):
        rec = records[ref]
        faces: list[Face | BadInput] = [
            r if isinstance(r, Face) else BadInput(r[1], details={"issues": r[2]})
            for r in results]
        for path, r in zip(todo[ref], results, strict=True):
            if not isinstance(r, Face):
                report["rejected"].append({"ref": ref, "image": Path(path).name,
                                           "error": r[0], "message": r[1]})
        try:
            sid = _subject(service, actor, ref, rec["birth_date"])
            if not any(c["active"] and c["deployment"] == deployment_id
                       for c in service.consents.all(actor, sid)):
                service.consents.grant(actor, sid, deployment_id, purpose, rec["method"],
                                      rec["guardian_ref"], rec["guardian_relationship"])
            held = _templates_held(service, actor, sid, deployment_id)
            if held:  # enrolled before a crash that lost the journal entry
                report["already_enrolled"] += 1
                journal.record(key(ref), {"subject": sid, "templates": held})
            elif any(isinstance(f, Face) for f in faces):
                out = service.matching.enrol(actor, sid, deployment_id, [], analysed=faces,
                                    track_filing=False)
                report["enrolled"] += 1
                report["templates"] += len(out["templates"])
                journal.record(key(ref), {"subject": sid, "templates": len(out["templates"])})
            else:
                journal.record(key(ref), {"subject": sid, "templates": 0})
        except FacegateError as e:
            report["refused"].append({"ref": ref, "error": e.code, "message": e.message,
                                      "rules": list(e.rules)})
        bar.update(len(results))
    if report["enrolled"]:
        report["filing"] = service.filing.statuses(actor)  # counts persons, records the day
    return report


def _analysed(todo: dict[str, list[str]], workers: int, factory: Callable[[], Engine],
              limits: ImageLimits) -> Iterator[tuple[str, list[Any]]]:
    jobs = list(todo.items())
    if not jobs:
        return
    if workers == 0:  # in this process, one image after another (single core)
        _init(factory, limits)
        yield from map(_analyse, jobs)
        return
    with ProcessPoolExecutor(workers, mp_context=SPAWN, initializer=_init,
                             initargs=(factory, limits)) as pool:
        yield from pool.map(_analyse, jobs, chunksize=1)


def _templates_held(service: Facegate, actor: Actor, subject_id: str, deployment_id: str
                    ) -> int:
    """How many templates the subject already has at the deployment: their metadata, read
    through the gate and audited like any subject read (never the store directly)."""
    held = service.subjects.show(actor, subject_id)["templates"]
    return sum(1 for t in held if t["deployment"] == deployment_id)


def _subject(service: Facegate, actor: Actor, ref: str, birth: date | None) -> str:
    try:
        return service.subjects.find(actor, ref)
    except NotFound:
        return str(service.subjects.add(actor, ref, birth)["id"])
