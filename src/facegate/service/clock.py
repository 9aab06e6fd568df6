"""The service's clock: the instant of processing, and its day where the installation is
(the day a person's age, a retention or a working-day count is reckoned on)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Clock:
    source: Callable[[], datetime]
    tz: ZoneInfo

    def now(self) -> datetime:
        return self.source()

    def today(self) -> date:
        return self.now().astimezone(self.tz).date()
