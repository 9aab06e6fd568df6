"""How an operation travels, whichever client sends it: a ``Call`` (method, path, query, body)
with the function that reads its answer; ``endpoint``, which records each operation's method
and path in ``ENDPOINTS`` (the table the client is checked against the service's OpenAPI
document with); images from bytes, paths or file objects; pages and documents."""

from __future__ import annotations

import mimetypes
import os
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Concatenate, Generic, ParamSpec, TypeAlias, TypeVar
from urllib.parse import quote

import httpx

from facegate import __version__
from facegate.client.errors import InvalidResponse, error_from

T = TypeVar("T")
P = ParamSpec("P")

# An image: its bytes, a path to it, or a binary file object open for reading.
Image: TypeAlias = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]
Scalar: TypeAlias = str | int | float | bool | None
Form: TypeAlias = dict[str, str | list[str]]
Part: TypeAlias = tuple[str, tuple[str, bytes, str]]

# The response header of a paged list that names the next page.
NEXT_CURSOR = "X-Next-Cursor"


@dataclass(frozen=True)
class Endpoint:
    """An operation of the service: ``method`` and ``path`` as the OpenAPI document writes
    them, ``name``, the client's method for it (``deployments.apply`` is
    ``client.deployments.apply``; ``health`` is ``client.health``), and ``build``, the
    function that makes its ``Call`` (its return annotation names the answer's type)."""

    method: str
    path: str
    name: str
    build: Callable[..., Any] = field(compare=False, repr=False)


