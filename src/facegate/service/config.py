"""Installation settings: the data directory, the database, the rule pack, thresholds."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from facegate.images import ImageLimits
from facegate.policy import DEFAULT_PACK, get_pack

# Cosine-similarity decision thresholds per engine/model, for L2-normalised templates. dlib's
# descriptor: on LFW View 2 fold 1 (600 pairs), 0.92 gave no false match in 300 impostor pairs
# at a 5.7% false non-match rate; the best-accuracy threshold there is 0.904 (98.7%).
# See BENCHMARKS.md; set FACEGATE_THRESHOLD for a stricter target.
DEFAULT_THRESHOLDS = {"dlib/dlib_face_recognition_resnet_model_v1": 0.92}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Settings:
    data_dir: Path
    database_url: str | None = None
    rule_pack: str = DEFAULT_PACK
    threshold: float | None = None  # None: the engine's default
    timezone: str = "Asia/Shanghai"  # the day of processing is counted here
    image_limits: ImageLimits = field(default_factory=ImageLimits)
    clock: Callable[[], datetime] = _now
    # Where people reach the public pages (the notice a sign's QR code points to).
    public_url: str = "http://127.0.0.1:8000"

    @classmethod
    def from_env(cls, data_dir: str | Path | None = None) -> Settings:
        raw = data_dir or os.environ.get("FACEGATE_DATA") or "./facegate-data"
        pack = os.environ.get("FACEGATE_RULE_PACK") or DEFAULT_PACK
        get_pack(pack)
        threshold = os.environ.get("FACEGATE_THRESHOLD")
        return cls(data_dir=Path(raw).expanduser(),
                   database_url=os.environ.get("FACEGATE_DATABASE_URL") or None,
                   rule_pack=pack, threshold=float(threshold) if threshold else None,
                   public_url=os.environ.get("FACEGATE_PUBLIC_URL") or "http://127.0.0.1:8000")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def today(self) -> date:
        return self.clock().astimezone(self.tz).date()
