"""A server allocator on 127.0.0.1 for matchmaking tests: it plays the answers it is given."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest_asyncio


@dataclass
class Allocator:
    """An allocator on 127.0.0.1 that plays the answers it is given, one per request."""

    answers: list[str]
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((headers, orjson.loads(body)))
        answer = self.answers.pop(0) if self.answers else "ok"
        if answer == "slow":
            await asyncio.sleep(3.0)
        status, payload = {
            "fail": (500, b'{"error": "full"}'),
            "junk": (200, b"not json"),
            "big": (200, b'{"pad": "' + b"x" * 20_000 + b'"}'),
            "slow": (200, b'{"address": "late"}'),
            "ok": (200, b'{"address": "10.0.0.7", "port": 7777, "token": "t"}'),
        }[answer]
        writer.write(
            b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, len(payload), payload)
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def running_stub(answers: list[str]) -> AsyncIterator[Allocator]:
    """An HTTP stub on a free port of 127.0.0.1 playing `answers` (an allocator, or a
    webhook receiver)."""
    fake = Allocator(answers=answers)
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    try:
        yield fake
    finally:
        server.close()


@pytest_asyncio.fixture(loop_scope="session")
async def allocator() -> AsyncIterator[Allocator]:
    async with running_stub([]) as fake:
        yield fake
