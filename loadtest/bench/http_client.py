"""A small keep-alive HTTP/1.1 client on asyncio streams, for the bench's logins and admin calls.

httpx's AsyncClient spends far more CPU than the server under test once dozens of
requests run at once (here: ~130 requests/s at 64 concurrent, where plain streams do
~4,400/s), so the bench would measure its own client. This one speaks only what the
gateway answers: a status line, headers, and a Content-Length or chunked body.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")


class HttpPool:
    """Up to `size` keep-alive connections to one host; each request takes one."""

    def __init__(
        self, base_url: str, size: int = 64, headers: Mapping[str, str] | None = None
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only plain http:// URLs are supported, not {base_url!r}")
        self._host, self._port = parts.hostname, parts.port or 80
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._idle: asyncio.LifoQueue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.LifoQueue()
        )
        self._slots = asyncio.Semaphore(size)

    async def request(
        self, method: str, path: str, body: Any = None, timeout_s: float = 30.0
    ) -> HttpResponse:
        payload = b"" if body is None else orjson.dumps(body)
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n{self._headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode()
        async with self._slots:
            reader, writer = await self._connection()
            try:
                writer.write(head + payload)
                response, keep = await asyncio.wait_for(_read_response(reader), timeout_s)
            except BaseException:
                writer.close()
                raise
            if keep:
                self._idle.put_nowait((reader, writer))
            else:
                writer.close()
            return response

    async def post(self, path: str, body: Any) -> HttpResponse:
        return await self.request("POST", path, body)

    async def get(self, path: str) -> HttpResponse:
        return await self.request("GET", path)

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while not self._idle.empty():
            reader, writer = self._idle.get_nowait()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self._host, self._port)

    async def aclose(self) -> None:
        while not self._idle.empty():
            _, writer = self._idle.get_nowait()
            writer.close()

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _read_response(reader: asyncio.StreamReader) -> tuple[HttpResponse, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    keep = headers.get("connection", "").lower() != "close"
    return HttpResponse(status, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
