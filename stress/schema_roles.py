"""Schemathesis against ``/openapi.json`` with each role: every operation of the served API is
called with generated requests (valid ones, then invalid ones) as an officer, an operator, an
auditor, a device (a kiosk's key, bound to the first deployment) and without a key, and each
response is checked against the OpenAPI document: no server error (5xx), a documented status
code, a documented content type, a body and headers that match the documented schema.

The app is served with uvicorn on loopback over a temporary data directory, with a world to
refer to: deployments (registered and assessed), subjects, a consent, an enrolled face. Three
of four valid requests name that world's ids where the operation takes a deployment or a
subject, so the generated requests reach the use cases and not only their 404s; a photo
replaces the generated image bytes in one of four valid uploads (the rest are junk, refused
from the header). Failed authentications are forgotten before each request without a key, so
the lockout (10 a minute) does not turn them into 429s; the generated requests never carry a
key of their own, only the role's.

    python -m stress.schema_roles --max-examples 100 --seed 1

prints per role the operations, cases, server errors and schema mismatches, then one JSON
line; the exit status is 1 on any server error or mismatch."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import hypothesis
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from facegate.api.app import create_app
from facegate.engine import default_engine
from facegate.service import Actor, Facegate, Settings

SHARED = Path(__file__).resolve().parents[2] / "shared"
PHOTOS = [SHARED / "data" / "deepface" / "id01_angelina_jolie" / name
          for name in ("img1.jpg", "img2.jpg")]
ROLES: tuple[str | None, ...] = ("officer", "operator", "auditor", "device", None)
# The kiosk every deployment of the world lists; the device key belongs to the first one.
DEVICE = "schema-kiosk"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
ADMIN = Actor("schema-admin", "admin")
OFFICER = Actor("schema-officer", "officer")
ASSESSMENT = {
    "assessor": "Li Na, data protection officer",
    "sections": {"lawfulness": "Access control; staff consent.",
                 "impact": "Staff may use the badge at the guard desk with no loss.",
                 "risks": "Template leakage mitigated by per-subject encryption.",
                 "protections": "Role keys, audit trail, retention of one year."},
    "conclusion": "Lawful and proportionate with the listed measures.",
}


@dataclass
class World:
    """What generated requests may name: a running service and its ids."""

    service: Facegate
    deployments: list[str]
    subjects: list[str]
    photo: bytes | None

    def fill(self, case: schemathesis.Case, pick: int) -> None:
        """Name the world's ids (pick 1-3) and send the photo (pick 3) in a valid case."""
        if pick == 0:
            return
        dep, sid = self.deployments[pick - 1], self.subjects[pick - 1]
        ids = {"deployment_id": dep, "deployment": dep, "subject_id": sid, "subject": sid}
        for part in (case.path_parameters, case.query):
            if isinstance(part, dict):
                part.update({k: v for k, v in ids.items() if k in part})
        if isinstance(case.body, dict):
            case.body.update({k: v for k, v in ids.items() if k in case.body})
            if pick == 3 and self.photo is not None:
                if "image" in case.body:
                    case.body["image"] = self.photo
                if "images" in case.body:
                    case.body["images"] = [self.photo]


@dataclass
class RoleReport:
    role: str
    operations: set[str] = field(default_factory=set)
    cases: int = 0
    server_errors: int = 0
    mismatches: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {"role": self.role, "operations": len(self.operations), "cases": self.cases,
                "server_errors": self.server_errors, "mismatches": self.mismatches,
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())}}


