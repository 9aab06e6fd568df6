"""The face engine as the use cases see it: built on first use, its calibrated thresholds,
and faces found in an image decoded in memory and dropped (``images.no-retention``)."""

from __future__ import annotations

from collections.abc import Callable

from facegate.engine import Engine, Face, default_engine, engine_factory
from facegate.errors import BadInput, NoFace, PoorQuality, TooManyFaces
from facegate.images import ImageLimits, decode_image
from facegate.policy import Manifest
from facegate.service.config import Settings, threshold_for


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


class Recogniser:
    """The installation's engine (built when first needed: a command that matches no face
    never loads a model) and the thresholds it is run at."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self._settings = settings
        self._engine = engine

    @property
    def engine(self) -> Engine:
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
        """``name/model_version``: templates of different keys are never compared."""
        return f"{self.engine.name}/{self.engine.model_version}"

    def factory(self) -> Callable[[], Engine]:
        """How a worker process builds this engine (picklable for "spawn")."""
        if self._settings.engine_config is not None:
            return engine_factory(self._settings.engine_config)
        return type(self.engine)

    def _threshold_for(self, fmr: float) -> float:
        """The calibrated threshold at ``fmr``: the engine's own table (a configured ONNX
        model carries one) or the installation's."""
        own: dict[float, float] = getattr(self.engine, "thresholds", {}) or {}
        if fmr in own:
            return own[fmr]
        return threshold_for(self.key, fmr)

    @property
    def threshold(self) -> float:
        if self._settings.threshold is not None:
            return self._settings.threshold
        try:
            return self._threshold_for(self._settings.fmr_target)
        except KeyError as e:
            raise BadInput(str(e.args[0])) from None

    def threshold_at(self, manifest: Manifest) -> tuple[float, float]:
        """(threshold, FMR target) at a deployment: its own ``fmr_target`` when stricter than
        the installation's (a large 1:N gallery needs one)."""
        s = self._settings
        if s.threshold is not None:
            return s.threshold, s.fmr_target
        fmr = min(s.fmr_target, manifest.fmr_target or s.fmr_target)
        try:
            if manifest.fmr_target is not None:  # must be a calibrated target
                self._threshold_for(manifest.fmr_target)
            return self._threshold_for(fmr), fmr
        except KeyError as e:
            raise BadInput(str(e.args[0])) from None

    def faces(self, data: bytes) -> list[Face]:
        """Decode in memory, detect and embed; the pixels are dropped on return."""
        image = decode_image(data, self._settings.image_limits)
        try:
            return self.engine.analyse(image)
        finally:
            del image

    def probe(self, data: bytes) -> tuple[Face, int]:
        """The largest face of a probe image, and how many faces it holds."""
        faces = self.faces(data)
        if not faces:
            raise NoFace("no face was found in the image")
        return faces[0], len(faces)

    def enrolment_face(self, data: bytes) -> Face:
        return enrolment_face(self.engine, data, self._settings.image_limits)
