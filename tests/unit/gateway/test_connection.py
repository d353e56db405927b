"""A socket's outgoing queue is bounded: a client that stops reading is closed, not waited on."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any, cast

import pytest

import gameserver.gateway.connection as connection_module
from gameserver.errors import CLOSE_SLOW_CONSUMER
from gameserver.gateway.asgi_socket import SEND_NOW_EXTENSION, GameWebSocket
from gameserver.gateway.connection import ClientConnection
from gameserver.gateway.rate_limit import TokenBucket


class StalledWebSocket:
    """Stands in for a client whose TCP window is full: every send waits forever."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.close_codes: list[int] = []
        self._never = asyncio.Event()

    async def send_text(self, text: str) -> None:
        self.sent.append(text)
        await self._never.wait()

    def try_send_text(self, text: str) -> bool:
        return False  # its server would wait

    async def close(self, code: int = 1000, reason: Any = None) -> None:
        self.close_codes.append(code)


class ReadingWebSocket(StalledWebSocket):
    async def send_text(self, text: str) -> None:
        self.sent.append(text)


class PromptWebSocket(ReadingWebSocket):
    """A client keeping up: its server takes every frame at once."""

    def try_send_text(self, text: str) -> bool:
        self.sent.append(text)
        return True


def _connection(
    socket: StalledWebSocket, limit: int = 4, slow: list[str] | None = None
) -> ClientConnection:
    return ClientConnection(
        cast(GameWebSocket, socket),
        "p1",
        "s1",
        None,
        queue_limit=limit,
        rate_limiter=TokenBucket(1, 1),
        on_slow_consumer=None if slow is None else lambda: slow.append("p1"),
    )


async def test_a_client_that_stops_reading_is_closed_as_a_slow_consumer() -> None:
    socket = StalledWebSocket()
    slow: list[str] = []
    connection = _connection(socket, slow=slow)
    accepted = [connection.send(b'{"event": "x"}') for _ in range(10)]
    assert accepted[:4] == [True] * 4 and accepted[-1] is False
    await asyncio.wait_for(connection.closed.wait(), 5)
    assert socket.close_codes == [CLOSE_SLOW_CONSUMER]
    assert slow == ["p1"]
    assert connection.send(b"{}") is False
    await connection.stop()


async def test_a_client_that_reads_gets_every_frame_in_order() -> None:
    socket = ReadingWebSocket()
    connection = _connection(socket, limit=100)
    for i in range(50):
        assert connection.send(f'{{"n": {i}}}'.encode())
    connection.close(1000)
    await asyncio.wait_for(connection.closed.wait(), 5)
    assert socket.sent == [f'{{"n": {i}}}' for i in range(50)]
    assert socket.close_codes == [1000]


async def test_a_reply_to_a_client_that_stops_reading_closes_it_in_bounded_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection_module, "_REPLY_TIMEOUT_S", 0.2)
    socket = StalledWebSocket()
    slow: list[str] = []
    connection = _connection(socket, slow=slow)
    await asyncio.wait_for(connection.reply(b'{"ok": true}'), 5)
    assert connection.closing
    await asyncio.wait_for(connection.closed.wait(), 5)
    assert socket.close_codes == [CLOSE_SLOW_CONSUMER]
    assert slow == ["p1"]
    await connection.stop()


async def test_replies_and_pushes_keep_their_order() -> None:
    socket = ReadingWebSocket()
    connection = _connection(socket, limit=100)
    await connection.reply(b"r1")
    assert connection.send(b"p1")
    await connection.reply(b"r2")  # behind the queued push
    await asyncio.sleep(0)
    await connection.reply(b"r3")
    assert socket.sent == ["r1", "p1", "r2", "r3"]
    await connection.stop()


async def test_frames_a_keeping_up_client_takes_go_out_at_once_without_a_task() -> None:
    socket = PromptWebSocket()
    connection = _connection(socket, limit=4)
    for i in range(10):  # more than the queue holds: none is queued
        assert connection.send(f'{{"n": {i}}}'.encode())
        assert not connection.busy
    assert socket.sent == [f'{{"n": {i}}}' for i in range(10)]
    await connection.stop()


class InlineOnlyWebSocket(PromptWebSocket):
    async def send_text(self, text: str) -> None:
        raise AssertionError("a frame the server takes at once must not be awaited")


async def test_a_reply_a_keeping_up_client_takes_is_written_inline() -> None:
    socket = InlineOnlyWebSocket()
    connection = _connection(socket)
    await connection.reply(b"r1")
    await connection.reply(b"r2")
    assert socket.sent == ["r1", "r2"] and not connection.closing
    await connection.stop()


class SendNowServer:
    """A server offering the send-now extension (as GameSocketProtocol does): it takes a
    frame at once unless its writing is paused."""

    def __init__(self) -> None:
        self.paused = True
        self.written: list[str] = []

    def send_text_now(self, text: str) -> bool:
        if self.paused:
            return False
        self.written.append(text)
        return True

    def scope(self) -> dict[str, Any]:
        return {"extensions": {SEND_NOW_EXTENSION: {"send_text_now": self.send_text_now}}}


async def test_a_frame_is_written_at_once_only_while_the_server_takes_it() -> None:
    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("a frame written at once is not sent again")

    server = SendNowServer()
    socket = GameWebSocket(cast(Any, None), server.scope(), cast(Any, None), send)
    assert not socket.try_send_text("held")
    assert server.written == []
    server.paused = False
    assert socket.try_send_text("now")
    assert server.written == ["now"]


async def test_a_server_without_the_extension_is_always_awaited() -> None:
    async def send(message: dict[str, Any]) -> None:
        raise AssertionError("try_send_text must not call it")

    socket = GameWebSocket(cast(Any, None), {"extensions": {}}, cast(Any, None), send)
    assert not socket.try_send_text("x")
    assert not GameWebSocket(cast(Any, None), {}, cast(Any, None), send).try_send_text("x")


async def test_an_idle_connection_holds_no_queue_and_no_event() -> None:
    # 20,000 sockets per process: a deque or an asyncio.Event is ~0.8 KiB per socket.
    sockets = [PromptWebSocket() for _ in range(200)]
    buckets = [TokenBucket(1, 1) for _ in range(200)]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        connections = [
            ClientConnection(
                cast(GameWebSocket, s), "p1", "s1", None, queue_limit=4, rate_limiter=b
            )
            for s, b in zip(sockets, buckets, strict=True)
        ]
        grown = sum(
            stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename")
        )
    finally:
        tracemalloc.stop()
    assert grown / len(connections) < 400


async def test_frames_queued_again_after_the_queue_drained_go_out_in_order() -> None:
    socket = ReadingWebSocket()
    connection = _connection(socket, limit=100)
    for round_ in range(3):
        for i in range(5):
            assert connection.send(f"{round_}.{i}".encode())
        assert connection.busy
        for _ in range(20):
            await asyncio.sleep(0)
        assert not connection.busy
    assert socket.sent == [f"{r}.{i}" for r in range(3) for i in range(5)]
    await connection.stop()


async def test_closed_is_set_when_first_asked_after_the_close_ended() -> None:
    socket = ReadingWebSocket()
    connection = _connection(socket)
    connection.close(1000)
    for _ in range(20):
        await asyncio.sleep(0)
    assert socket.close_codes == [1000]
    assert connection.closed.is_set()