@contextmanager
def served(service: Facegate) -> Iterator[str]:
    """The API app served by uvicorn on a free loopback port; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(service, housekeeping_every_s=0),
                                           host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError("the app did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def build_world(service: Facegate) -> tuple[World, dict[str, str]]:
    """Keys for each role, three assessed deployments (each listing the kiosk), three subjects
    that consented at the first one, and one enrolled face when the photos are present."""
    keys = {role: str(service.keys.create(ADMIN, f"schema-{role}", role)["key"])
            for role in ROLES if role not in (None, "device")}
    manifest = yaml.safe_load((SHARED / "examples" / "office-door.yaml").read_text())
    manifest["devices"] = [{"id": DEVICE, "capture_area": "The 1 m in front of the tablet",
                            "security_tested_on": date.today().isoformat()}]
    deployments = []
    for i in range(3):
        dep = str(service.deployments.apply(OFFICER, {**manifest, "id": f"schema-door-{i}",
                                                      "mode": "identify"})["id"])
        service.assessments.record(OFFICER, dep, ASSESSMENT)
        deployments.append(dep)
    keys["device"] = str(service.keys.create(ADMIN, "schema-device", "device",
                                             deployment=deployments[0], device=DEVICE)["key"])
    subjects = [str(service.subjects.add(OFFICER, f"SCHEMA-{i}")["id"]) for i in range(3)]
    for sid in subjects:
        service.consents.grant(OFFICER, sid, deployments[0], "access_control")
    photo = PHOTOS[0].read_bytes() if PHOTOS[0].is_file() else None
    if photo is not None:
        service.matching.enrol(Actor("schema-operator", "operator"), subjects[0],
                               deployments[0], [photo])
    return World(service, deployments, subjects, photo), keys


def _failures(exc: BaseException) -> list[Failure]:
    if isinstance(exc, FailureGroup):
        return list(exc.exceptions)
    return [exc] if isinstance(exc, Failure) else []


def run_operation(op: Any, mode: schemathesis.GenerationMode, key: str | None, world: World,
                  report: RoleReport, session: requests.Session, max_examples: int,
                  seed: int) -> None:
    """Up to ``max_examples`` generated requests for one operation, checked; every failure is
    counted (no shrinking, so the counts are of cases sent)."""
    headers = {"X-API-Key": key} if key is not None else {}
    positive = mode == schemathesis.GenerationMode.POSITIVE

    @hypothesis.seed(seed)
    @settings(max_examples=max_examples, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode), pick=st.integers(0, 3))
    def exercise(case: schemathesis.Case, pick: int) -> None:
        if positive:
            world.fill(case, pick)
        if case.headers:  # a generated key would count as a failed authentication
            case.headers = {k: v for k, v in case.headers.items() if k.lower() != "x-api-key"}
        world.service.keys.failures.forget()
        try:
            response = case.call(session=session, headers=headers, timeout=120)
        except requests.RequestException as e:
            report.cases += 1
            report.server_errors += 1
            report.problems[f"{op.label}: no response ({type(e).__name__})"] += 1
            return
        report.cases += 1
        report.operations.add(op.label)
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Failure, FailureGroup) as exc:
            for failure in _failures(exc):
                if failure.title == "Server error":
                    report.server_errors += 1
                else:
                    report.mismatches += 1
                report.problems[f"{op.label} {response.status_code}: {failure.title}"] += 1

    with suppress(hypothesis.errors.Unsatisfiable):  # nothing to negate (no parameters)
        exercise()


def run_roles(base: str, world: World, keys: dict[str, str], max_examples: int, seed: int,
              out: Any = None) -> tuple[list[str], list[RoleReport]]:
    """Every operation of ``base``'s OpenAPI document with each role; the operations listed
    there and one report per role."""
    schema = schemathesis.openapi.from_url(base + "/openapi.json")
    ops = [result.ok() for result in schema.get_all_operations()]
    reports = []
    with requests.Session() as session:
        for role in ROLES:
            report = RoleReport(role or "no key")
            started = time.monotonic()
            for op in ops:
                for mode in MODES:
                    run_operation(op, mode, keys[role] if role else None, world, report,
                                  session, max_examples, seed)
            reports.append(report)
            if out is not None:
                s = report.summary()
                print(f"{s['role']:>8}: {s['operations']} operations, {s['cases']} cases, "
                      f"{s['server_errors']} server errors, {s['mismatches']} schema mismatches "
                      f"({time.monotonic() - started:.0f} s) statuses {s['statuses']}",
                      file=out, flush=True)
                for problem, n in report.problems.most_common(20):
                    print(f"          {n} x {problem}", file=out, flush=True)
    return [op.label for op in ops], reports


@contextmanager
def world_served() -> Iterator[tuple[str, World, dict[str, str]]]:
    """A fresh service in a temporary directory, its world, served on loopback."""
    names = ("FACEGATE_KEY_FILE", "FACEGATE_MASTER_KEY", "FACEGATE_DATABASE_URL")
    saved = {name: os.environ.pop(name, None) for name in names}
    with tempfile.TemporaryDirectory(prefix="facegate-schema-") as tmp:
        os.environ["FACEGATE_KEY_FILE"] = str(Path(tmp) / "keys" / "master.key")
        settings_ = Settings(data_dir=Path(tmp) / "data")
        try:
            Facegate.initialise(settings_)
            service = Facegate(settings_, default_engine())
            try:
                world, keys = build_world(service)
                with served(service) as base:
                    yield base, world, keys
            finally:
                service.close()
        finally:
            for name, value in saved.items():
                os.environ.pop(name, None)
                if value is not None:
                    os.environ[name] = value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=100,
                        help="generated requests per operation, role and mode (valid, invalid)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.monotonic()
    with world_served() as (base, world, keys):
        operations, reports = run_roles(base, world, keys, args.max_examples, args.seed,
                                        out=sys.stdout)
    summary = {"operations": len(operations), "max_examples": args.max_examples,
               "seed": args.seed, "seconds": round(time.monotonic() - started),
               "roles": [r.summary() for r in reports],
               "server_errors": sum(r.server_errors for r in reports),
               "mismatches": sum(r.mismatches for r in reports)}
    print(json.dumps(summary))
    return 1 if summary["server_errors"] or summary["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
