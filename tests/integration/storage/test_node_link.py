"""A node link: many batches in flight on one connection, and what each failure means.

Replies and error replies come from a real node. The failures a real node will not stage
on demand (silence, a dropped connection, a refused password) come from small loopback
servers that speak just enough RESP.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from valkey.asyncio.cluster import ValkeyCluster
from valkey.exceptions import ConnectionError, MovedError, ResponseError, TimeoutError

from domain.storage.node_link import NodeLink, NotSent
from tests.gateway_harness import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def loopback_server() -> AsyncIterator[Callable[[Handler], Awaitable[int]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await handler(reader, writer)
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _link_to_key_node(valkey: ValkeyCluster, key: str) -> NodeLink:
    node = valkey.get_node_from_key(key)
    login = node.connection_kwargs
    return NodeLink(
        node.host, int(node.port), username=login.get("username"), password=login.get("password")
    )


async def test_batches_in_flight_are_answered_in_order(valkey: ValkeyCluster) -> None:
    link = _link_to_key_node(valkey, "nl:{a}")
    try:
        futures = [
            link.send([("SET", f"nl:{{a}}:{i}", str(i)), ("GET", f"nl:{{a}}:{i}")], 2.0)
            for i in range(200)
        ]
        replies = await asyncio.gather(*futures)
    finally:
        link.close()
    assert replies == [[b"OK", str(i).encode()] for i in range(200)]


async def test_an_error_reply_fails_only_its_own_command(valkey: ValkeyCluster) -> None:
    await valkey.set("nl:{b}:text", "not a number")
    link = _link_to_key_node(valkey, "nl:{b}")
    try:
        first, error, last = await link.send(
            [("GET", "nl:{b}:text"), ("INCR", "nl:{b}:text"), ("PING",)], 2.0
        )
    finally:
        link.close()
    assert (first, last) == (b"not a number", b"PONG")
    assert isinstance(error, ResponseError)
    assert "not an integer" in str(error)


async def test_a_refused_connection_says_nothing_was_sent() -> None:
    link = NodeLink("127.0.0.1", free_port(), connect_timeout_s=1.0)
    with pytest.raises(NotSent, match="Error connecting"):
        await link.send([("SET", "k", "v")], 1.0)
    link.close()


async def test_closing_a_link_fails_what_it_has_not_sent_as_not_sent() -> None:
    link = NodeLink("127.0.0.1", free_port(), connect_timeout_s=1.0)
    pending = link.send([("SET", "k", "v")], 1.0)  # still connecting
    link.close()
    with pytest.raises(NotSent):
        await pending
    with pytest.raises(NotSent):
        await link.send([("PING",)], 1.0)


async def test_silence_past_the_time_limit_is_a_timeout_and_the_link_reconnects(
    loopback_server: Callable[[Handler], Awaitable[int]],
) -> None:
    accepted = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        while await reader.read(1 << 16):  # reads, never answers, until the link hangs up
            pass

    link = NodeLink("127.0.0.1", await loopback_server(silent))
    try:
        with pytest.raises(TimeoutError):
            await link.send([("PING",)], 0.2)
        with pytest.raises(TimeoutError):
            await link.send([("PING",)], 0.2)
    finally:
        link.close()
    assert accepted == 2


async def test_a_connection_dropped_in_flight_leaves_the_outcome_unknown(
    loopback_server: Callable[[Handler], Awaitable[int]],
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        writer.close()

    link = NodeLink("127.0.0.1", await loopback_server(hang_up))
    try:
        with pytest.raises(ConnectionError) as raised:
            await link.send([("SET", "k", "v")], 2.0)
    finally:
        link.close()
    assert not isinstance(raised.value, NotSent)


async def test_a_refused_password_fails_the_connection_before_any_command(
    loopback_server: Callable[[Handler], Awaitable[int]],
) -> None:
    received: list[bytes] = []

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(1 << 16)
        received.append(data)
        if b"AUTH" in data and b"right" in data:
            writer.write(b"+OK\r\n")
        else:
            writer.write(b"-WRONGPASS invalid username-password pair\r\n")
        await writer.drain()
        data = await reader.read(1 << 16)
        received.append(data)
        if data:
            writer.write(b"+PONG\r\n")
            await writer.drain()
        await reader.read(1 << 16)

    port = await loopback_server(guarded)
    wrong = NodeLink("127.0.0.1", port, username="game", password="wrong")
    with pytest.raises(NotSent, match="Error connecting"):
        await wrong.send([("PING",)], 1.0)
    wrong.close()
    assert all(b"PING" not in data for data in received)

    right = NodeLink("127.0.0.1", port, username="game", password="right")
    try:
        assert await right.send([("PING",)], 1.0) == [b"PONG"]
    finally:
        right.close()


async def test_a_redirect_is_the_cluster_client_s_own_exception(valkey: ValkeyCluster) -> None:
    owner = valkey.get_node_from_key("nl:{c}")
    other = next(p for p in valkey.get_primaries() if p.name != owner.name)
    login = other.connection_kwargs
    link = NodeLink(
        other.host, int(other.port), username=login.get("username"), password=login.get("password")
    )
    try:
        (reply,) = await link.send([("GET", "nl:{c}")], 2.0)
    finally:
        link.close()
    assert isinstance(reply, MovedError)
    assert (reply.host, reply.port) == (owner.host, int(owner.port))
