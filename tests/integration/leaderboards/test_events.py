"""Change events on the board's shard channels, and what they tell a gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio
from valkey.asyncio.cluster import ValkeyCluster
from valkey.asyncio.connection import Connection
from valkey.crc import key_slot

from domain.leaderboards.keys import sub_board_of
from domain.leaderboards.models import BoardConfig, ChangeEvent
from domain.leaderboards.rules import moved_subscribers
from domain.leaderboards.service import LeaderboardService


class Listener:
    """One SSUBSCRIBE connection per channel (to the primary of the channel's slot), each
    with a reader task; a cancelled read would close its connection."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.events: asyncio.Queue[bytes] = asyncio.Queue()

    async def subscribe(self, valkey: ValkeyCluster, channels: list[str]) -> None:
        for channel in channels:
            node = valkey.nodes_manager.get_node_from_slot(key_slot(channel.encode()))
            login = valkey.nodes_manager.connection_kwargs
            connection = Connection(
                host=node.host,
                port=int(node.port),
                username=login.get("username"),
                password=login.get("password"),
            )
            await connection.connect()  # type: ignore[no-untyped-call]
            await connection.send_command("SSUBSCRIBE", channel)
            await connection.read_response()
            self.connections.append(connection)
            self.readers.append(asyncio.create_task(self._read(connection)))

    async def _read(self, connection: Connection) -> None:
        for _ in range(1000):
            message = await connection.read_response()
            self.events.put_nowait(bytes(message[2]))

    async def next(self, timeout_s: float = 2.0) -> ChangeEvent:
        raw = await asyncio.wait_for(self.events.get(), timeout_s)
        return LeaderboardService.decode_event(raw)

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)
        for connection in self.connections:
            await connection.disconnect()


@pytest_asyncio.fixture(loop_scope="session")
async def listener() -> AsyncIterator[Listener]:
    created = Listener()
    yield created
    await created.close()


async def test_a_write_publishes_the_old_and_new_position(
    service: LeaderboardService, valkey: ValkeyCluster, listener: Listener
) -> None:
    await service.submit("global", "b", 5)
    await listener.subscribe(valkey, await service.channels("global"))
    await service.submit("global", "a", 3)
    event = await listener.next()
    placed = (await service.ranks_of("global", ["a"]))["a"].position
    assert (event.kind, event.period, event.player_id, event.old, event.new) == (
        "write",
        "all",
        "a",
        None,
        placed,
    )

    before = await service.ranks_of("global", ["a", "b"])
    watched = {player: rank.position for player, rank in before.items()}
    await service.submit("global", "a", 9)
    event = await listener.next()
    assert event.old == placed
    # "a" passed "b": the rule names both, and both ranks did move.
    assert moved_subscribers(event, watched) == {"a", "b"}
    after = await service.ranks_of("global", ["a", "b"])
    assert (after["a"].rank, after["b"].rank) == (1, 2)


async def test_remove_and_reset_are_published(
    service: LeaderboardService, valkey: ValkeyCluster, listener: Listener
) -> None:
    await service.submit("global", "a", 3)
    await listener.subscribe(valkey, await service.channels("global"))
    await service.remove_player("global", "a")
    removed = await listener.next()
    assert (removed.kind, removed.player_id, removed.new) == ("remove", "a", None)
    await service.reset("global")
    reset = await listener.next()
    assert (reset.kind, reset.period) == ("reset", "all.1")


async def test_a_rank_names_the_last_write_it_counted_in_every_sub_board(
    service: LeaderboardService, valkey: ValkeyCluster, listener: Listener
) -> None:
    # What lets a gateway move ranks by events alone: an event stamped after the
    # rank's stamp for its sub-board is not in the rank yet; one at or before it is.
    await service.create_board(BoardConfig("spread", sub_boards=6))
    await listener.subscribe(valkey, await service.channels("spread"))
    players = [f"s{i}" for i in range(30)]
    last: dict[str, int] = {}
    for i, player in enumerate(players):
        await service.submit("spread", player, i % 4)
        event = await listener.next()
        last[event.player_id] = event.at_us
    (before,) = (await service.ranks_of("spread", ["s0"])).values()
    assert set(before.stamps) == set(range(6))
    for index, stamp in before.stamps.items():
        written = [at for player, at in last.items() if sub_board_of(player, 6) == index]
        assert stamp == max(written, default=0)
    await service.submit("spread", "newcomer", 100)
    event = await listener.next()
    index = sub_board_of("newcomer", 6)
    assert event.at_us > before.stamps[index]
    (after,) = (await service.ranks_of("spread", ["s0"])).values()
    assert after.stamps[index] == event.at_us
    assert after.rank == before.rank + 1  # the newcomer passed s0: the event's one rank
