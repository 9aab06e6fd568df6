"""What every list and every operation under ``/v1`` shares: cursor pagination and the refusal
of query parameters an operation does not declare.

A list answers at most ``limit`` items (default 50, at most 500) in its usual body; when more
follow, the ``X-Next-Cursor`` response header carries an opaque cursor, and the same request
with ``cursor=<it>`` answers the next page. The last page has no ``X-Next-Cursor``. A cursor
names the list it came from and the position after its last item (keyset, not an offset),
so items added meanwhile neither repeat nor shift a page."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from facegate.api.deps import Who
from facegate.errors import BadInput

T = TypeVar("T")
Key = tuple[str | int, ...]

LIMIT_DEFAULT = 50
LIMIT_MAX = 500
CURSOR_MAX = 600
NEXT_CURSOR = "X-Next-Cursor"

# How a paginated list's 200 declares its header in the OpenAPI document.
PAGED: dict[int | str, dict[str, Any]] = {200: {
    "description": "One page of the list, in its usual order.",
    "headers": {NEXT_CURSOR: {
        "description": "Present when more items follow: pass it as ``cursor`` to get the "
                       "next page. Absent on the last page.",
        "schema": {"type": "string"}}}}}


def _bad(problem: str) -> BadInput:
    return BadInput(problem, details={"problems": [problem], "rules": []})


@dataclass(frozen=True)
class Page:
    """The page a request asks for: ``after`` is the position its cursor names (None: the
    first page)."""

    limit: int
    cursor: str | None

    def after(self, name: str) -> Key | None:
        """The position the cursor names, checked to come from the list ``name``."""
        if self.cursor is None:
            return None
        try:
            raw = json.loads(base64.urlsafe_b64decode(self.cursor + "=" * (-len(self.cursor) % 4)))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raw = None
        if (not isinstance(raw, list) or len(raw) != 2 or raw[0] != name
                or not isinstance(raw[1], list) or not raw[1]
                or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in raw[1])):
            raise _bad("query.cursor: not a cursor of this list; pass the X-Next-Cursor "
                       "header of the previous page as it was given")
        return tuple(raw[1])


def encode(name: str, key: Key) -> str:
    """The opaque cursor of the position ``key`` in the list ``name``."""
    raw = json.dumps([name, list(key)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _page(limit: Annotated[int, Query(ge=1, le=LIMIT_MAX, description=(
              f"Items per page (default {LIMIT_DEFAULT}, at most {LIMIT_MAX})."))] = LIMIT_DEFAULT,
          cursor: Annotated[str | None, Query(min_length=1, max_length=CURSOR_MAX, description=(
              "The ``X-Next-Cursor`` header of the previous page; omit for the first."
          ))] = None) -> Page:
    return Page(limit, cursor)


Paging = Annotated[Page, Depends(_page)]


def paginate(items: Sequence[T], key: Callable[[T], Key], page: Page, response: Response,
             name: str, descending: bool = False) -> list[T]:
    """One page of ``items`` ordered by ``key`` (unique per item), after the cursor's
    position; sets ``X-Next-Cursor`` when more follow. ``items`` may already start after
    the position and hold one more than a page (a store's keyset query)."""
    after = page.after(name)
    ordered = sorted(items, key=key, reverse=descending)
    if after is not None:
        try:
            ordered = [i for i in ordered if (key(i) < after if descending else key(i) > after)]
        except TypeError:
            raise _bad("query.cursor: not a cursor of this list") from None
    out = ordered[:page.limit]
    if len(ordered) > page.limit:
        response.headers[NEXT_CURSOR] = encode(name, key(out[-1]))
    return out


def paginate_in_order(items: Sequence[T], ident: Callable[[T], str], page: Page,
                      response: Response, name: str) -> list[T]:
    """One page of ``items`` in the order given (a use case's own order), after the item
    the cursor names by its id; sets ``X-Next-Cursor`` when more follow. A cursor whose item
    is no longer listed is refused (422): the list is read again from its start."""
    after = page.after(name)
    start = 0
    if after is not None:
        ids = [ident(i) for i in items]
        if after[0] not in ids:
            raise _bad("query.cursor: the item this cursor follows is no longer listed; "
                       "start again without a cursor")
        start = ids.index(str(after[0])) + 1
    out = list(items[start:start + page.limit])
    if start + page.limit < len(items):
        response.headers[NEXT_CURSOR] = encode(name, (ident(out[-1]),))
    return out


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def known_query(request: Request, who: Who) -> None:
    """Refuse (422 ``bad_input``) a query parameter the operation does not declare: a
    misspelt ``limit`` or filter is an error, never silently ignored. The key is checked
    first (``who``, the same dependency the route's own use): without one it is 401."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - _query_names(route.dependant))
    if unknown:
        problems = [f"query.{name}: not a parameter of this operation" for name in unknown]
        raise BadInput("; ".join(problems), details={"problems": problems, "rules": []})


# Every router under /v1 depends on this.
KNOWN_QUERY = [Depends(known_query)]
