"""The worker's own HTTP listener: `/healthz`, `/readyz` and `/metrics`.

A few lines of asyncio rather than a web framework: it answers one GET per connection
and closes it (probes and Prometheus scrapes need nothing more).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import orjson

log = logging.getLogger(__name__)

_READ_TIMEOUT_S = 5.0
_MAX_HEADER_BYTES = 16 * 1024

Handler = Callable[[], Awaitable[tuple[int, str, bytes]]]


def json_body(status: int, body: object) -> tuple[int, str, bytes]:
    return status, "application/json", orjson.dumps(body)


class HealthServer:
    def __init__(self, host: str, port: int, routes: dict[str, Handler]) -> None:
        self._host = host
        self._port = port
        self._routes = routes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, reuse_address=True
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_S)
            if len(head) > _MAX_HEADER_BYTES:
                raise ValueError("headers too long")
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            path = path.split("?", 1)[0]
            handler = self._routes.get(path)
            if method not in ("GET", "HEAD"):
                status, kind, body = json_body(405, {"status": "method not allowed"})
            elif handler is None:
                status, kind, body = json_body(404, {"status": "not found"})
            else:
                status, kind, body = await handler()
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed"}.get(
                status, "Service Unavailable"
            )
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            )
            if method != "HEAD":
                writer.write(body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass
        except Exception:
            log.exception("worker health request failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
