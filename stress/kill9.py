"""kill -9 under load: acknowledged enrolments and withdrawals survive a crash.

Each cycle runs enrol/withdraw load from a few client threads against ``facegate serve``,
sends SIGKILL at a seeded random moment, runs ``facegate audit verify`` on the files left
behind, restarts the service on the same data and checks:

- every enrolment acknowledged (201) before any kill still has its template and consent, and
  every withdrawal acknowledged (200) is still done: no template, no active consent;
- a request cut off by the kill is all or nothing (a withdrawal never half done);
- no orphan template (subject gone or deleted, consent gone or withdrawn), by counting rows in
  the SQLite file opened read-only;
- the audit chain verifies (exit code 0);
- identify never returns a withdrawn subject, during the load or after the restart.

``python -m stress.kill9 --cycles 10 --seed 7`` prints a table, then one JSON line; the exit
code is 1 when anything was violated.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from stress.common import Api, Person, Server, held, identified, orphan_counts, people, table


@dataclass
class Record:
    """One subject as the clients saw it: ``state`` is what the server acknowledged,
    ``pending`` the request cut off by a kill (its outcome is read back after restart)."""

    subject: str
    person: int
    cycle: int
    state: str = "consented"  # consented | enrolled | rejected | withdrawn
    pending: str | None = None


@dataclass
class Cycle:
    n: int
    kill_at: float = 0.0
    enrolled: int = 0
    withdrawn: int = 0
    in_doubt: int = 0
    lost: int = 0
    torn: int = 0
    orphans: int = 0
    audit_ok: bool = False
    matched_withdrawn: int = 0
    server_errors: int = 0
    restart_s: float = 0.0


@dataclass
class Ledger:
    people: list[Person]
    records: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    turns: Iterator[int] = field(default_factory=itertools.count)
    violations: list[str] = field(default_factory=list)

    def person(self) -> int:
        """The next person's index, round robin (``next`` on a count is atomic)."""
        return next(self.turns) % len(self.people)

    def violate(self, what: str) -> None:
        with self.lock:
            self.violations.append(what)


def worker(api: Api, ledger: Ledger, cycle: Cycle, seed: int, wid: int,
           stop: threading.Event, p_withdraw: float) -> None:
    """Enrol new subjects and withdraw some, until stopped or the connection breaks."""
    rng = random.Random(seed)  # noqa: S311 - seeded load, not secrets
    mine: list[Record] = []
    n = 0
    try:
        while not stop.is_set():
            i = ledger.person()
            person = ledger.people[i]
            r = api.add_subject(f"{person.name}-c{cycle.n}-w{wid}-{n}")
            n += 1
            check_status(r, 201, ledger, cycle, "subject")
            sid = str(r.json()["id"])
            check_status(api.grant(sid), 201, ledger, cycle, "consent")
            rec = Record(sid, i, cycle.n, pending="enrol")
            with ledger.lock:
                ledger.records.append(rec)
            r = api.enrol(sid, person.enrol)
            rec.pending = None
            if r.status_code == 201:
                rec.state = "enrolled"
                with ledger.lock:
                    cycle.enrolled += 1
                mine.append(rec)
            elif r.status_code in (409, 422):
                rec.state = "rejected"  # more than one face, poor quality: a refusal
            else:
                check_status(r, 201, ledger, cycle, "enrol")
            if mine and rng.random() < p_withdraw:
                victim = mine.pop(rng.randrange(len(mine)))
                victim.pending = "withdraw"
                r = api.withdraw(victim.subject)
                check_status(r, 200, ledger, cycle, "withdraw")
                victim.pending, victim.state = None, "withdrawn"
                with ledger.lock:
                    cycle.withdrawn += 1
                r = api.identify(ledger.people[victim.person].probe)
                check_status(r, 200, ledger, cycle, "identify")
                if victim.subject in identified(r.json()):
                    ledger.violate(f"identify returned {victim.subject} after its withdrawal")
                    with ledger.lock:
                        cycle.matched_withdrawn += 1
    except (httpx.TransportError, _Cut):
        return  # the server is gone: whatever was pending is in doubt
    except Exception as e:  # a malformed answer: reported, never swallowed
        ledger.violate(f"client {wid}: {type(e).__name__}: {e}")


