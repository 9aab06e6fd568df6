"""The Python client against the service's contract: every operation of the served OpenAPI
document has a client method (and the client calls nothing else), every answer type names
the fields the service sends, importing the client loads nothing of the service, and the
paging and error protocols hold for answers a test server shapes at will."""

from __future__ import annotations

import inspect
import json
import socket
import ssl
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints, is_typeddict

import httpx
import pytest
from tests.test_client import Served, serve

from facegate.client import (
    ENDPOINTS,
    AsyncClient,
    BadRequest,
    Client,
    Gone,
    InvalidResponse,
    NoAnswer,
    Page,
    Refused,
    ServerError,
    TooManyRequests,
    Unavailable,
)
from facegate.client.wire import Call
from facegate.service import Facegate

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture()
def openapi(sqlite_service: Facegate) -> Iterator[dict[str, Any]]:
    for served in serve(sqlite_service):
        yield served_document(served)


def served_document(served: Served) -> dict[str, Any]:
    doc: dict[str, Any] = httpx.get(f"{served.base}/openapi.json", timeout=30).json()
    return doc


def resolve(obj: Any, name: str) -> Any:
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def test_every_served_operation_has_a_client_method(openapi: dict[str, Any]) -> None:
    served = {(m.upper(), path) for path, ops in openapi["paths"].items()
              for m in ops if m in METHODS}
    table = {(e.method, e.path) for e in ENDPOINTS}
    assert len(served) > 40
    assert sorted(served - table) == []  # operations no client method sends
    assert sorted(table - served) == []  # client methods for operations the service lacks
    assert len({e.name for e in ENDPOINTS}) == len(ENDPOINTS) == len(table)
    sync, aio = Client("http://127.0.0.1:1", None), AsyncClient("http://127.0.0.1:1", None)
    for e in ENDPOINTS:
        assert inspect.ismethod(resolve(sync, e.name)), e.name
        assert inspect.iscoroutinefunction(resolve(aio, e.name)), e.name
    sync.close()


def answer_type(build: Any) -> Any:
    """The type a call's answer is read as: a TypedDict, list[TypedDict] for a page."""
    (read,) = get_args(get_type_hints(build)["return"])
    if get_origin(read) is Page:
        return list[get_args(read)[0]]  # type: ignore[misc]
    return read


def differences(hint: Any, schema: dict[str, Any], doc: dict[str, Any], where: str
                ) -> list[str]:
    """Where the client's type and the service's schema disagree on field names."""
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    if get_origin(hint) in (Union, types.UnionType):
        hints = [h for h in get_args(hint) if h is not type(None)]
        if len(hints) != 1 or len(options) != 1:
            return []  # a union of plain values (str | dict[str, str])
        hint, schema = hints[0], options[0]
        if "$ref" in schema:
            return differences(hint, schema, doc, where)
    if get_origin(hint) is list and "items" in schema:
        return differences(get_args(hint)[0], schema["items"], doc, f"{where}[]")
    if not is_typeddict(hint):
        return []
    props: dict[str, Any] = schema.get("properties", {})
    named = hint.__required_keys__ | hint.__optional_keys__
    out = [f"{where}.{k}: the client does not name it" for k in sorted(set(props) - named)]
    out += [f"{where}.{k}: the service does not send it, yet it is required"
            for k in sorted(hint.__required_keys__ - set(props))]
    fields = get_type_hints(hint)
    for k in sorted(named & set(props)):
        out += differences(fields[k], props[k], doc, f"{where}.{k}")
    return out


def test_answer_types_name_the_fields_the_service_sends(openapi: dict[str, Any]) -> None:
    problems: list[str] = []
    checked = 0
    for e in ENDPOINTS:
        op = openapi["paths"][e.path][e.method.lower()]
        ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
        schema = ok.get("content", {}).get("application/json", {}).get("schema")
        hint = answer_type(e.build)
        if schema is None or schema == {} or not (is_typeddict(hint) or get_origin(hint)):
            continue
        checked += 1
        problems += differences(hint, schema, openapi, e.name)
    assert checked > 35
    assert problems == []


def test_the_type_check_notices_a_field_the_client_lacks() -> None:
    doc = {"components": {"schemas": {"X": {"properties": {"a": {}, "b": {}}}}}}
    from facegate.client.models import SubjectCreated
    found = differences(SubjectCreated, {"$ref": "#/components/schemas/X"}, doc, "x")
    assert found == ["x.a: the client does not name it", "x.b: the client does not name it",
                     "x.created_at: the service does not send it, yet it is required",
                     "x.id: the service does not send it, yet it is required"]


