"""Error bodies as the OpenAPI document describes them: one shape for every refusal and failure
(``error``, ``message`` in English and ``message_zh`` in Chinese, ``rules``, and details of
the error), and bad input (422) with its ``problems``.

``COMMON`` lists the statuses any operation may answer: no valid key (401), the caller's
address locked out or over a rate limit (429), a role or rule refusal (403), something
unknown or in conflict (404, 409, 410), bad input (422) and an unexpected error (500).
``describe_errors`` adds what depends on the operation: 413 where a body is read, 400 where
it is parsed, 415 and 503 where images are uploaded."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field


class ErrorOut(BaseModel):
    """An error: a stable machine-readable name, a message people read in English and in
    Chinese, the rule ids that decided (absent or empty where none did), and details of the
    error where it has any (``decision`` for a rule refusal, ``retry_after_s`` over a rate
    limit, ...)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="A stable name: refused, forbidden, not_found, ...")
    message: str = Field(description="What went wrong, in English.")
    message_zh: str = Field(description="The same, in Simplified Chinese.")
    rules: list[str] = Field(default_factory=list,
                             description="The rule ids behind the refusal, if any.")


class BadInputOut(ErrorOut):
    """Bad input (``bad_input``, or a name for what is wrong with an image). A request that
    does not match its schema lists each problem as ``location: message``."""

    problems: list[str] = Field(default_factory=list,
                                description="Each problem with the request, where it was "
                                            "checked against the schema.")


def _error(description: str, model: type[BaseModel] = ErrorOut) -> dict[str, Any]:
    return {"model": model, "description": description}


# Statuses any operation under /v1 may answer.
COMMON: dict[int | str, dict[str, Any]] = {
    401: _error("No valid API key (``X-API-Key``); ``security.controls``."),
    403: _error("The caller's role may not do this (``security.controls``), or the policy "
                "gate refused it: ``rules`` names the rules."),
    404: _error("Something the request names does not exist."),
    409: _error("In conflict with what is held (a duplicate, another person's face, an "
                "engine this installation cannot run)."),
    410: _error("The subject's key has been destroyed: what it sealed can no longer be read."),
    422: _error("Bad input: the request does not match its schema, or its content cannot be "
                "used.", BadInputOut),
    429: _error("Too many failed authentications from this address (with ``Retry-After``), "
                "or too many requests of a kind."),
    500: _error("An unexpected error; it was logged."),
}

# Statuses that depend on the operation: (status, description, schema name).
TOO_LARGE = ("413", "The request body or an image is larger than the limit.", "ErrorOut")
UNREADABLE = ("400", "The body could not be parsed as its content type.", "ErrorOut")
IMAGES = (
    ("415", "Not an image, or a format that is not accepted.", "BadInputOut"),
    ("503", "The face models cannot be used (a model file failed its check).", "ErrorOut"),
)


def _response(description: str, schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _add_route_statuses(doc: dict[str, Any]) -> None:
    """413 on every operation that reads a body (``BodyLimit``), 400 on those that parse one,
    415 and 503 on those that take images."""
    for path, operations in doc.get("paths", {}).items():
        if not path.startswith("/v1/"):
            continue
        for method, op in operations.items():
            extra = []
            if method not in ("get", "head", "options"):
                extra.append(TOO_LARGE)
            if "requestBody" in op:
                extra.append(UNREADABLE)
            if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
                extra.extend(IMAGES)
            responses = op.setdefault("responses", {})
            for status, description, schema in extra:
                responses.setdefault(status, _response(description, schema))
            op["responses"] = dict(sorted(responses.items()))


def describe_errors(app: FastAPI) -> None:
    """Make the app's OpenAPI document also declare the error statuses that depend on the
    operation (``COMMON`` is given to the app itself)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_route_statuses(build())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