# Every operation the client sends, in the order they are defined.
ENDPOINTS: list[Endpoint] = []


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request, ready to send, and how its answer is read. ``answers`` are error
    statuses that ``read`` takes as an answer rather than an error (readiness's 503)."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: Form = field(default_factory=dict)
    json: Any = None
    data: Form | None = None
    files: list[Part] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    answers: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``next_cursor`` asks for the next one (None on the last page,
    and on every answer of a list the service does not page)."""

    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Document:
    """A generated document: a PDF, or HTML. ``language_fallbacks`` names the manifest texts
    shown in the other language, for want of the document's own."""

    content: bytes
    media_type: str
    filename: str | None = None
    language_fallbacks: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The content as text (an HTML document)."""
        return self.content.decode("utf-8")

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the content to ``path``; returns it."""
        target = Path(path)
        target.write_bytes(self.content)
        return target


class Route:
    """An endpoint's requests: the path filled with quoted parameters, None left out."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def call(self, read: Callable[[httpx.Response], T], *,
             at: Mapping[str, str | int] | None = None,
             params: Mapping[str, Scalar] | None = None, json: Any = None,
             data: Mapping[str, Scalar | list[str]] | None = None, files: list[Part] | None = None,
             content: tuple[bytes, str] | None = None,
             answers: frozenset[int] = frozenset()) -> Call[T]:
        filled = {}
        for name, value in (at or {}).items():
            if str(value) in ("", ".", ".."):  # would name another path
                raise ValueError(f"{self.endpoint.name}: {name} must not be {value!r}")
            filled[name] = quote(str(value), safe="")
        return Call(self.endpoint.method, self.endpoint.path.format(**filled), read,
                    params=_form(params), json=json,
                    data=_form(data) if data is not None or files else None,
                    files=files, content=content[0] if content else None,
                    headers={"Content-Type": content[1]} if content else {},
                    answers=answers)


def _form(values: Mapping[str, Scalar | list[str]] | None) -> Form:
    """Query or form values as the service reads them; None is left out, a list repeats
    its field."""
    out: Form = {}
    for name, value in (values or {}).items():
        if value is None:
            continue
        if isinstance(value, list):
            out[name] = value
        else:
            out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def endpoint(method: str, path: str, name: str
             ) -> Callable[[Callable[Concatenate[Route, P], T]], Callable[P, T]]:
    """Record an operation in ``ENDPOINTS``; the decorated function builds its ``Call`` from
    the ``Route`` of that very method and path."""

    def wrap(build: Callable[Concatenate[Route, P], T]) -> Callable[P, T]:
        route = Route(Endpoint(method, path, name, build))
        ENDPOINTS.append(route.endpoint)

        def bound(*args: P.args, **kwargs: P.kwargs) -> T:
            return build(route, *args, **kwargs)

        bound.__name__ = build.__name__
        bound.__doc__ = build.__doc__
        return bound

    return wrap


# ---- reading answers --------------------------------------------------------------------------


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise InvalidResponse(f"{response.request.method} {response.request.url.path}: "
                              "the answer is not JSON", response.status_code) from exc


def read_object(response: httpx.Response) -> Any:
    """A JSON object body."""
    body = _body(response)
    if not isinstance(body, dict):
        raise InvalidResponse(f"{response.request.url.path}: expected a JSON object",
                              response.status_code)
    return body


def read_page(response: httpx.Response) -> Page[Any]:
    """One page of a list: the JSON array of its items, and the ``X-Next-Cursor`` header
    when more follow (absent on the last page, and where the list is not paged)."""
    body = _body(response)
    if not isinstance(body, list):
        raise InvalidResponse(f"{response.request.url.path}: expected a JSON array",
                              response.status_code)
    return Page(body, response.headers.get(NEXT_CURSOR) or None)


def read_ready(response: httpx.Response) -> Any:
    """Readiness: 200 or 503 with the readiness body; any other 503 is an error."""
    body = _body(response) if response.status_code == 200 else _maybe_json(response)
    if not isinstance(body, dict) or "ready" not in body:
        if response.is_error:
            raise error_from(response)
        raise InvalidResponse("/readyz: expected the readiness body", response.status_code)
    return body


def _maybe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def read_document(response: httpx.Response) -> Document:
    """A PDF or HTML document with its file name and language fallbacks."""
    media = response.headers.get("content-type", "application/octet-stream")
    disposition = response.headers.get("content-disposition", "")
    name = disposition.split("filename=", 1)[1].strip('"') if "filename=" in disposition \
        else None
    fallbacks = response.headers.get("x-facegate-language-fallback", "")
    return Document(response.content, media.split(";")[0].strip(), name,
                    [f for f in fallbacks.split(",") if f])


def read_bytes(response: httpx.Response) -> bytes:
    return response.content


# ---- the connection -------------------------------------------------------------------------

DEFAULT_TIMEOUT = 60.0  # seconds; enrolling several photos on a CPU takes a while


def tls(verify: bool | str | os.PathLike[str] | ssl.SSLContext) -> bool | ssl.SSLContext:
    """``verify`` as ``httpx`` takes it: a CA bundle's path becomes an SSL context."""
    if isinstance(verify, bool | ssl.SSLContext):
        return verify
    return ssl.create_default_context(cafile=os.fspath(verify))


def http_options(api_key: str | None, headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers every request carries: the key, and who is asking."""
    out = {"User-Agent": f"facegate-client/{__version__}", **(headers or {})}
    if api_key is not None:
        out["X-API-Key"] = api_key
    return out



# ---- images -----------------------------------------------------------------------------------


def images_of(images: Image | Sequence[Image]) -> list[Image]:
    """One image or several, as a list."""
    single = bytes | bytearray | memoryview | str
    if isinstance(images, Sequence) and not isinstance(images, single):
        return list(images)
    return [images]


def image_part(field_name: str, image: Image, position: int = 0) -> Part:
    """A multipart file part for an image given as bytes, a path or a binary file object."""
    if isinstance(image, bytes | bytearray | memoryview):
        return field_name, (f"image-{position}", bytes(image), "application/octet-stream")
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        return field_name, (path.name, path.read_bytes(), _media_type(path.name))
    data = image.read()
    if not isinstance(data, bytes):
        raise TypeError("an image file object must be opened in binary mode ('rb')")
    name = getattr(image, "name", None)
    filename = Path(name).name if isinstance(name, str) else f"image-{position}"
    return field_name, (filename, data, _media_type(filename))


def _media_type(filename: str) -> str:
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


def csv(values: str | list[str] | tuple[str, ...] | None) -> str | None:
    """Face attributes as the service reads them: comma-separated (None: none asked)."""
    if values is None or isinstance(values, str):
        return values or None
    return ",".join(values) or None


def following(page: Page[Any], seen: set[str]) -> str | None:
    """The cursor of the page after ``page`` (None after the last); a cursor that comes back
    would page forever, and is an error."""
    cursor = page.next_cursor
    if cursor is None:
        return None
    if cursor in seen:
        raise InvalidResponse(f"the cursor {cursor[:40]!r} came back: the list would never end",
                              200)
    seen.add(cursor)
    return cursor


def request_args(call: Call[Any]) -> dict[str, Any]:
    """The ``httpx`` request arguments of a call."""
    args: dict[str, Any] = {"params": call.params or None, "headers": call.headers or None}
    if call.files is not None:
        args.update(data=call.data, files=call.files)
    elif call.data is not None:
        args["data"] = call.data
    elif call.content is not None:
        args["content"] = call.content
    elif call.json is not None:
        args["json"] = call.json
    return args
