"""Concurrency: C clients for S seconds of mixed load against one served facegate.

Each client thread loops over a weighted mix: enrol (new subject, consent, enrolment),
verify, identify, withdraw, and reads (a subject, the deployments, the audit tail). Reported
per operation: requests, errors (any 5xx, a connection error, "database is locked" in an
answer or in the service's log), refusals (4xx, expected for photos with several faces and for
subjects withdrawn in the meantime), p50 and p99 latency.

"Withdrawn never matches": once a withdrawal is acknowledged, identify and verify requests
sent after that moment must never return the subject. Clients deliberately probe with the
photos of withdrawn people to try.

``python -m stress.concurrency --clients 16 --seconds 60`` prints a table, then one JSON line;
the exit code is 1 on any error or violation.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from stress.common import Api, Person, Server, identified, people, percentile, table

MIX = {"enrol": 0.2, "verify": 0.2, "identify": 0.25, "withdraw": 0.1, "read": 0.25}


@dataclass
class Shared:
    """What all clients see: enrolled subjects, acknowledged withdrawals, measurements."""

    people: list[Person]
    lock: threading.Lock = field(default_factory=threading.Lock)
    turns: Iterator[int] = field(default_factory=itertools.count)
    active: list[tuple[str, int]] = field(default_factory=list)
    withdrawn: dict[str, tuple[float, int]] = field(default_factory=dict)
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ok: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reasons: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def person(self) -> int:
        """The next person's index, round robin (``next`` on a count is atomic)."""
        return next(self.turns) % len(self.people)


def reason(r: httpx.Response) -> str:
    """A refusal's error code or rules, for the tally of refusals."""
    try:
        body = r.json()
    except ValueError:
        return "?"
    if not isinstance(body, dict):
        return "?"
    rules = ",".join(body.get("rules") or [])
    return f"{body.get('error') or '?'}{f' ({rules})' if rules else ''}"


class Client:
    """One client thread's loop; every call is timed and judged by ``call``."""

    def __init__(self, api: Api, shared: Shared, seed: int, wid: int) -> None:
        self.api, self.s, self.wid, self.n = api, shared, wid, 0
        self.rng = random.Random(seed)  # noqa: S311 - seeded load, not secrets

    def call(self, op: str, fn: Any, *args: Any) -> httpx.Response | None:
        t0 = time.monotonic()
        r: httpx.Response | None = None
        failure = ""
        try:
            r = fn(*args)
        except httpx.TransportError as e:
            failure = f"{op}: {type(e).__name__}: {e}"
        took = time.monotonic() - t0
        if r is not None and (r.status_code >= 500 or "database is locked" in r.text):
            failure, r = f"{op}: {r.status_code} {r.text[:200]}", None
        with self.s.lock:
            self.s.latency[op].append(took)
            if failure:
                self.s.errors[op] += 1
                if len(self.s.samples) < 20:
                    self.s.samples.append(failure)
            elif r is not None and r.status_code >= 400:
                self.s.refused[op] += 1
                self.s.reasons[f"{op} {r.status_code} {reason(r)}"] += 1
            else:
                self.s.ok[op] += 1
        return r

    def loop(self, deadline: float) -> None:
        ops, weights = list(MIX), list(MIX.values())
        while time.monotonic() < deadline:
            op = self.rng.choices(ops, weights)[0]
            with self.s.lock:
                empty = not self.s.active
            if empty and op in ("verify", "withdraw"):
                op = "enrol"
            try:
                getattr(self, op)()
            except Exception as e:  # a malformed answer: reported, never swallowed
                with self.s.lock:
                    self.s.violations.append(f"client {self.wid} {op}: {type(e).__name__}: {e}")

    def enrol(self) -> None:
        i = self.s.person()
        self.n += 1
        r = self.call("subject", self.api.add_subject,
                      f"{self.s.people[i].name}-w{self.wid}-{self.n}")
        if r is None or r.status_code != 201:
            return
        sid = str(r.json()["id"])
        r = self.call("consent", self.api.grant, sid)
        if r is None or r.status_code != 201:
            return
        r = self.call("enrol", self.api.enrol, sid, self.s.people[i].enrol)
        if r is not None and r.status_code == 201:
            with self.s.lock:
                self.s.active.append((sid, i))

    def pick(self) -> tuple[str, int, bool]:
        """A subject to probe: a withdrawn one a third of the time when there is one; with
        none yet, someone never enrolled."""
        with self.s.lock:
            if not self.s.withdrawn and not self.s.active:
                return "sub_none", self.rng.randrange(len(self.s.people)), False
            if self.s.withdrawn and (not self.s.active or self.rng.random() < 0.35):
                sid = self.rng.choice(list(self.s.withdrawn))
                return sid, self.s.withdrawn[sid][1], True
            sid, i = self.rng.choice(self.s.active)
            return sid, i, False

    def gone_before(self, subjects: set[str], sent: float) -> list[str]:
        """The subjects whose withdrawal was acknowledged before ``sent``."""
        with self.s.lock:
            return [s for s in subjects
                    if s in self.s.withdrawn and self.s.withdrawn[s][0] < sent]

    def verify(self) -> None:
        sid, i, _ = self.pick()
        sent = time.monotonic()
        r = self.call("verify", self.api.verify, sid, self.s.people[i].probe)
        if r is not None and r.status_code == 200 and r.json().get("match") is True:
            for gone in self.gone_before({sid}, sent):
                with self.s.lock:
                    self.s.violations.append(f"verify matched {gone} after its withdrawal")

    def identify(self, probe: bytes | None = None) -> None:
        if probe is None:
            probe = self.s.people[self.pick()[1]].probe
        sent = time.monotonic()
        r = self.call("identify", self.api.identify, probe)
        if r is not None and r.status_code == 200:
            for gone in self.gone_before(identified(r.json()), sent):
                with self.s.lock:
                    self.s.violations.append(f"identify returned {gone} after its withdrawal")

    def withdraw(self) -> None:
        with self.s.lock:
            if not self.s.active:
                return
            sid, i = self.s.active.pop(self.rng.randrange(len(self.s.active)))
        r = self.call("withdraw", self.api.withdraw, sid)
        if r is not None and r.status_code == 200:
            with self.s.lock:
                self.s.withdrawn[sid] = (time.monotonic(), i)
            self.identify(self.s.people[i].probe)

    def read(self) -> None:
        kind = self.rng.randrange(3)
        if kind == 0:
            self.call("read", self.api.subject, self.pick()[0])
        elif kind == 1:
            self.call("read", self.api.deployments)
        else:
            self.call("read", self.api.audit_tail, 20)


