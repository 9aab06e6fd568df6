"""A typed client of the facegate REST API, on ``httpx``: ``Client`` (blocking) and
``AsyncClient`` (``asyncio``), with the same methods grouped by what they act on.

    from pathlib import Path

    from facegate.client import Client, Refused

    with Client("http://127.0.0.1:8000", "fg_...") as fg:
        dep = fg.deployments.apply(Path("deployment.yaml"))["id"]
        try:
            fg.faces.verify(subject, dep, "probe.jpg")
        except Refused as refusal:
            print(refusal.rules, refusal.message_zh)

Answers are the service's JSON bodies as typed dictionaries (``facegate.client.models``,
``facegate.client.models_ops``); errors are exceptions (``facegate.client.errors``). The
client imports nothing of the service: it needs ``httpx`` only."""

from facegate.client.aio import AsyncClient
from facegate.client.errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    Gone,
    InvalidResponse,
    NoAnswer,
    NotFound,
    Refused,
    ServerError,
    TooManyRequests,
    Unauthorised,
    Unavailable,
)
from facegate.client.sync import Client
from facegate.client.wire import ENDPOINTS, Document, Endpoint, Image, Page

__all__ = [
    "ENDPOINTS",
    "ApiError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "Document",
    "Endpoint",
    "Gone",
    "Image",
    "InvalidResponse",
    "NoAnswer",
    "NotFound",
    "Page",
    "Refused",
    "ServerError",
    "TooManyRequests",
    "Unauthorised",
    "Unavailable",
]