class _Cut(Exception):
    """A non-acknowledgement: the request failed, so the loop stops here."""


def check_status(r: httpx.Response, want: int, ledger: Ledger, cycle: Cycle, op: str) -> None:
    if r.status_code == want:
        return
    if r.status_code >= 500 or "database is locked" in r.text:
        with ledger.lock:
            cycle.server_errors += 1
        ledger.violate(f"{op}: {r.status_code} {r.text[:200]}")
    else:
        ledger.violate(f"{op}: unexpected {r.status_code} {r.text[:200]}")
    raise _Cut


def check_after_restart(api: Api, server: Server, ledger: Ledger, cycle: Cycle) -> None:
    """Every acknowledgement held, the requests cut off resolved all or nothing, no orphans,
    and no withdrawn subject of this cycle found by identify."""
    fresh: list[Record] = []
    for rec in ledger.records:
        r = api.subject(rec.subject)
        if r.status_code != 200:
            cycle.lost += 1
            ledger.violate(f"{rec.subject}: GET {r.status_code} after restart")
            continue
        templates, active = held(r.json())
        if rec.pending is not None:
            cycle.in_doubt += 1
            if rec.pending == "enrol":
                rec.state = "enrolled" if templates else "consented"
            elif templates and active:
                rec.state = "enrolled"
            elif not templates and not active:
                rec.state = "withdrawn"
                fresh.append(rec)
            else:
                cycle.torn += 1
                ledger.violate(f"{rec.subject}: withdrawal half done ({templates} templates, "
                               f"{active} active consents)")
            rec.pending = None
            continue
        if rec.state == "enrolled" and not (templates and active):
            cycle.lost += 1
            ledger.violate(f"{rec.subject}: acknowledged enrolment lost "
                           f"({templates} templates, {active} active consents)")
        elif rec.state == "withdrawn":
            if templates or active:
                cycle.lost += 1
                ledger.violate(f"{rec.subject}: acknowledged withdrawal undone "
                               f"({templates} templates, {active} active consents)")
            if rec.cycle == cycle.n:
                fresh.append(rec)
    for rec in fresh:
        r = api.identify(ledger.people[rec.person].probe)
        if r.status_code != 200:
            ledger.violate(f"identify after restart: {r.status_code} {r.text[:200]}")
        elif rec.subject in identified(r.json()):
            cycle.matched_withdrawn += 1
            ledger.violate(f"identify returned {rec.subject} after restart; it was withdrawn")
    counts = orphan_counts(server.db)
    cycle.orphans = counts["orphan_subject"] + counts["orphan_consent"]
    if cycle.orphans:
        ledger.violate(f"cycle {cycle.n}: orphan templates {counts}")


def audit_verify(server: Server, ledger: Ledger, label: str) -> bool:
    done = server.cli("audit", "verify")
    if done.returncode != 0:
        ledger.violate(f"{label}: facegate audit verify exit {done.returncode}: "
                       f"{done.stdout.strip()} {done.stderr.strip()[-300:]}")
    return done.returncode == 0