def run(clients: int = 16, seconds: float = 60, seed: int = 7, pool: int = 1500,
        out: Any = sys.stdout) -> dict[str, Any]:
    """The whole run; returns the summary (``ok`` is False on any error or violation)."""
    shared = Shared(people(pool))
    rng = random.Random(seed)  # noqa: S311 - seeded load, not secrets
    with Server() as server:
        server.init()
        server.start()
        with Api(server.base, server.keys) as api:
            api.register()
        apis = [Api(server.base, server.keys) for _ in range(clients)]
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=Client(a, shared, rng.randrange(2**31), w).loop,
                                    args=(deadline,), daemon=True)
                   for w, a in enumerate(apis)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 300)
        wall = time.monotonic() - t0
        for a in apis:
            a.close()
        with Api(server.base, server.keys) as api:
            audit = api.client.get("/v1/audit/verify", headers={"X-API-Key": server.keys[
                "auditor"]}).json()
        server.stop()
        log = server.log.read_text(errors="replace") if server.log.exists() else ""
    log_errors = log.count("database is locked") + log.count("Traceback")
    summary = summarise(shared, clients, seconds, seed, wall, log_errors, bool(audit.get("ok")))
    order = ["subject", "consent", "enrol", "verify", "identify", "withdraw", "read"]
    print(table(["operation", "requests", "ok", "refused (4xx)", "errors", "p50 ms", "p99 ms"],
                [[op, summary["ops"][op]["requests"], summary["ops"][op]["ok"],
                  summary["ops"][op]["refused"], summary["ops"][op]["errors"],
                  summary["ops"][op]["p50_ms"], summary["ops"][op]["p99_ms"]]
                 for op in order if op in summary["ops"]]), file=out)
    print(f"{summary['requests']} requests in {summary['wall_s']} s "
          f"({summary['throughput_rps']}/s), {summary['errors']} errors, "
          f"{summary['withdrawals']} withdrawals, withdrawn matched "
          f"{summary['withdrawn_matched']}, audit chain "
          f"{'verifies' if summary['audit_ok'] else 'BROKEN'}", file=out)
    for line in shared.samples + shared.violations[:20]:
        print("ERROR:", line, file=out)
    for what, count in shared.reasons.most_common(10):
        print(f"refused: {what} x{count}", file=out)
    print(json.dumps(summary), file=out, flush=True)
    return summary


def summarise(s: Shared, clients: int, seconds: float, seed: int, wall: float,
              log_errors: int, audit_ok: bool) -> dict[str, Any]:
    ops = {op: {"requests": len(lat), "ok": s.ok[op], "refused": s.refused[op],
                "errors": s.errors[op],
                "p50_ms": round(percentile(lat, 50) * 1000, 1),
                "p99_ms": round(percentile(lat, 99) * 1000, 1)}
           for op, lat in sorted(s.latency.items())}
    requests = sum(o["requests"] for o in ops.values())
    errors = sum(o["errors"] for o in ops.values()) + log_errors
    matched = sum("after its withdrawal" in v for v in s.violations)
    return {
        "run": "concurrency", "clients": clients, "seconds": seconds, "seed": seed,
        "wall_s": round(wall, 1), "requests": requests,
        "throughput_rps": round(requests / wall, 1) if wall else 0.0,
        "errors": errors, "log_errors": log_errors,
        "enrolled": s.ok["enrol"], "withdrawals": len(s.withdrawn),
        "withdrawn_matched": matched, "audit_ok": audit_ok,
        "violations": len(s.violations), "ops": ops,
        "ok": errors == 0 and not s.violations and audit_ok,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    return 0 if run(a.clients, a.seconds, a.seed)["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
