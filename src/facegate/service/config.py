"""Installation settings: the data directory, the database, the rule pack, thresholds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from facegate.errors import BadInput
from facegate.images import ImageLimits
from facegate.policy import DEFAULT_PACK, get_pack
from facegate.service import config_file

# Decision thresholds are chosen from a target false-match rate (FMR), not guessed. Per
# engine/model: the cosine-similarity threshold at each target FMR, measured on LFW through
# facegate's own path with `facegate engine calibrate --lfw ../shared/data/lfw` (7,701 images,
# 8,101 genuine and 29,640,749 impostor pairs; BENCHMARKS.md). FNMR at each: 1.4%, 7.5%, 23%,
# 48%.
CALIBRATION: dict[str, dict[float, float]] = {
    "dlib/dlib_face_recognition_resnet_model_v1": {
        1e-2: 0.9071, 1e-3: 0.9258, 1e-4: 0.9405, 1e-5: 0.9524},
}
# The same network run by onnxruntime (engine/dlib_onnx.py): equal to dlib's descriptor to
# float32 rounding (max abs difference 4e-7), so the same thresholds apply.
CALIBRATION["dlib/dlib_face_recognition_resnet_model_v1+onnx"] = dict(
    CALIBRATION["dlib/dlib_face_recognition_resnet_model_v1"])
# YuNet + SFace (engine/sface_engine.py), measured the same way (`FACEGATE_ENGINE=sface
# facegate engine calibrate --lfw ../shared/data/lfw`): every one of the 7,701 images had a
# face; FNMR 0.6%, 1.2%, 2.5%, 5.1%, 14.4%. 1e-6 rests on the 29 highest impostor scores.
CALIBRATION["sface/face_recognition_sface_2021dec_int8bq"] = {
    1e-2: 0.2908, 1e-3: 0.3582, 1e-4: 0.4148, 1e-5: 0.4653, 1e-6: 0.5447}
DEFAULT_FMR = 1e-3  # 1:1 verification; 1:N deployments should set a stricter fmr_target


def threshold_for(engine_key: str, fmr: float) -> float:
    """The calibrated threshold of ``engine_key`` at target false-match rate ``fmr``."""
    table = CALIBRATION.get(engine_key)
    if table is None:
        raise KeyError(f"engine {engine_key} has no calibration: run 'facegate engine "
                       "calibrate' and set FACEGATE_THRESHOLD")
    if fmr not in table:
        raise KeyError(f"no calibrated threshold at FMR {fmr:g} for {engine_key}; calibrated: "
                       + ", ".join(f"{f:g}" for f in sorted(table, reverse=True)))
    return table[fmr]


MAX_EXPECTED_FALSE_MATCHES = 0.01  # per probe of a stranger, at a 1:N deployment


def identify_fmr(table: Mapping[float, float], gallery: int, ceiling: float = DEFAULT_FMR
                 ) -> float:
    """The FMR target of a 1:N search over ``gallery`` subjects, from an engine's calibrated
    ``table``: the largest target, at most ``ceiling``, at which a stranger expects fewer than
    ``MAX_EXPECTED_FALSE_MATCHES`` false matches (gallery x FMR), or else the smallest
    calibrated one (the expected false matches are then reported as they are)."""
    if not table:
        return ceiling
    fits = [f for f in table if f <= ceiling and gallery * f < MAX_EXPECTED_FALSE_MATCHES]
    return max(fits) if fits else min(table)


def _number(env: Mapping[str, str], name: str, default: float | None = None) -> float:
    """The number in variable ``name`` (``default`` when unset), or ``BadInput`` naming it."""
    value = env.get(name)
    if not value and default is not None:
        return default
    try:
        return float(value or "")
    except ValueError:
        raise BadInput(f"{name} must be a number, not {value!r}") from None


def _now() -> datetime:
    return datetime.now(UTC)


INDEX_BACKENDS = ("exact", "ivf", "milvus")


def index_backend(name: str) -> str:
    """A known 1:N index backend's name (FACEGATE_INDEX)."""
    if name not in INDEX_BACKENDS:
        raise BadInput(f"FACEGATE_INDEX must be one of {', '.join(INDEX_BACKENDS)}, "
                       f"not {name!r}")
    return name


@dataclass
class Settings:
    data_dir: Path
    database_url: str | None = None
    rule_pack: str = DEFAULT_PACK
    threshold: float | None = None  # None: calibrated, from the target FMR
    fmr_target: float = DEFAULT_FMR
    engine_config: Path | None = None  # an ONNX model of the operator's (engine/onnx_engine)
    timezone: str = "Asia/Shanghai"  # the day of processing is counted here
    image_limits: ImageLimits = field(default_factory=ImageLimits)
    clock: Callable[[], datetime] = _now
    # Where people reach the public pages (the notice a sign's QR code points to).
    public_url: str = "http://127.0.0.1:8000"
    # The 1:N index backend (index/): exact (NumPy, the default) or ivf (faiss IVF-Flat, for
    # galleries of millions on one machine) or milvus (a Milvus server or cluster, for
    # galleries past one machine); a deployment's manifest may choose its own.
    index_backend: str = "exact"
    # Where the milvus backend's server is (FACEGATE_MILVUS_URI; a token, if the cluster
    # asks for one, in FACEGATE_MILVUS_TOKEN).
    milvus_uri: str = "http://127.0.0.1:19530"
    milvus_token: str | None = None

    @classmethod
    def from_env(cls, data_dir: str | Path | None = None,
                 environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from the environment, over the configuration file that
        ``FACEGATE_CONFIG`` names, if any (``service/config_file.py``)."""
        env = config_file.layered(environ)
        raw = data_dir or env.get("FACEGATE_DATA") or "./facegate-data"
        pack = env.get("FACEGATE_RULE_PACK") or DEFAULT_PACK
        get_pack(pack)
        threshold = env.get("FACEGATE_THRESHOLD")
        zone = env.get("FACEGATE_TIMEZONE") or "Asia/Shanghai"
        try:
            ZoneInfo(zone)
        except (ValueError, ZoneInfoNotFoundError):
            raise BadInput(f"FACEGATE_TIMEZONE {zone!r} is not a known time zone") from None
        return cls(data_dir=Path(raw).expanduser(),
                   database_url=env.get("FACEGATE_DATABASE_URL") or None,
                   rule_pack=pack,
                   threshold=_number(env, "FACEGATE_THRESHOLD") if threshold else None,
                   fmr_target=_number(env, "FACEGATE_FMR", DEFAULT_FMR),
                   engine_config=Path(env["FACEGATE_ENGINE_CONFIG"])
                   if env.get("FACEGATE_ENGINE_CONFIG") else None,
                   timezone=zone,
                   public_url=env.get("FACEGATE_PUBLIC_URL") or "http://127.0.0.1:8000",
                   index_backend=index_backend(env.get("FACEGATE_INDEX") or "exact"),
                   milvus_uri=env.get("FACEGATE_MILVUS_URI") or "http://127.0.0.1:19530",
                   milvus_token=env.get("FACEGATE_MILVUS_TOKEN") or None)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def today(self) -> date:
        return self.clock().astimezone(self.tz).date()