def run(cycles: int = 10, seed: int = 7, clients: int = 3, min_s: float = 1.0,
        max_s: float = 4.0, p_withdraw: float = 0.4, pool: int = 600,
        out: Any = sys.stdout) -> dict[str, Any]:
    """The whole run; returns the summary (``ok`` is False on any violation)."""
    rng = random.Random(seed)  # noqa: S311 - seeded load, not secrets
    ledger = Ledger(people(pool))
    rows: list[Cycle] = []
    t0 = time.monotonic()
    with Server() as server:
        server.init()
        server.start()
        with Api(server.base, server.keys) as api:
            api.register()
        for n in range(1, cycles + 1):
            cycle = Cycle(n, kill_at=round(rng.uniform(min_s, max_s), 2))
            stop = threading.Event()
            apis = [Api(server.base, server.keys) for _ in range(clients)]
            threads = [threading.Thread(target=worker, daemon=True,
                                        args=(a, ledger, cycle, rng.randrange(2**31), w, stop,
                                              p_withdraw))
                       for w, a in enumerate(apis)]
            for t in threads:
                t.start()
            time.sleep(cycle.kill_at)
            server.kill()
            stop.set()
            for t in threads:
                t.join(120)
            for a in apis:
                a.close()
            cycle.audit_ok = audit_verify(server, ledger, f"cycle {n}")
            cycle.restart_s = round(server.start(), 2)
            with Api(server.base, server.keys) as api:
                check_after_restart(api, server, ledger, cycle)
            rows.append(cycle)
            print(f"cycle {n}: killed at {cycle.kill_at}s, {cycle.enrolled} enrolled, "
                  f"{cycle.withdrawn} withdrawn, {cycle.in_doubt} in doubt", file=out, flush=True)
        server.stop()
        final_audit = audit_verify(server, ledger, "after the last cycle")
        counts = orphan_counts(server.db)
    summary = summarise(rows, ledger, final_audit, counts, seed, clients, time.monotonic() - t0)
    print(table(["cycle", "kill at s", "enrol acks", "withdraw acks", "in doubt", "lost acks",
                 "torn", "orphans", "audit", "withdrawn matched", "5xx", "restart s"],
                [[c.n, c.kill_at, c.enrolled, c.withdrawn, c.in_doubt, c.lost, c.torn,
                  c.orphans, "ok" if c.audit_ok else "FAIL", c.matched_withdrawn,
                  c.server_errors, c.restart_s] for c in rows]), file=out)
    for v in ledger.violations[:20]:
        print("VIOLATION:", v, file=out)
    print(json.dumps(summary), file=out, flush=True)
    return summary


def summarise(rows: list[Cycle], ledger: Ledger, final_audit: bool, counts: dict[str, int],
              seed: int, clients: int, wall: float) -> dict[str, Any]:
    states = [r.state for r in ledger.records]
    return {
        "run": "kill9", "cycles": len(rows), "seed": seed, "clients": clients,
        "wall_s": round(wall, 1),
        "enrol_acked": sum(c.enrolled for c in rows),
        "withdraw_acked": sum(c.withdrawn for c in rows),
        "in_doubt": sum(c.in_doubt for c in rows),
        "lost_acks": sum(c.lost for c in rows),
        "torn": sum(c.torn for c in rows),
        "orphans": max([c.orphans for c in rows], default=0)
        + counts["orphan_subject"] + counts["orphan_consent"],
        "audit_failures": sum(not c.audit_ok for c in rows) + (not final_audit),
        "withdrawn_matched": sum(c.matched_withdrawn for c in rows),
        "server_errors": sum(c.server_errors for c in rows),
        "subjects": len(states), "enrolled_at_end": states.count("enrolled"),
        "withdrawn_at_end": states.count("withdrawn"), "templates_at_end": counts["templates"],
        "restart_s_max": max([c.restart_s for c in rows], default=0.0),
        "violations": len(ledger.violations),
        "ok": not ledger.violations,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--cycles", type=int, default=10)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--min-s", type=float, default=1.0, help="earliest kill, after load starts")
    p.add_argument("--max-s", type=float, default=4.0, help="latest kill, after load starts")
    p.add_argument("--withdraw", type=float, default=0.4,
                   help="chance of a withdrawal after each enrolment")
    a = p.parse_args(argv)
    summary = run(a.cycles, a.seed, a.clients, a.min_s, a.max_s, a.withdraw)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
