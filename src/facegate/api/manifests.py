"""A deployment manifest as the request body, in JSON or in YAML (``application/yaml``,
``text/yaml``): the file an operator keeps can be posted as it is. Dates and times YAML reads
become ISO strings, as they would be written in JSON; aliases, binary values and numbers
that are not finite are refused (422), and a body of another type is 415."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Annotated, Any

import yaml
from fastapi import Depends, Request

from facegate.errors import BadInput, FacegateError

JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
_OBJECT = {"type": "object", "additionalProperties": True,
           "description": "A deployment manifest (see examples/*/deployment.yaml)."}

# The request body as the OpenAPI document describes it, on both manifest operations.
MANIFEST_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": _OBJECT},
    "application/yaml": {"schema": _OBJECT},
    "text/yaml": {"schema": _OBJECT}}}}

UNSUPPORTED: dict[int | str, dict[str, Any]] = {415: {
    "description": "The body is neither JSON nor YAML.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}}


class UnsupportedMediaType(FacegateError):
    """A body in a content type the operation does not take (HTTP 415)."""

    code = "unsupported_media_type"
    http_status = 415


def _bad(problem: str) -> BadInput:
    return BadInput(problem, details={"problems": [problem], "rules": []})


class _Loader(yaml.SafeLoader):
    """Safe YAML without aliases: an alias can make a small body expand without bound."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise _bad("body: YAML aliases (*name) are not accepted in a manifest")
        return super().compose_node(parent, index)


def plain(value: Any, where: str = "body") -> Any:
    """``value`` as JSON would hold it: dates and times as ISO strings; anything JSON cannot
    hold is refused."""
    if isinstance(value, dict):
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise _bad(f"{where}: a number must be finite")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise _bad(f"{where}: a {type(value).__name__} value cannot be part of a manifest")


def parse_manifest(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The manifest of a request body of ``content_type`` (JSON when none is given)."""
    kind = (content_type or "application/json").split(";")[0].strip().lower()
    if not raw.strip():
        raise _bad("body: Field required")
    if kind in JSON_TYPES or kind.endswith("+json"):
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise _bad(f"body: not valid JSON ({e})") from None
    elif kind in YAML_TYPES:
        try:
            value = yaml.load(raw, Loader=_Loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as e:
            raise _bad(f"body: not valid YAML ({str(e).splitlines()[0]})") from None
    else:
        raise UnsupportedMediaType(
            f"a manifest is posted as JSON (application/json) or YAML (application/yaml, "
            f"text/yaml), not {kind}", details={"rules": []})
    if not isinstance(value, dict):
        raise _bad("body: a manifest is a mapping of fields")
    out: dict[str, Any] = plain(value)
    return out


async def _manifest(request: Request) -> dict[str, Any]:
    return parse_manifest(await request.body(), request.headers.get("content-type"))


Manifest = Annotated[dict[str, Any], Depends(_manifest)]