HEAVY = ("numpy", "cv2", "sqlalchemy", "onnxruntime", "dlib", "faiss", "PIL", "fastapi",
         "starlette", "pydantic", "facegate.service", "facegate.store", "facegate.engine",
         "facegate.index", "facegate.api", "facegate.errors", "facegate.policy")


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_importing_the_client_loads_nothing_of_the_service() -> None:
    code = "import json, sys, facegate.client; print(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    loaded = json.loads(run.stdout)
    assert "facegate.client" in loaded and "httpx" in loaded
    assert heavy(loaded) == []
    assert heavy(["numpy.linalg", "facegate.service.facade"]) == ["numpy.linalg",
                                                                  "facegate.service.facade"]


def paged(items: list[int], *, repeat: bool = False) -> httpx.MockTransport:
    """A list of ``items`` served two a page, its cursor the next position (or always the
    same cursor, with ``repeat``)."""
    def answer(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("cursor", "0"))
        size = int(request.url.params.get("limit", "2"))
        page = [{"id": str(i)} for i in items[start:start + size]]
        more = start + size < len(items)
        headers = {"X-Next-Cursor": "2" if repeat else str(start + size)} if more else {}
        return httpx.Response(200, json=page, headers=headers)
    return httpx.MockTransport(answer)


def test_lists_follow_the_next_cursor_until_the_last_page() -> None:
    with Client("http://fg", "k", transport=paged(list(range(5)))) as fg:
        assert [d["id"] for d in fg.deployments.list()] == ["0", "1", "2", "3", "4"]
        pages = list(fg.deployments.pages(limit=3))
        assert [len(p.items) for p in pages] == [3, 2]
        assert [p.next_cursor for p in pages] == ["3", None]
        assert [p.items for p in fg.deployments.pages(cursor="4")] == [[{"id": "4"}]]
    with (Client("http://fg", "k", transport=paged(list(range(9)), repeat=True)) as fg,
          pytest.raises(InvalidResponse, match="came back")):
        fg.consents.list()


def errors(status: int, body: Any, headers: dict[str, str] | None = None
           ) -> httpx.MockTransport:
    def answer(_: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)
    return httpx.MockTransport(answer)


@pytest.mark.parametrize(("status", "body", "headers", "kind", "code"), [
    (429, {"error": "too_many_requests", "message": "slow down", "retry_after_s": 7}, None,
     TooManyRequests, "too_many_requests"),
    (429, {"error": "too_many_failures", "message": "m"}, {"Retry-After": "30"},
     TooManyRequests, "too_many_failures"),
    (410, {"error": "key_shredded", "message": "m"}, None, Gone, "key_shredded"),
    (413, {"error": "image_too_large", "message": "m", "rules": ["images.no-retention"]},
     None, BadRequest, "image_too_large"),
    (502, "<html>bad gateway</html>", None, ServerError, "http_error"),
    (503, {"error": "model_integrity", "message": "m"}, None, Unavailable, "model_integrity"),
    (403, {"error": "refused", "message": "m", "message_zh": "拒绝", "rules": ["a.b"]}, None,
     Refused, "refused"),
])
def test_each_error_answer_is_its_exception(status: int, body: Any,
                                            headers: dict[str, str] | None, kind: type,
                                            code: str) -> None:
    with (Client("http://fg", "k", transport=errors(status, body, headers)) as fg,
          pytest.raises(kind) as raised):
        fg.engine.status()
    assert raised.value.status == status and raised.value.code == code
    if isinstance(raised.value, TooManyRequests):
        assert raised.value.retry_after in (7, 30)
    if isinstance(body, dict):
        assert raised.value.rules == body.get("rules", [])
        assert raised.value.message_zh == body.get("message_zh")


def test_readiness_is_an_answer_and_other_failures_raise() -> None:
    body = {"ready": False, "store": True, "phase": "loading", "seconds": None, "loaded": [],
            "refused": [], "error": None}
    with Client("http://fg", None, transport=errors(503, body)) as fg:
        assert fg.ready() == body
    with (Client("http://fg", None, transport=errors(503, "busy")) as fg,
          pytest.raises(Unavailable)):
        fg.ready()
    with (Client("http://fg", None, transport=errors(200, "<html/>")) as fg,
          pytest.raises(InvalidResponse)):
        fg.health()


def test_no_answer_is_an_error_of_its_own() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens
    with (Client(f"http://127.0.0.1:{port}", "k", timeout=5) as fg,
          pytest.raises(NoAnswer) as none):
        fg.health()
    assert isinstance(none.value.__cause__, httpx.TransportError)


def test_a_call_is_built_from_its_own_route() -> None:
    from facegate.client import calls
    call: Call[Any] = calls.notice("hq/door", 2)
    assert (call.method, call.path, call.params) == (
        "GET", "/v1/deployments/hq%2Fdoor/notice", {"version": "2"})


def test_a_ca_bundle_path_becomes_an_ssl_context(tmp_path: Path) -> None:
    import certifi

    from facegate.client.sync import tls
    assert isinstance(tls(certifi.where()), ssl.SSLContext)
    assert tls(False) is False
    with pytest.raises(FileNotFoundError):
        tls(tmp_path / "no-such-bundle.pem")
