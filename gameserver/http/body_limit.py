"""Request bodies are capped before a handler reads them, on every HTTP route."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gameserver.http.json import send_error
from gameserver.metrics import count_refusal

_TOO_LARGE = 413


class BodyLimit:
    """ASGI middleware: a body over `max_bytes` is answered 413 and never reaches a handler.

    A `Content-Length` over the limit is refused before any byte of the body is read; a
    body without one (chunked) is read only up to the limit. A body within it is handed
    on whole, so handlers never see a partial body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away before its body was complete.
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        count_refusal(scope, "body_too_large")
        message = f"request body exceeds {self.max_bytes} bytes"
        await send_error(send, _TOO_LARGE, "bad_request", message, ((b"connection", b"close"),))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
