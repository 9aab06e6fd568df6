"""Errors shared by every layer. Interfaces map them to HTTP statuses and CLI exit codes."""

from __future__ import annotations

from typing import Any


class FacegateError(Exception):
    """Base class. ``code`` is a stable machine-readable name."""

    code = "error"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str, *, rules: list[str] | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.rules = list(rules or [])
        self.details = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.rules:
            body["rules"] = self.rules
        if self.details:
            body.update(self.details)
        return body


class BadInput(FacegateError):
    """The request is malformed or its content cannot be used (HTTP 422, exit 2)."""

    code = "bad_input"
    http_status = 422
    exit_code = 2


class ImageTooLarge(BadInput):
    """Too many bytes or pixels (HTTP 413)."""

    code = "image_too_large"
    http_status = 413


class UnsupportedImage(BadInput):
    """Not an image, or a format that is not accepted (HTTP 415)."""

    code = "unsupported_image"
    http_status = 415


class InvalidImage(BadInput):
    """An accepted format that cannot be decoded (truncated, corrupt)."""

    code = "invalid_image"


class ImageTooSmall(BadInput):
    """Fewer pixels on a side than a face needs; refused from the header (HTTP 422)."""

    code = "image_too_small"


class ExtremeAspectRatio(BadInput):
    """Far longer than wide (or the reverse), as no photo of a face is; refused from the
    header (HTTP 422)."""

    code = "extreme_aspect_ratio"


class NoFace(BadInput):
    code = "no_face"


class TooManyFaces(BadInput):
    code = "too_many_faces"


class SeveralFaces(TooManyFaces):
    """A 1:1 probe shows a second face about as large as the first: whose claim is checked
    would be a guess (one person at a time)."""

    code = "several_faces"


class PoorQuality(BadInput):
    code = "poor_quality"


class NotFound(FacegateError):
    code = "not_found"
    http_status = 404
    exit_code = 2


class Conflict(FacegateError):
    code = "conflict"
    http_status = 409
    exit_code = 2


class IdentityMismatch(Conflict):
    """A new template does not match the subject's templates already held: the photo shows
    someone else, and enrolling it would let that person pass as the subject."""

    code = "identity_mismatch"


class EngineUnavailable(Conflict):
    """A deployment's templates come from an engine this installation cannot run."""

    code = "engine_unavailable"


class Forbidden(FacegateError):
    """The caller's role does not allow the operation (not a rule refusal)."""

    code = "forbidden"
    http_status = 403
    exit_code = 3


class Refused(FacegateError):
    """The policy gate refused the operation; ``rules`` names the rule ids that refused."""

    code = "refused"
    http_status = 403
    exit_code = 3


class ModelIntegrityError(FacegateError):
    """A face model file is missing, of another version, or not the file it should be: the
    engine refuses to start (HTTP 503 until the installation is repaired)."""

    code = "model_integrity"
    http_status = 503
    exit_code = 1


class IndexUnavailable(FacegateError):
    """The 1:N index's server (a Milvus cluster) cannot be reached or refused the request: 1:N
    search is unavailable until it is back (HTTP 503); nothing is matched without it."""

    code = "index_unavailable"
    http_status = 503
    exit_code = 1


class KeyShredded(FacegateError):
    """A subject's key is gone: its ciphertexts can no longer be decrypted."""

    code = "key_shredded"
    http_status = 410
    exit_code = 1


class TooManyRequests(FacegateError):
    """Over a rate limit; try again later (HTTP 429, ``security.controls``)."""

    code = "too_many_requests"
    http_status = 429
