"""Shared helpers for the reliability runs: a served facegate in a throwaway directory.

``Server`` starts ``facegate serve`` as a subprocess on a free loopback port. Its data
directory, master key, signing key and configuration home all live in one temporary
directory, never in the user's home. ``Api`` is a small httpx client for the calls the runs
make (subjects, consents, enrol, withdraw, verify, identify). ``people`` reads real photos
from ``../shared/data/lfw`` into memory: nothing of them is ever written to disk.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
LFW = SHARED / "data" / "lfw"
MANIFEST = SHARED / "examples" / "office-door.yaml"
ASSESSMENT = REPO / "examples" / "office-door" / "assessment.yaml"
TIMEOUT = 60.0


@dataclass(frozen=True)
class Person:
    """One LFW person: a photo to enrol and another photo of the same person to probe with."""

    name: str
    enrol: bytes
    probe: bytes


def people(count: int, offset: int = 0) -> list[Person]:
    """``count`` people with at least two LFW photos, in name order, read into memory."""
    names = LFW / "lfw-names.txt"
    if not names.is_file():
        raise FileNotFoundError(f"LFW not found at {LFW} (see ../shared/data/README.md)")
    chosen: list[str] = []
    for line in names.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and int(parts[1]) >= 2:
            chosen.append(parts[0])
    out = []
    for name in chosen[offset:offset + count]:
        folder = LFW / "images" / name
        out.append(Person(name, (folder / f"{name}_0001.jpg").read_bytes(),
                          (folder / f"{name}_0002.jpg").read_bytes()))
    return out


def facegate_command() -> list[str]:
    """The ``facegate`` executable beside this interpreter, else the one on PATH."""
    here = Path(sys.executable).parent / "facegate"
    if here.exists():
        return [str(here)]
    found = shutil.which("facegate")
    if found:
        return [found]
    return [sys.executable, "-c", "from facegate.cli.main import main; main()"]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait (a clean shutdown); SIGKILL if it does not exit in 30 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


class Server:
    """``facegate serve`` in its own temporary directory; ``init`` once, then start and stop
    (gracefully or with SIGKILL) as often as needed on the same data. ``workers``: serve
    with ``--workers N``; ``database_url``: the store's PostgreSQL database
    (``FACEGATE_DATABASE_URL``) instead of the embedded SQLite file."""

    def __init__(self, root: Path | None = None, *, workers: int = 1,
                 database_url: str | None = None) -> None:
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="facegate-stress-")
        self.root = root or Path(self._tmp.name if self._tmp else ".")
        self.data = self.root / "data"
        self.keys: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0
        self.log = self.root / "serve.log"
        self.workers = workers
        self.database_url = database_url

    @property
    def env(self) -> dict[str, str]:
        """The environment every facegate process of this run gets: all paths inside root."""
        keep = ("FACEGATE_ENGINE", "FACEGATE_INDEX", "FACEGATE_MILVUS_URI",
                "FACEGATE_MILVUS_TOKEN")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("FACEGATE_") or k in keep}
        keys = self.root / "keys"
        env.update(FACEGATE_DATA=str(self.data), FACEGATE_KEY_FILE=str(keys / "master.key"),
                   FACEGATE_SIGNING_KEY_FILE=str(keys / "signing.key"),
                   XDG_CONFIG_HOME=str(self.root / "config"), HOME=str(self.root / "home"))
        if self.database_url:
            env["FACEGATE_DATABASE_URL"] = self.database_url
        return env

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.data / "facegate.db"

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run ``facegate --json ARGS`` against this data directory."""
        return subprocess.run(  # noqa: S603 - our own executable, fixed arguments
            [*facegate_command(), "--json", *args], env=self.env,
            capture_output=True, text=True, timeout=timeout, check=False)

    def init(self) -> dict[str, str]:
        """``facegate init``: the database, the keys, and one API key per role."""
        (self.root / "home").mkdir(parents=True, exist_ok=True)
        done = self.cli("init")
        if done.returncode != 0:
            raise RuntimeError(f"facegate init failed: {done.stdout}{done.stderr}")
        info = json.loads(done.stdout)
        self.keys = {k["role"]: k["key"] for k in info["api_keys"]}
        return self.keys

    def start(self, wait_s: float = 120) -> float:
        """Start the service on a fresh port and wait until it answers; returns seconds taken."""
        assert self.proc is None, "already running"
        self.port = free_port()
        t0 = time.monotonic()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own executable
                [*facegate_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 *(["--workers", str(self.workers)] if self.workers != 1 else [])],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1
        while time.monotonic() - t0 < wait_s:
            if self.proc.poll() is not None:
                self.proc = None
                raise RuntimeError(f"facegate serve exited at start; see {self.log}:\n"
                                   + self.log_tail())
            try:
                if httpx.get(self.base + "/openapi.json", timeout=2).status_code == 200:
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"facegate serve did not answer within {wait_s} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no checkpoint, no flush."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
            self.proc = None

    def stop(self) -> None:
        """SIGTERM and wait (a clean shutdown); SIGKILL if it does not exit."""
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def orphan_counts(db: Path) -> dict[str, int]:
    """Row counts from the SQLite file, opened read-only: templates whose subject is gone or
    deleted, or whose consent is gone or withdrawn; and templates, subjects in all."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        def one(sql: str) -> int:
            row = conn.execute(sql).fetchone()
            return int(row[0]) if row else 0
        return {
            "templates": one("SELECT count(*) FROM templates"),
            "subjects": one("SELECT count(*) FROM subjects"),
            "orphan_subject": one(
                "SELECT count(*) FROM templates t LEFT JOIN subjects s ON s.id = t.subject_id"
                " WHERE s.id IS NULL OR s.deleted_at IS NOT NULL"),
            "orphan_consent": one(
                "SELECT count(*) FROM templates t LEFT JOIN consents c ON c.id = t.consent_id"
                " WHERE c.id IS NULL OR c.withdrawn_at IS NOT NULL"
                " OR c.subject_id != t.subject_id"),
        }
    finally:
        conn.close()


class Api:
    """The calls the runs make, each returning the raw response (the caller judges it)."""

    def __init__(self, base: str, keys: dict[str, str], deployment: str = "hq-office-door",
                 timeout: float = TIMEOUT) -> None:
        self.client = httpx.Client(base_url=base, timeout=timeout)
        self.keys = keys
        self.deployment = deployment

    def _h(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def register(self) -> str:
        """The reference office door at ``mode: identify``, with its impact assessment."""
        manifest = yaml.safe_load(MANIFEST.read_text())
        manifest["mode"] = "identify"
        r = self.client.post("/v1/deployments", json=manifest, headers=self._h("officer"))
        if r.status_code not in (200, 201):
            raise RuntimeError(f"deployment refused: {r.status_code} {r.text}")
        self.deployment = str(r.json()["id"])
        pia = yaml.safe_load(ASSESSMENT.read_text())
        r = self.client.post(f"/v1/deployments/{self.deployment}/assessments", json=pia,
                             headers=self._h("officer"))
        if r.status_code != 201:
            raise RuntimeError(f"assessment refused: {r.status_code} {r.text}")
        return self.deployment

    def add_subject(self, ref: str) -> httpx.Response:
        return self.client.post("/v1/subjects", json={"ref": ref}, headers=self._h("officer"))

    def grant(self, subject: str) -> httpx.Response:
        return self.client.post("/v1/consents", headers=self._h("officer"), json={
            "subject": subject, "deployment": self.deployment, "purpose": "access_control"})

    def enrol(self, subject: str, image: bytes) -> httpx.Response:
        return self.client.post(
            "/v1/enrol", data={"subject": subject, "deployment": self.deployment},
            files=[("images", ("face.jpg", image, "image/jpeg"))], headers=self._h("operator"))

    def withdraw(self, subject: str) -> httpx.Response:
        return self.client.post("/v1/consents/withdraw", json={"subject": subject},
                                headers=self._h("officer"))

    def verify(self, subject: str, image: bytes) -> httpx.Response:
        return self.client.post(
            "/v1/verify", data={"subject": subject, "deployment": self.deployment},
            files={"image": ("probe.jpg", image, "image/jpeg")}, headers=self._h("operator"))

    def identify(self, image: bytes, top: int = 10) -> httpx.Response:
        return self.client.post(
            "/v1/identify", data={"deployment": self.deployment, "top": str(top)},
            files={"image": ("probe.jpg", image, "image/jpeg")}, headers=self._h("operator"))

    def subject(self, subject: str) -> httpx.Response:
        return self.client.get(f"/v1/subjects/{subject}", headers=self._h("officer"))

    def deployments(self) -> httpx.Response:
        return self.client.get("/v1/deployments", headers=self._h("operator"))

    def audit_tail(self, n: int = 20) -> httpx.Response:
        return self.client.get("/v1/audit", params={"n": n}, headers=self._h("auditor"))


def identified(body: dict[str, Any]) -> set[str]:
    """Every subject an identify response names, for any face."""
    found = {str(c["subject"]) for c in body.get("candidates", [])}
    for face in body.get("faces", []):
        found |= {str(c["subject"]) for c in face.get("candidates", [])}
    return found


def held(body: dict[str, Any]) -> tuple[int, int]:
    """(templates held, active consents) from ``GET /v1/subjects/{id}``."""
    return (len(body.get("templates", [])),
            sum(1 for c in body.get("consents", []) if c.get("active")))


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank), 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, columns padded for reading in a terminal too."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
