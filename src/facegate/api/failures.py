"""An unexpected error ends as one JSON 500 and nothing more: the connection stays usable.

Starlette's outermost error middleware sends its 500 and then raises the error again, and
uvicorn closes a connection whose app raised after the response began, so the client's next
request on that keep-alive connection was reset. This middleware sits inside it, logs the
error (never the request body, which may hold a face), answers 500 if nothing was sent yet,
and returns normally."""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY = json.dumps({"error": "internal", "message": "an unexpected error; nothing was changed "
                   "by the part that failed, and the error was logged",
                   "message_zh": "发生了意外错误：出错的部分未作任何更改，错误已记录。",
                   "rules": []}, ensure_ascii=False).encode()


class ContainErrors:
    """ASGI middleware: catch any exception from the app, answer 500 once, never re-raise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            logging.getLogger("facegate").exception(
                "unexpected error in %s %s", scope.get("method"), scope.get("path"))
            if started:  # half a response went out: the connection cannot be reused
                raise
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(BODY)).encode())]})
            await send({"type": "http.response.body", "body": BODY})
