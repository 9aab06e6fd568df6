"""Limits that hold before any parsing (``images.no-retention``): a request body is read into
memory up to ``max_bytes`` and refused with 413 past it, so the multipart parser never spools an
upload to a temporary file, and no oversized upload is read in full first."""

from __future__ import annotations

import json

from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facegate.errors import ImageTooLarge

# Uploads stay in memory: the parser spools to a temporary file only past this size, which no
# request that passes ``BodyLimit`` reaches.
NO_SPOOL = 1 << 62


class BodyLimit:
    """ASGI middleware: refuse (413) a request whose body exceeds ``max_bytes``, from its
    Content-Length before reading anything, or as soon as the bytes read pass the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        MultiPartParser.spool_max_size = NO_SPOOL

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(body)
            more = bool(message.get("more_body", False))
        data = b"".join(chunks)
        given = False

        async def replay() -> Message:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = ImageTooLarge(f"the request is larger than {self.max_bytes} bytes",
                             rules=["images.no-retention"],
                             message_zh=f"请求大于 {self.max_bytes} 字节的上限，未予读取。"
                             ).to_dict()
        raw = json.dumps(body, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(raw)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": raw})
