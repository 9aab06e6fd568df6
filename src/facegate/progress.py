"""A one-line progress bar for long work (batch enrolment, benchmarks): count, rate, ETA."""

from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress bar with rate and ETA on stderr (quiet when not a terminal and
    ``force`` is off)."""

    def __init__(self, total: int, label: str, force: bool = False) -> None:
        self.total, self.label, self.done = total, label, 0
        self.start = time.monotonic()
        self.show = force or sys.stderr.isatty()
        self._last = 0.0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.show and (now - self._last > 0.2 or self.done == self.total):
            self._last = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            filled = int(30 * self.done / max(self.total, 1))
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] "
                             f"{self.done}/{self.total} {rate:.1f}/s ETA {eta:.0f}s ")
            if self.done == self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()
