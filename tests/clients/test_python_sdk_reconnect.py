"""The Python SDK's reconnects: back after a gateway restart or a gone session, with its
subscriptions; never back after a kick, a newer login or a logout."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import pytest
from gameserver_client import (
    ClientClosed,
    Closed,
    Disconnected,
    EventStream,
    GameClient,
    MatchFound,
    MemoryStorage,
    RankChanged,
    Reconnected,
    Reconnecting,
    SessionKicked,
)
from valkey.asyncio.cluster import ValkeyCluster

from domain.matchmaking.worker import MatchmakingWorker
from tests.clients.conftest import FAST_RECONNECT, device_client
from tests.gateway_harness import Gateway, gateway_settings, running_gateway

Seeds = tuple[tuple[str, int], ...]
E = TypeVar("E")


async def _watching_when_the_gateway_stops(ann: GameClient, gateway: Gateway) -> EventStream[Any]:
    """Ann scores 100 on `global` and subscribes to her rank there; then `gateway` stops.
    Her events from before the stop."""
    await ann.score_submit("global", 100)
    await ann.board_subscribe("global", top=0)
    events = ann.events()
    await first_gateway_stops(gateway)
    return events


async def _bob_passes_ann(bob: GameClient, ann_events: EventStream[Any]) -> None:
    """Bob scores above Ann on `global`: she is told she moved from first to second."""
    await bob.score_submit("global", 500)
    while True:
        event = await ann_events.next(timeout=10)
        if isinstance(event, RankChanged) and event.board == "global" and event.rank == 2:
            assert event.previous_rank == 1
            return


async def test_gateway_restart_reconnects_with_the_same_session_and_subscriptions(
    cluster_seeds: Seeds, clean_valkey: ValkeyCluster
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-restart")
    async with running_gateway(settings) as first:
        async with device_client(first.base_url) as ann:
            player_id = ann.player_id
            session_id = ann.session.session_id if ann.session else ""
            events = await _watching_when_the_gateway_stops(ann, first)
            disconnected = await events.next(timeout=10)
            assert isinstance(disconnected, Disconnected)
            trying = await events.next(timeout=10)
            assert isinstance(trying, Reconnecting) and trying.attempt == 1
            assert 0 < trying.delay_s <= FAST_RECONNECT.initial_delay_s
            # A call made while the client reconnects waits for the socket.
            waiting = asyncio.create_task(ann.board_rank("global", timeout=20))
            restarted = settings.with_overrides(gateway_id=settings.gateway_id + "-2")
            async with (
                running_gateway(restarted) as second,
                device_client(second.base_url) as bob,
            ):
                back = await _next_of(events, Reconnected)
                assert back.relogged is False and back.player_id == player_id
                assert ann.session is not None and ann.session.session_id == session_id
                assert (await waiting).rank == 1
                await _bob_passes_ann(bob, events)
                assert await ann.ping() > 0


async def test_a_gone_session_logs_in_again_and_subscribes_again(
    cluster_seeds: Seeds, clean_valkey: ValkeyCluster
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-expiry", session_ttl_s=1)
    storage = MemoryStorage()
    async with running_gateway(settings) as first:
        async with device_client(first.base_url, storage) as ann:
            player_id = ann.player_id
            old_session = ann.session.session_id if ann.session else ""
            events = await _watching_when_the_gateway_stops(ann, first)
            # No socket and no message for longer than the session's TTL: it is gone.
            await asyncio.sleep(3)
            restarted = settings.with_overrides(
                gateway_id=settings.gateway_id + "-2", session_ttl_s=60
            )
            async with (
                running_gateway(restarted) as second,
                device_client(second.base_url) as bob,
            ):
                back = await _next_of(events, Reconnected, timeout=20)
                assert back.relogged is True and back.player_id == player_id
                assert ann.session is not None and ann.session.session_id != old_session
                back_session = ann.session.session_id
                await _bob_passes_ann(bob, events)
                # A later drop of the connection finds the new session alive: no login.
                assert ann._live is not None
                ann._live.transport.abort()
                again = await _next_of(events, Reconnected)
                assert again.relogged is False
                assert ann.session.session_id == back_session


async def test_a_rank_that_moved_while_away_is_told_once_back(
    cluster_seeds: Seeds, clean_valkey: ValkeyCluster
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-away")
    async with (
        running_gateway(gateway_settings(cluster_seeds, "gw-stays")) as stays,
        running_gateway(settings) as first,
        device_client(first.base_url) as ann,
    ):
        events = await _watching_when_the_gateway_stops(ann, first)
        # Bob passes Ann while she is away: the push that would tell her is lost.
        async with device_client(stays.base_url) as bob:
            await bob.score_submit("global", 500)
        restarted = settings.with_overrides(gateway_id=settings.gateway_id + "-2")
        async with running_gateway(restarted):
            moved = await _next_of(events, RankChanged)
            assert (moved.board, moved.rank, moved.previous_rank) == ("global", 2, 1)
            assert moved.score is None
            await _next_of(events, Reconnected)
            assert (await ann.board_rank("global")).rank == moved.rank


async def test_a_match_found_while_away_is_told_once_back(
    gateway: Gateway, worker: MatchmakingWorker, cluster_seeds: Seeds, clean_valkey: ValkeyCluster
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-queued")
    async with running_gateway(settings) as first, device_client(first.base_url) as ann:
        ticket = await ann.match_join("duel")
        events = ann.events()
        await first_gateway_stops(first)
        # Bob is matched with Ann while her socket is down: her push is lost.
        async with device_client(gateway.base_url) as bob:
            bobs = bob.events(MatchFound)
            await bob.match_join("duel")
            theirs = await bobs.next(timeout=20)
            restarted = settings.with_overrides(gateway_id=settings.gateway_id + "-2")
            async with running_gateway(restarted):
                found = await _next_of(events, MatchFound)
                assert (found.ticket, found.match_id) == (ticket, theirs.match_id)
                assert (found.queue, found.teams, found.server) == ("duel", theirs.teams, None)
                await _next_of(events, Reconnected)


async def test_no_reconnect_after_an_admin_kick(gateway: Gateway) -> None:
    async with device_client(gateway.base_url) as ann:
        told = ann.events(SessionKicked, Closed)
        async with gateway.admin() as admin:
            kicked = await admin.delete(f"/admin/v1/players/{ann.player_id}/session")
            assert kicked.status_code == 204
        assert isinstance(await told.next(timeout=10), SessionKicked)
        end = await asyncio.wait_for(ann.wait_closed(), 10)
        assert end.code == 4403
        assert ann.closed == end and not ann.connected
        with pytest.raises(ClientClosed):
            await ann.ping()
        # The client's connection loop has ended: nothing will log it in again.
        assert ann._supervisor is not None and ann._supervisor.done()
        async with gateway.admin() as admin:
            player = (await admin.get(f"/admin/v1/players/{ann.player_id}")).json()
        assert player["session"] is None


async def test_no_reconnect_after_a_newer_login_replaces_the_session(gateway: Gateway) -> None:
    storage = MemoryStorage()
    async with device_client(gateway.base_url, storage) as old:
        closed = old.events(Closed)
        async with device_client(gateway.base_url, storage) as new:
            end = await closed.next(timeout=10)
            assert end.code == 4409
            assert old._supervisor is not None and old._supervisor.done()
            assert new.player_id == old.player_id
            assert await new.ping() > 0


async def first_gateway_stops(gateway: Gateway) -> None:
    """Stop an in-process gateway as a restart does (its sockets get 1001), and wait until
    its port refuses connections."""
    assert gateway.server is not None
    gateway.server.should_exit = True
    for _ in range(300):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", gateway.settings.port)
        except OSError:
            return
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.05)
    raise AssertionError("the gateway did not stop")


async def _next_of(stream: object, kind: type[E], timeout: float = 10) -> E:
    while True:
        event = await stream.next(timeout=timeout)  # type: ignore[attr-defined]
        if isinstance(event, kind):
            return event
