"""What the client raises. Every failure is an exception, never a value to check:

* ``ApiError``: the service answered with an error status. It carries the ``status``, the
  stable error ``code`` (``refused``, ``not_found``, ``identity_mismatch``, ...), the
  ``message``, ``message_zh`` where the service sends one, the ``rules`` that decided, and the
  whole ``body``. One subclass per family of statuses: ``BadRequest`` (400, 413, 415, 422),
  ``Unauthorised`` (401), ``Refused`` (403: the gate, or the caller's role),
  ``NotFound`` (404), ``Conflict`` (409), ``Gone`` (410), ``TooManyRequests`` (429, with
  ``retry_after``), ``ServerError`` (5xx; ``Unavailable`` for 503).
* ``NoAnswer``: no HTTP answer came (the connection failed, or the timeout passed); the
  underlying ``httpx`` error is its ``__cause__``.
* ``InvalidResponse``: an answer came but not the one the operation promises (not JSON, not
  the expected shape).

All three derive from ``ClientError``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class ClientError(Exception):
    """Base of every error the facegate client raises."""


class NoAnswer(ClientError):
    """The request got no HTTP answer: the service could not be reached, or did not answer
    within the timeout. The ``httpx`` error is the ``__cause__``."""


class InvalidResponse(ClientError):
    """The service answered, but not with what the operation returns."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ApiError(ClientError):
    """The service answered with an error status (4xx or 5xx)."""

    def __init__(self, status: int, code: str, message: str, *,
                 rules: list[str] | None = None, message_zh: str | None = None,
                 body: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.message_zh = message_zh
        self.rules: list[str] = list(rules or [])
        self.body: dict[str, Any] = dict(body or {})
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}


class BadRequest(ApiError):
    """The request cannot be used (400 unparseable, 413 too large, 415 not an accepted image,
    422 bad input). ``problems`` lists each schema problem of a 422, as ``location: message``;
    a manifest missing what a rule needs also names ``rules``."""

    @property
    def problems(self) -> list[str]:
        found = self.body.get("problems")
        return [str(p) for p in found] if isinstance(found, list) else []


class Unauthorised(ApiError):
    """401: no valid API key came with the request."""


class Refused(ApiError):
    """403: the policy gate refused the operation, or the caller's role may not do it
    (``security.controls``); ``rules`` names the rule ids, and ``decision`` (when sent) is
    the gate's decision rule by rule."""

    @property
    def decision(self) -> dict[str, Any] | None:
        found = self.body.get("decision")
        return found if isinstance(found, dict) else None


class NotFound(ApiError):
    """404: something the request names does not exist."""


class Conflict(ApiError):
    """409: in conflict with what is held (``identity_mismatch``, ``engine_unavailable``, a
    notice or sign without a public address, a deployment that ended)."""


class Gone(ApiError):
    """410: the subject's key was destroyed; what it sealed can no longer be read."""


class TooManyRequests(ApiError):
    """429: too many failed authentications from this address, or too many requests of a
    kind. ``retry_after`` is the number of seconds to wait, when the service says."""

    @property
    def retry_after(self) -> int | None:
        header = self.headers.get("retry-after", "")
        if header.isdigit():
            return int(header)
        found = self.body.get("retry_after_s")
        return found if isinstance(found, int) and not isinstance(found, bool) else None


class ServerError(ApiError):
    """5xx: the service failed; the error was logged there."""


class Unavailable(ServerError):
    """503: a part the operation needs cannot be used now (the face models failed their
    check, the 1:N index server is unreachable)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorised, 403: Refused, 404: NotFound, 409: Conflict,
    410: Gone, 413: BadRequest, 415: BadRequest, 422: BadRequest, 429: TooManyRequests,
    503: Unavailable,
}


def error_class(status: int) -> type[ApiError]:
    """The exception class for an error answer's status."""
    found = _BY_STATUS.get(status)
    if found is not None:
        return found
    if status >= 500:
        return ServerError
    if status == 400 or 405 <= status < 500:
        return BadRequest
    return ApiError


def error_from(response: httpx.Response) -> ApiError:
    """The exception for an error answer, from its JSON body (``error``, ``message``,
    ``message_zh``, ``rules``) or, for a body that is not the service's (a proxy's page),
    from its status and text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:500] or response.reason_phrase
        return error_class(response.status_code)(
            response.status_code, "http_error", text, headers=response.headers)
    code = str(body.get("error") or "http_error")
    rules = body.get("rules")
    zh = body.get("message_zh")
    return error_class(response.status_code)(
        response.status_code, code, str(body.get("message") or response.reason_phrase),
        rules=[str(r) for r in rules] if isinstance(rules, list) else [],
        message_zh=zh if isinstance(zh, str) else None, body=body, headers=response.headers)
