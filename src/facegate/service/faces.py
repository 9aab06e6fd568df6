"""The face engines as the use cases see them: the installation's and each deployment's,
built on first use, their calibrated thresholds, and faces found in an image decoded in memory
and dropped (``images.no-retention``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from facegate.engine import Engine, Face, builtin_factory, default_engine, engine_factory
from facegate.errors import BadInput, EngineUnavailable, NoFace, PoorQuality, TooManyFaces
from facegate.images import ImageLimits, decode_image, decode_image_scaled
from facegate.policy import Manifest
from facegate.service.config import CALIBRATION, Settings, identify_fmr, threshold_for
from facegate.service.views import face_view


def enrolment_face(engine: Engine, data: bytes, limits: ImageLimits) -> Face:
    """The one fit face of an enrolment image, or the reason it cannot be enrolled: decoded in
    memory and dropped (``images.no-retention``). Pure: runs in worker processes too."""
    image = decode_image(data, limits)
    try:
        faces = engine.analyse(image)
    finally:
        del image
    if not faces:
        raise NoFace("no face was found in the image")
    if len(faces) > 1:
        raise TooManyFaces(f"{len(faces)} faces were found; enrolment needs exactly one")
    face = faces[0]
    if not face.quality.acceptable:
        raise PoorQuality("the face is not good enough to enrol: "
                          + ", ".join(face.quality.issues),
                          details={"issues": list(face.quality.issues)})
    return face


@dataclass(frozen=True)
class Scan:
    """The faces found in an image, largest first, and the upload's frame: ``scale`` takes a
    box from the analysed pixels to the upload's own, ``width`` x ``height``."""

    faces: list[Face]
    scale: float
    width: int
    height: int

    def views(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Box (in the upload's pixels) and quality of each face, up to ``limit``."""
        return [face_view(f, self.scale, self.width, self.height)
                for f in self.faces[:limit]]


# Two detectors' boxes of one face overlap at least this much (intersection over union).
SAME_FACE_IOU = 0.4


def same_face(face: Face, other: Scan) -> Face | None:
    """The face of ``other`` (another engine's scan of the same image) at ``face``'s place."""
    def iou(b: Face) -> float:
        a, c = face.box, b.box
        w = max(0, min(a.right, c.right) - max(a.left, c.left))
        h = max(0, min(a.bottom, c.bottom) - max(a.top, c.top))
        union = a.width * a.height + c.width * c.height - w * h
        return w * h / union if union else 0.0
    best = max(other.faces, key=iou, default=None)
    return best if best is not None and iou(best) >= SAME_FACE_IOU else None


class Recogniser:
    """The engines of an installation and the thresholds they run at. The installation's
    engine (``FACEGATE_ENGINE`` or an operator's ONNX model) makes new deployments' templates;
    a deployment's templates are matched by the engine that made them (``engine_for``), built
    when first needed: a command that matches no face never loads a model."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._others: dict[str, Engine] = {}
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The installation's engine."""
        with self._lock:
            if self._engine is None:
                config = self._settings.engine_config
                self._engine = (engine_factory(config)() if config is not None
                                else default_engine())
            return self._engine

    @property
    def limits(self) -> ImageLimits:
        return self._settings.image_limits

    @property
    def key(self) -> str:
        """The installation engine's ``name/model_version`` (templates of different keys are
        never compared); a built-in engine's is known without loading its models."""
        if self._engine is None and self._settings.engine_config is None:
            made = engine_factory()
            name, version = getattr(made, "name", None), getattr(made, "model_version", None)
            if isinstance(name, str) and isinstance(version, str):
                return f"{name}/{version}"
        return key_of(self.engine)

    def engine_for(self, key: str | None) -> Engine:
        """The engine whose templates carry ``key`` (None: the installation's)."""
        if key is None or key == self.key:
            return self.engine
        with self._lock:
            if key not in self._others:
                factory = builtin_factory(key)
                if factory is None:
                    raise EngineUnavailable(
                        f"templates of engine {key} need that engine, which this installation "
                        "does not have; configure it or migrate the deployment",
                        details={"engine": key})
                self._others[key] = factory()
            return self._others[key]

    def factory(self, key: str | None = None) -> Callable[[], Engine]:
        """How a worker process builds the engine of ``key`` (picklable for "spawn")."""
        if key is not None and key != self.key:
            factory = builtin_factory(key)
            if factory is None:
                raise EngineUnavailable(f"engine {key} is not available here",
                                        details={"engine": key})
            return factory
        if self._settings.engine_config is not None:
            return engine_factory(self._settings.engine_config)
        return type(self.engine)

    def table(self, key: str | None = None) -> dict[float, float]:
        """The engine's calibrated thresholds by target FMR: its own (a configured ONNX model
        carries one) or the installation's table."""
        engine_key = key or self.key
        own: dict[float, float] = {}
        if engine_key == self.key and self._settings.engine_config is not None:
            own = dict(getattr(self.engine, "thresholds", {}) or {})
        return own or dict(CALIBRATION.get(engine_key, {}))

    def _threshold_for(self, fmr: float, key: str | None = None) -> float:
        table = self.table(key)
        if fmr in table:
            return table[fmr]
        return threshold_for(key or self.key, fmr)

    @property
    def threshold(self) -> float:
        """The installation engine's 1:1 threshold."""
        if self._settings.threshold is not None:
            return self._settings.threshold
        try:
            return self._threshold_for(self._settings.fmr_target)
        except KeyError as e:
            raise BadInput(str(e.args[0])) from None

    def threshold_at(self, manifest: Manifest, key: str | None = None,
                     gallery: int | None = None) -> tuple[float, float]:
        """(threshold, FMR target) at a deployment, for the engine of ``key``: its own
        ``fmr_target`` when stricter than the installation's; for a 1:N search over
        ``gallery`` subjects without one, the FMR at which a stranger expects fewer than
        0.01 false matches (``identify_fmr``)."""
        s = self._settings
        if s.threshold is not None:
            return s.threshold, s.fmr_target
        fmr = min(s.fmr_target, manifest.fmr_target or s.fmr_target)
        try:
            if manifest.fmr_target is not None:  # must be a calibrated target
                self._threshold_for(manifest.fmr_target, key)
            elif gallery is not None:
                fmr = identify_fmr(self.table(key), gallery, fmr)
            return self._threshold_for(fmr, key), fmr
        except KeyError as e:
            raise BadInput(str(e.args[0])) from None

    def scan(self, data: bytes, *, embed: bool = True, engine: Engine | None = None) -> Scan:
        """Decode in memory, detect (and embed) every face, largest first; the pixels are
        dropped on return."""
        return self.scans(data, [engine or self.engine], embed=embed)[0]

    def scans(self, data: bytes, engines: Sequence[Engine], *, embed: bool = True
              ) -> list[Scan]:
        """One scan per engine of one image, decoded once (a deployment moving to another
        engine is matched by both)."""
        decoded = decode_image_scaled(data, self._settings.image_limits)
        try:
            found = [engine.analyse(decoded.array) if embed else engine.detect(decoded.array)
                     for engine in engines]
        finally:
            frame = (decoded.scale, decoded.width, decoded.height)
            del decoded
        return [Scan(sorted(f, key=lambda x: -x.box.width * x.box.height), *frame)
                for f in found]

    def probe(self, data: bytes, engines: Sequence[Engine] | None = None) -> list[Scan]:
        """Every face of a probe image, largest first, each with its template, per engine
        (default: the installation's); no face is an error."""
        scans = self.scans(data, engines or [self.engine])
        if not scans[0].faces:
            raise NoFace("no face was found in the image")
        return scans

    def enrolment_face(self, data: bytes, engine: Engine | None = None) -> Face:
        return enrolment_face(engine or self.engine, data, self._settings.image_limits)


def key_of(engine: Engine) -> str:
    """The key of an engine's templates: ``name/model_version``."""
    return f"{engine.name}/{engine.model_version}"
