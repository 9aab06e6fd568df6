"""Times as people read them: stored in UTC, shown in the installation's time zone with its
offset (``2026-12-02T04:00:00+08:00`` in the API, ``2026-12-02 04:00 +08:00`` on a page), so
that an event falls on the same day wherever it is shown."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

# The installation's zone unless its settings name another (``Settings.timezone``).
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


def instant(value: datetime | str) -> datetime:
    """``value`` as an aware datetime; a naive one (as SQLite returns them) is UTC."""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def iso_local(value: datetime | str | None, tz: tzinfo = DEFAULT_ZONE) -> str | None:
    """ISO 8601 in ``tz`` with its offset, to the second (None stays None)."""
    if value is None or value == "":
        return None
    return instant(value).astimezone(tz).isoformat(timespec="seconds")


def shown(value: datetime | str | None, tz: tzinfo = DEFAULT_ZONE, *,
          seconds: bool = False) -> str:
    """``2026-12-02 04:00 +08:00``: a time for a page or a document, in ``tz`` with its
    offset ("" for none)."""
    if value is None or value == "":
        return ""
    local = instant(value).astimezone(tz)
    offset = local.strftime("%z")
    return (local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
            + f" {offset[:3]}:{offset[3:]}")
