"""Sliding-window rate limits with lockout (``security.controls``): ``RateLimiter`` for the
public rights page, ``FailureLimiter`` for failed authentications at the API and the console.

Pure: no store, no web; the clock is a callable returning seconds, so tests can move time.

A key (``("address", "203.0.113.9")``, ``("reference", digest)``, ``("deployment", id)``) may
be hit ``limit`` times within ``window_s`` seconds. A request that would go over any of its
keys' limits is refused and counts against none, and the key stays locked until its oldest hit
leaves the window: a lockout of at most one window.

The counters are kept in memory, in the service process. That is acceptable here: the limits
guard against guessing at the speed of a script, a restart only resets them once, and the page
never carries anything out at once (requests wait for the officer), so a reset gives an
attacker nothing to learn. Several service processes would each keep their own counters, which
multiplies the allowance by the number of processes but keeps it bounded.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` hits per ``window_s`` seconds for keys of this ``scope``."""

    scope: str
    limit: int
    window_s: float


# The public rights page: per client address, per reference (its keyed digest), per deployment.
RIGHTS_LIMITS = (Limit("address", 5, 600.0), Limit("reference", 3, 3600.0),
                 Limit("deployment", 100, 3600.0))


@dataclass(frozen=True)
class Verdict:
    """Whether a request may go on; when not, which scope refused it and for how long."""

    allowed: bool
    scope: str | None = None
    retry_after_s: int = 0


@dataclass
class RateLimiter:
    """Counters for a set of limits; ``hit`` checks every key and counts only what it lets
    through. Safe to share between threads."""

    limits: Sequence[Limit] = RIGHTS_LIMITS
    clock: Callable[[], float] = time.monotonic
    _hits: dict[tuple[str, str], deque[float]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def hit(self, keys: dict[str, str]) -> Verdict:
        """``keys`` maps a scope to its key; scopes without a limit are ignored."""
        now = self.clock()
        with self._lock:
            ready: list[deque[float]] = []
            for lim in self.limits:
                if lim.scope not in keys:
                    continue
                q = self._hits.setdefault((lim.scope, keys[lim.scope]), deque())
                while q and q[0] <= now - lim.window_s:
                    q.popleft()
                if len(q) >= lim.limit:
                    wait = max(1, int(q[0] + lim.window_s - now + 0.999))
                    return Verdict(False, lim.scope, wait)
                ready.append(q)
            for q in ready:
                q.append(now)
            self._forget(now)
            return Verdict(True)

    def _forget(self, now: float) -> None:
        """Drop keys whose hits all left the longest window, so memory stays bounded."""
        if len(self._hits) < 10_000:
            return
        longest = max(lim.window_s for lim in self.limits)
        for key in [k for k, q in self._hits.items() if not q or q[-1] <= now - longest]:
            del self._hits[key]


FAILURE_LIMIT = 10
FAILURE_WINDOW_S = 60.0


@dataclass
class FailureLimiter:
    """Failed authentications per client address (``security.controls``: repeated failures
    are visible and slowed). After ``limit`` failures within ``window_s`` seconds the address
    is locked out for ``window_s`` seconds, a valid key included. Kept in memory, in the
    serving process, shared by the API and the console; behind a reverse proxy every client
    shares the proxy's address."""

    limit: int = FAILURE_LIMIT
    window_s: float = FAILURE_WINDOW_S
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, deque[float]] = field(default_factory=dict, init=False)
    _locked_until: dict[str, float] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def retry_after(self, client: str) -> int | None:
        """Seconds left of the client's lockout, or None when it is not locked out."""
        with self._lock:
            until = self._locked_until.get(client)
            left = until - self.clock() if until is not None else 0.0
            if left <= 0:
                self._locked_until.pop(client, None)
                return None
            return max(1, int(left + 0.999))

    def failed(self, client: str) -> bool:
        """Count a failure; True when it locks the client out."""
        now = self.clock()
        with self._lock:
            for c in [c for c, q in self._failures.items() if q[-1] < now - self.window_s]:
                del self._failures[c]
            q = self._failures.setdefault(client, deque())
            q.append(now)
            while q[0] < now - self.window_s:
                q.popleft()
            if len(q) < self.limit:
                return False
            del self._failures[client]
            self._locked_until[client] = now + self.window_s
            return True

    def forget(self) -> None:
        """Drop every count and lockout (an operator's unlock; tests between cases)."""
        with self._lock:
            self._failures.clear()
            self._locked_until.clear()
