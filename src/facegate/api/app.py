"""The app: housekeeping on a timer, errors as JSON bodies, the routes of each resource, the
officer's console and the person's pages."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from facegate import __version__
from facegate.api import (
    audit,
    batch,
    compliance,
    consents,
    deployments,
    docs,
    engines,
    health,
    keys,
    matching,
    rules,
    subjects,
)
from facegate.api.deps import Unauthorised, error
from facegate.api.errors import COMMON, describe_errors
from facegate.api.failures import ContainErrors
from facegate.api.limits import BodyLimit
from facegate.api.metrics import Observe
from facegate.api.metrics import router as metrics_router
from facegate.errors import FacegateError, unique_clauses
from facegate.policy.packs import get_pack
from facegate.service import Actor, Facegate, Settings
from facegate.web import console, home, kiosk, public
from facegate.web.security import SecurityHeaders

SYSTEM = Actor("system:housekeeping", "admin")
LOADER = Actor("system:index-loader", "admin")

# Each resource's routes; the OpenAPI document lists them in this order.
ROUTERS = (health, deployments, engines, compliance, subjects, consents, matching, batch, rules,
           audit, keys)


def _housekeeper(service: Facegate, every_s: float, stop: threading.Event) -> None:
    """On a timer until ``stop`` is set: delete expired templates (``retention.minimum``)
    and sign a checkpoint of the audit trail, kept outside the data directory, when records
    were added (``security.controls``)."""
    while not stop.wait(every_s):
        _round(service)


def _round(service: Facegate) -> None:
    for name, task in (("housekeeping", service.housekeeping.run),
                       ("checkpoint", service.audit.periodic_checkpoint)):
        try:
            task(SYSTEM)
        except Exception:  # keep serving; the next round tries again
            logging.getLogger("facegate").exception("%s failed", name)


def _load_indexes(service: Facegate) -> None:
    """Build every 1:N index from the store while the service already answers (``/readyz``
    says when it is done); a failure is logged and reported by ``/readyz``, and each index is
    then built on its first search as before."""
    try:
        service.readiness.load(LOADER)
    except Exception:
        logging.getLogger("facegate").exception("loading the indexes failed")


def _handle_errors(app: FastAPI) -> None:
    """Every error as a JSON body, told in English (``message``) and Chinese (``message_zh``):
    the service's errors with their status and rules, bad input as 422 with each problem, a
    missing or unknown key as 401 (429 once the client's address is locked out after repeated
    failures), an unknown path or method under /v1 in the same shape (``api/errors.py``
    describes them in the OpenAPI document)."""

    @app.exception_handler(FacegateError)
    async def _facegate_error(_: Request, exc: FacegateError) -> JSONResponse:
        return error(exc.http_status, exc.to_dict())

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = unique_clauses(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                  for e in exc.errors())
        return error(422, {"error": "bad_input", "message": "; ".join(problems),
                           "message_zh": "请求不符合其格式：" + "；".join(problems),
                           "problems": problems})

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if not request.url.path.startswith("/v1/"):
            return await http_exception_handler(request, exc)
        name, zh = _HTTP_ERRORS.get(exc.status_code, ("http_error", "请求无法处理。"))
        return JSONResponse(status_code=exc.status_code, headers=exc.headers,
                            content={"error": name, "message": str(exc.detail),
                                     "message_zh": zh, "rules": []})

    @app.exception_handler(Unauthorised)
    async def _unauth(_: Request, exc: Unauthorised) -> JSONResponse:
        if exc.retry_after is not None:
            return JSONResponse(status_code=429, headers={"Retry-After": str(exc.retry_after)},
                                content={"error": "too_many_failures",
                                         "message": "too many failed authentications from "
                                                    "this address; retry after "
                                                    f"{exc.retry_after} s",
                                         "message_zh": "此地址认证失败次数过多；请在 "
                                                       f"{exc.retry_after} 秒后重试",
                                         "rules": ["security.controls"]})
        return JSONResponse(status_code=401, headers={"WWW-Authenticate": "APIKey"},
                            content={"error": "unauthorised",
                                     "message": "a valid API key is required (X-API-Key)",
                                     "message_zh": "需要有效的 API 密钥（X-API-Key）",
                                     "rules": ["security.controls"]})


# Errors of the HTTP layer under /v1: their names and what they say in Chinese.
_HTTP_ERRORS = {400: ("bad_request", "请求无法解析。"),
                404: ("not_found", "没有这个地址。"),
                405: ("method_not_allowed", "此地址不支持该请求方法。")}


def create_app(service: Facegate, housekeeping_every_s: float | None = None) -> FastAPI:
    """The API app. At start, the 1:N indexes load in the background (``/readyz``);
    housekeeping runs at start and then every ``housekeeping_every_s`` seconds (default: the
    rule pack's ``housekeeping_interval_s``; 0 turns it off)."""
    every = (get_pack(service.settings.rule_pack).params["housekeeping_interval_s"]
             if housekeeping_every_s is None else housekeeping_every_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.engine  # noqa: B018 - models load (and are checked) before the first request
        threading.Thread(target=_load_indexes, args=(service,), name="facegate-index-loader",
                         daemon=True).start()
        stop = threading.Event()
        worker = None
        if every > 0:
            _round(service)
            worker = threading.Thread(target=_housekeeper, args=(service, every, stop),
                                      name="facegate-housekeeping", daemon=True)
            worker.start()
        yield
        stop.set()
        if worker is not None:
            worker.join(5)
        # Close the pooled connections: SQLite checkpoints its write-ahead log into the
        # database file as the last one closes, so the file alone holds everything.
        service.db.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="facegate",
        version=__version__,
        description="Face recognition in which every operation passes a policy gate built from "
                    "the CAC face recognition rules and leaves a hash-chained audit record.",
        responses=COMMON,
        docs_url=None, redoc_url=None,  # served by api/docs.py, without a CDN
    )
    app.state.service = service
    _handle_errors(app)
    for resource in ROUTERS:
        app.include_router(resource.router)
    describe_errors(app)
    docs.install(app)

    # ---- web pages: the officer's console and the person's pages --------------------------

    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=service.settings.image_limits.max_request_bytes)
    app.add_middleware(ContainErrors)  # a 500 never closes the connection
    app.add_middleware(Observe)  # outermost of ours: metrics and the access log see every answer
    app.mount("/static", StaticFiles(packages=[("facegate.web", "static")]), name="static")
    app.include_router(public.router(service))
    app.include_router(console.router(service))
    app.include_router(kiosk.router(service))
    app.include_router(kiosk.font_router())
    app.include_router(home.router)
    app.include_router(metrics_router(service))

    return app


def app_from_env() -> FastAPI:
    """The app of a service built from the environment, as the ``facegate`` command builds
    it (``FACEGATE_DATA``, ``FACEGATE_DATABASE_URL``, ...): the factory each worker process
    of ``facegate serve --workers N`` imports (``facegate.api.app:app_from_env``)."""
    return create_app(Facegate(Settings.from_env()))
