"""Prometheus metrics at ``GET /metrics`` (no key; no personal data in any label) and the
access log line of each request.

- ``facegate_http_requests_total`` and ``facegate_http_request_duration_seconds``: per
  ``method``, ``route`` (the route's path template, such as ``/v1/subjects/{subject_id}``;
  ``/static`` for static files and ``unmatched`` for any path no route serves, never the raw
  URL) and ``status``.
- ``facegate_refusals_total``: per ``rule``, one for each rule id named in the ``rules`` of an
  error response's JSON body (refusals by the gate, failed authentication, ...).
- ``facegate_gallery_templates``: templates in each loaded 1:N index, per ``deployment``,
  ``engine`` and ``backend`` (the indexes loaded at start, as held now, ``service.readiness``);
  ``facegate_index_ivf_serving``, ``facegate_index_load_phase``, ``facegate_index_refused``,
  ``facegate_store_up`` and ``facegate_ready`` say where loading and the store stand.

Labels never carry subject ids, references, API key names, client addresses or query strings.

One process needs nothing. With ``facegate serve --workers N`` each worker is a process of
its own: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory writable by the service
before it starts, and every worker's request and refusal counts are summed by whichever
worker answers ``/metrics`` (prometheus-client's multiprocess mode; ``facegate serve`` empties
the directory's ``*.db`` files at start). The gallery gauges are the answering worker's own:
every worker loads every index."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facegate.service import Facegate

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
REGISTRY = CollectorRegistry()
LABELS = ("method", "route", "status")
REQUESTS = Counter("facegate_http_requests_total", "HTTP requests answered.", LABELS,
                   registry=REGISTRY)
LATENCY = Histogram("facegate_http_request_duration_seconds",
                    "Time from the request's arrival to the end of its response.", LABELS,
                    registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
REFUSALS = Counter("facegate_refusals_total",
                   "Rule ids named by error responses (the JSON body's rules).", ("rule",),
                   registry=REGISTRY)
RULE_ID = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$")
MAX_ERROR_BODY = 64 * 1024
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
ACCESS = logging.getLogger("facegate.access")


def route_of(scope: Scope) -> str:
    """The path template of the route that served ``scope`` (never the raw path)."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    if str(scope.get("path", "")).startswith("/static/"):
        return "/static"
    return "unmatched"


def rules_of(body: bytes) -> list[str]:
    """The rule ids an error body names (only strings shaped like rule ids)."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        return []
    return [r for r in rules if isinstance(r, str) and len(r) <= 64 and RULE_ID.match(r)]


class Observe:
    """ASGI middleware: count and time each request by route template, count the rules of
    error responses, and write one access log line (no query string, no client address)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        errors = False
        body = bytearray()

        async def watch(message: Message) -> None:
            nonlocal status, errors
            if message["type"] == "http.response.start":
                status = int(message["status"])
                kind = dict(message.get("headers", [])).get(b"content-type", b"")
                errors = status >= 400 and kind.startswith(b"application/json")
            elif message["type"] == "http.response.body" and errors:
                if len(body) + len(message.get("body", b"")) <= MAX_ERROR_BODY:
                    body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    for rule in rules_of(bytes(body)):
                        REFUSALS.labels(rule).inc()
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            seconds = time.perf_counter() - started
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = route_of(scope)
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route, str(status)).observe(seconds)
            ACCESS.info("%s %s %d", method, route, status,
                        extra={"method": method, "route": route, "status": status,
                               "duration_ms": round(seconds * 1000, 1)})


class Galleries(Collector):
    """The service's 1:N indexes and readiness, read at each scrape."""

    def __init__(self, service: Facegate) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        status: dict[str, Any] = self.service.readiness.status()
        sizes = GaugeMetricFamily("facegate_gallery_templates",
                                  "Templates in a loaded 1:N index.",
                                  labels=["deployment", "engine", "backend"])
        serving = GaugeMetricFamily("facegate_index_ivf_serving",
                                    "1 when an IVF index serves (exact search until then).",
                                    labels=["deployment", "engine"])
        for entry in status["loaded"]:
            sizes.add_metric([entry["deployment"], entry["engine"], entry["backend"]],
                             entry["templates"])
            if entry.get("ivf_serving") is not None:
                serving.add_metric([entry["deployment"], entry["engine"]],
                                   1 if entry["ivf_serving"] else 0)
        phase = GaugeMetricFamily("facegate_index_load_phase",
                                  "1 for the phase index loading is in.", labels=["phase"])
        for name in ("waiting", "loading", "loaded", "failed"):
            phase.add_metric([name], 1 if status["phase"] == name else 0)
        refused = GaugeMetricFamily("facegate_index_refused",
                                    "1 for a deployment whose index the gate refused to load.",
                                    labels=["deployment"])
        for entry in status["refused"]:
            refused.add_metric([entry["deployment"]], 1)
        yield from (sizes, serving, phase, refused)
        yield GaugeMetricFamily("facegate_store_up", "1 when the store answered the scrape.",
                                value=1 if status["store"] else 0)
        yield GaugeMetricFamily("facegate_ready", "1 when /readyz says ready.",
                                value=1 if status["ready"] else 0)


def exposition(service_registry: CollectorRegistry) -> bytes:
    """The text of every metric: the request counts of this process (or, in multiprocess
    mode, of every worker) followed by the service's gauges."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        shared = CollectorRegistry()
        MultiProcessCollector(shared, path=directory)  # type: ignore[no-untyped-call]
        requests = _generate_latest(shared)
    else:
        requests = _generate_latest(REGISTRY)
    return requests + _generate_latest(service_registry)


def router(service: Facegate) -> APIRouter:
    """``GET /metrics`` for ``service``: no key, text exposition format."""
    r = APIRouter(include_in_schema=False)
    own = CollectorRegistry()
    own.register(Galleries(service))

    @r.get("/metrics")
    def metrics(_: Request) -> Response:
        return Response(exposition(own), media_type=CONTENT_TYPE_LATEST)

    return r
