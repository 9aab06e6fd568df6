"""1:N at scale through the store: fill, rebuild from the store, search, withdraw.

    .venv/bin/python bench/scale.py --backend exact --n 100000 --json
    .venv/bin/python bench/scale.py --backend ivf --n 1000000 --http 50 --json
    .venv/bin/python bench/scale.py --n 2000 --database-url postgresql+psycopg://...

Fills a temporary installation (SQLite, or ``--database-url``) with ``--n`` synthetic templates
(``--per`` per person) fitted to the engine's LFW scores (``bench/scale_data.py``), written
through the store's gated path: real subjects with their own keys, a bench consent for each
at a bench 1:N deployment, and templates added by the template repository under the permit of
each subject's enrolment decision (``decide`` on the same facts an enrolment decides on),
without images, many subjects per transaction.

Measured: ``ready_s``, from a fresh service (a new index registry) to the deployment's index
answering its first search, which is the rebuild from the store (for ``ivf``, ``ivf_ready_s``:
until the IVF index, built in the background, serves); ``p50_ms``/``p99_ms`` of identification
searches confirmed by the store (``Identification.confirmed_search``, top 5, at the
deployment's threshold for the gallery); ``recall_at_1`` of the index's best template against
exhaustive search; ``withdraw_to_gone_ms``, from a withdrawal's return to the first search
that no longer returns the subject; ``memory_mb``, the resident memory the rebuilt index added.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # stress.common: the server
from scale_data import FaceModel, check, fit

from facegate.engine import Engine, default_engine
from facegate.policy import SubjectFacts, decide
from facegate.service import Actor, Facegate, Settings, records
from facegate.service.faces import key_of
from facegate.service.facts import consent_facts
from facegate.store.models import Consent, Deployment, Subject, SubjectKey

ROOT = Path(__file__).resolve().parents[1]
OFFICER = Actor("bench-officer", "officer")
OPERATOR = Actor("bench-operator", "operator")
ADMIN = Actor("bench-admin", "admin")
ASSESSMENT = {
    "assessor": "Bench", "conclusion": "A synthetic benchmark installation, no real person.",
    "sections": {"lawfulness": "Synthetic data only.", "impact": "None: no real person.",
                 "risks": "None: synthetic templates.", "protections": "Deleted after the run."},
}


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _deployment(svc: Facegate, backend: str) -> str:
    manifest = yaml.safe_load((ROOT.parent / "shared" / "examples" / "office-door.yaml")
                              .read_text())
    manifest.update(mode="identify", index=backend, id="bench-scale",
                    name="Bench 1:N at scale")
    dep = str(svc.deployments.apply(OFFICER, manifest)["id"])
    svc.assessments.record(OFFICER, dep, ASSESSMENT)
    return dep


def fill(svc: Facegate, dep: str, engine: Engine, vectors: NDArray[np.float32], per: int,
         batch_people: int = 2000) -> tuple[list[str], list[str]]:
    """Subjects, bench consents and templates (``per`` consecutive rows of ``vectors`` a
    person); returns the template ids and their subjects, in row order."""
    keyring = svc.keyring
    identities = svc.matching.identities
    facts_of = svc.matching.facts
    n = len(vectors)
    people = -(-n // per)
    tids: list[str] = []
    sids: list[str] = []
    for start in range(0, people, batch_people):
        with svc.uow() as uow:
            s = uow.session
            now = svc.matching.clock.now()
            row = s.get(Deployment, dep)
            assert row is not None
            batch: list[tuple[str, bytes, str]] = []
            new = ["sub_" + secrets.token_hex(10)
                   for _ in range(start, min(people, start + batch_people))]
            s.add_all([Subject(id=sid, created_at=now) for sid in new])
            s.flush()  # the rows below refer to the subjects
            for p, sid in enumerate(new, start):
                dek, wrapped = keyring.new_subject_key(sid)
                s.add(SubjectKey(subject_id=sid, wrapped=wrapped, created_at=now))
                s.add(identities.seal(dek, sid, f"bench-{p}-{sid}", None))
                cid = "con_" + secrets.token_hex(10)
                s.add(Consent(id=cid, subject_id=sid, deployment_id=dep, purpose=row.purpose,
                              notice_version=row.notice_version, method="electronic",
                              storage_location="on-premises", granted_at=now,
                              granted_by=OFFICER.name))
                batch.append((sid, dek, cid))
            s.flush()
            # The facts of the batch's first enrolment as the store gives them (the
            # deployment, its assessment, overdue filings), with each person's own subject
            # and consent facts: every person's enrolment is decided by the gate.
            base, _ = facts_of.of_use(s, OPERATOR, "enrol", batch[0][0], dep, None,
                                      source="live", keep_image=False)
            consents = {c.id: c for c in s.execute(select(Consent).where(
                Consent.id.in_([cid for _, _, cid in batch]))).scalars()}
            with s.no_autoflush:  # one flush of the whole batch at the commit
                for p, (sid, dek, cid) in enumerate(batch, start):
                    facts = replace(base, subject=SubjectFacts(sid, None),
                                    consent=consent_facts(consents[cid]))
                    permit = decide(facts).permit()  # refused: PermissionError, the bench stops
                    assert facts.deployment is not None
                    expires = now + timedelta(days=facts.deployment.retention_days or 365)
                    rows = range(p * per, min(n, (p + 1) * per))
                    tids += uow.templates.add_many(
                        permit, subject_id=sid, deployment_id=dep, consent_id=cid,
                        engine=engine.name, model_version=engine.model_version,
                        vectors=[vectors[i] for i in rows], qualities=[{"bench": True}] * len(rows),
                        dek=dek, now=now, expires_at=expires)
                    sids += [sid] * len(rows)
            uow.commit()
    return tids, sids


class Searcher:
    """Identification searches as ``Identification.identify`` runs them, without an image:
    the gate's decision, the registry's index (rebuilt from the store when stale), every
    candidate confirmed by the store."""

    def __init__(self, svc: Facegate, dep: str, engine: Engine) -> None:
        self.svc, self.dep, self.engine = svc, dep, engine
        ident = svc.matching.identification
        self.ident = ident
        with svc.uow() as uow:
            row, manifest = records.deployment(uow.session, dep)
            facts = ident.facts.at_deployment(uow.session, OPERATOR, "identify", row, manifest,
                                              purpose=None)
        self.decision = ident.gate.check(OPERATOR, facts, deployment=dep, purpose=row.purpose)

    def index(self) -> Any:
        with self.svc.matching.indexes.lock, self.svc.uow() as uow:
            return self.svc.matching.indexes.for_deployment(uow, self.decision, self.dep,
                                                            self.engine)

    def search(self, probe: NDArray[np.float32], top: int = 5) -> list[dict[str, Any]]:
        svc = self.svc
        with svc.matching.indexes.lock, svc.uow() as uow:
            s = uow.session
            row, manifest = records.deployment(s, self.dep)
            index = svc.matching.indexes.for_deployment(uow, self.decision, self.dep,
                                                        self.engine)
            threshold, _ = svc.recogniser.threshold_at(manifest, key_of(self.engine),
                                                       index.subject_count())
            return self.ident.confirmed_search(s, row, manifest, index, probe, top, threshold)


def measure(args: argparse.Namespace, url: str | None, data_dir: Path, engine: Engine,
            vectors: NDArray[np.float32], probes: NDArray[np.float32], truth: NDArray[np.intp],
            tids: list[str], sids: list[str], dep: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rss = _rss_mb()
    started = time.perf_counter()
    svc = Facegate(Settings(data_dir=data_dir, database_url=url, index_backend=args.backend,
                            milvus_uri=args.milvus_uri or ""), engine)  # a fresh registry
    searcher = Searcher(svc, dep, engine)
    index = searcher.index()
    searcher.search(probes[0])
    out["ready_s"] = round(time.perf_counter() - started, 2)
    out["index_templates"] = len(index)
    if args.backend == "ivf":
        index.inner.wait_ready()
        out["ivf_ready_s"] = round(time.perf_counter() - started, 2)
    out["memory_mb"] = round(_rss_mb() - rss, 1)
    times, top1 = [], []
    for q in probes:
        t = time.perf_counter()
        searcher.search(q)
        times.append(time.perf_counter() - t)
        top1.append(index.search(q, 1))
    ms = np.array(times) * 1000
    out["p50_ms"] = round(float(np.percentile(ms, 50)), 3)
    out["p99_ms"] = round(float(np.percentile(ms, 99)), 3)
    best = {t: i for i, t in enumerate(tids)}
    ok = 0
    for q, hits, want in zip(probes, top1, truth, strict=True):
        got = best.get(hits[0].template_id) if hits else None
        ok += got is not None and (got == want or abs(
            float(vectors[got] @ q) - float(vectors[want] @ q)) < 1e-5)
    out["recall_at_1"] = round(ok / len(probes), 5)
    out["withdraw_ms"], out["withdraw_to_gone_ms"], out["withdrawn"] = _withdraw(
        svc, searcher, probes, truth, sids)
    svc.close()
    return out


def _withdraw(svc: Facegate, searcher: Searcher, probes: NDArray[np.float32],
              truth: NDArray[np.intp], sids: list[str]) -> tuple[float, float, str | None]:
    """Withdraw the subject a probe finds; the time the withdrawal took, and from its return
    until a search no longer returns the subject."""
    for q, want in zip(probes, truth, strict=True):
        found = searcher.search(q)
        if found and found[0]["subject"] == sids[want]:
            break
    else:
        return -1.0, -1.0, None
    sid = sids[want]
    t = time.perf_counter()
    svc.consents.withdraw(OFFICER, sid, searcher.dep)
    done = time.perf_counter()
    while any(c["subject"] == sid for c in searcher.search(q)):
        if time.perf_counter() - done > 60:
            return round((done - t) * 1000, 2), -1.0, sid
    return round((done - t) * 1000, 2), round((time.perf_counter() - done) * 1000, 2), sid


def over_http(root: Path, dep: str, backend: str, requests: int, url: str | None,
              key: str, milvus_uri: str = "") -> dict[str, Any]:
    """``facegate serve`` on the filled installation: seconds from the process's start until
    ``/healthz`` answers and until ``/readyz`` says the index is loaded; then identification
    p50/p99 through the HTTP API with a real photo (detection, template, confirmed search;
    nobody in the synthetic gallery is that person, so every search runs to the threshold)."""
    import httpx
    from stress.common import Server

    photo = (ROOT.parent / "shared" / "data" / "deepface" / "id01_angelina_jolie"
             / "img1.jpg").read_bytes()
    os.environ["FACEGATE_INDEX"] = backend
    os.environ["FACEGATE_MILVUS_URI"] = milvus_uri
    server = Server(root, database_url=url)
    try:
        started = time.monotonic()
        out: dict[str, Any] = {"http_live_s": round(server.start(wait_s=600), 2)}
        slowest = 0.0  # the slowest answer of /readyz while loading
        while time.monotonic() - started < 900:
            t = time.perf_counter()
            r = httpx.get(server.base + "/readyz", timeout=60)
            slowest = max(slowest, time.perf_counter() - t)
            if r.status_code == 200 or r.json().get("phase") == "failed":
                break
            time.sleep(0.1)
        out["http_readyz_slowest_ms"] = round(slowest * 1000, 1)
        out["http_ready_s"] = round(time.monotonic() - started, 2)
        out["http_loaded"] = r.json().get("loaded")
        while time.monotonic() - started < 900 and not all(  # ivf: until its index serves
                e.get("ivf_serving") in (None, True) for e in r.json().get("loaded", [])):
            time.sleep(0.5)
            r = httpx.get(server.base + "/readyz", timeout=60)
        out["http_serving_s"] = round(time.monotonic() - started, 2)
        times = []
        with httpx.Client(base_url=server.base, headers={"X-API-Key": key},
                          timeout=120) as http:
            for _ in range(requests + 1):
                t = time.perf_counter()
                r = http.post("/v1/identify", data={"deployment": dep},
                              files={"image": ("probe.jpg", photo, "image/jpeg")})
                times.append(time.perf_counter() - t)
                if r.status_code != 200:
                    raise RuntimeError(f"identify answered {r.status_code}: {r.text}\n"
                                       + server.log_tail(60))
        ms = np.array(times[1:]) * 1000  # the first request warms the connection
        out["http_identify_p50_ms"] = round(float(np.percentile(ms, 50)), 1)
        out["http_identify_p99_ms"] = round(float(np.percentile(ms, 99)), 1)
        out["http_gallery"] = r.json()["gallery"]
        return out
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["exact", "ivf", "milvus"], default="exact")
    ap.add_argument("--milvus-uri", help="milvus: the server (default: start one from the "
                    "milvus wheel for the run)")
    ap.add_argument("--n", type=int, default=100_000, help="templates")
    ap.add_argument("--per", type=int, default=4, help="templates per person")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--database-url", help="PostgreSQL (SQLAlchemy URL); default: SQLite")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--http", type=int, default=0, metavar="REQUESTS",
                    help="then serve the installation and time this many identifications "
                         "through the HTTP API")
    ap.add_argument("--keep", metavar="DIR", help="fill the installation in DIR and keep it; "
                    "a later run with the same DIR and arguments measures it again without "
                    "filling (each run withdraws one person)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.backend == "milvus" and not args.milvus_uri:
        from milvus_server import milvus_server

        with milvus_server() as uri:
            return main([*(argv if argv is not None else sys.argv[1:]), "--milvus-uri", uri])
    engine = default_engine()
    params = fit(engine.name)
    model = FaceModel(params, engine.dim, args.seed)
    people = -(-args.n // args.per)
    centres = model.centres(people)
    who = np.arange(args.n) // args.per
    vectors = np.concatenate([model.samples(centres[who[i: i + 65536]])
                              for i in range(0, args.n, 65536)])
    pick = np.random.default_rng(args.seed + 1).integers(0, people, args.queries)
    probes = model.samples(centres[pick])
    result: dict[str, Any] = {"backend": args.backend, "n": args.n, "per": args.per,
                              "queries": args.queries,
                              "database": "postgresql" if args.database_url else "sqlite",
                              "fit": check(model, params)}
    with contextlib.ExitStack() as stack:
        tmp = args.keep or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="facegate-scale-"))
        os.environ["FACEGATE_KEY_FILE"] = str(Path(tmp) / "keys" / "master.key")
        # where stress.common.Server's processes look for it too
        os.environ["FACEGATE_SIGNING_KEY_FILE"] = str(Path(tmp) / "keys" / "signing.key")
        os.environ.pop("FACEGATE_MASTER_KEY", None)
        data_dir = Path(tmp) / "data"
        settings = Settings(data_dir=data_dir, database_url=args.database_url,
                            index_backend=args.backend, milvus_uri=args.milvus_uri or "")
        filled = Path(tmp) / "filled.npz"
        dep = "bench-scale"
        if filled.exists():  # --keep: measured again on the gallery filled before
            saved = np.load(filled)
            tids, sids = [str(t) for t in saved["tids"]], [str(s) for s in saved["sids"]]
            result["fill_s"] = None
        else:
            Facegate.initialise(settings)
            svc = Facegate(settings, engine)
            dep = _deployment(svc, args.backend)
            started = time.perf_counter()
            tids, sids = fill(svc, dep, engine, vectors, args.per)
            result["fill_s"] = round(time.perf_counter() - started, 1)
            svc.close()
            if args.keep:
                np.savez(filled, tids=np.array(tids), sids=np.array(sids))
        print(json.dumps(result), file=sys.stderr, flush=True)  # so far, should a later step fail
        gone = Path(tmp) / "withdrawn.txt"  # --keep: the persons earlier runs withdrew
        withdrawn = set(gone.read_text().split()) if gone.exists() else set()
        scores = np.concatenate([vectors[i: i + 65536] @ probes.T
                                 for i in range(0, args.n, 65536)])
        scores[np.isin(np.array(sids), list(withdrawn))] = -np.inf
        truth = np.argmax(scores, axis=0)  # exhaustive search: each probe's best template
        del scores
        started = time.perf_counter()
        result |= measure(args, args.database_url, data_dir, engine, vectors, probes, truth,
                          tids, sids, dep)
        result["build_s"] = result.get("ivf_ready_s", result["ready_s"])
        if args.keep and result.get("withdrawn"):
            with gone.open("a") as fh:
                fh.write(result["withdrawn"] + "\n")
        print(json.dumps(result), file=sys.stderr, flush=True)
        if args.http:
            admin_svc = Facegate(settings, engine)
            key = admin_svc.keys.create(ADMIN, "bench-http", "operator")["key"]
            admin_svc.close()
            result |= over_http(Path(tmp), dep, args.backend, args.http, args.database_url,
                                key, args.milvus_uri or "")
    result |= {"cpus": os.cpu_count(), "machine": platform.machine()}
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
