"""The Python client SDK against a real gateway: logins, ops, pushes and typed errors."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest
from gameserver_client import (
    BadRequest,
    ClientClosed,
    ConnectionLost,
    GameClient,
    JsonFileStorage,
    MatchFound,
    MemoryStorage,
    NotFound,
    PartyInvited,
    PartyUpdated,
    RankChanged,
    RequestTimeout,
    ServerError,
    Unauthorized,
)
from gameserver_client.storage import DEVICE_ID_KEY

from domain.matchmaking.worker import MatchmakingWorker
from tests.clients.conftest import device_client
from tests.gateway_harness import Gateway, free_port, gateway_settings, running_gateway
from tests.identity_tokens import SigningKey, provider, write_jwks

pytestmark = pytest.mark.usefixtures("clean_valkey")


async def test_device_login_keeps_one_account_per_stored_device_id(gateway: Gateway) -> None:
    storage = MemoryStorage()
    async with device_client(gateway.base_url, storage) as first:
        first_id = first.player_id
        assert first.session is not None and first.session.created
        assert await first.ping() > 0
    device = storage.get(DEVICE_ID_KEY)
    assert device is not None and 16 <= len(device) <= 128
    async with device_client(gateway.base_url, storage) as again:
        assert again.player_id == first_id
        assert again.session is not None and not again.session.created
    async with device_client(gateway.base_url, MemoryStorage()) as other:
        assert other.player_id != first_id


async def test_json_file_storage_keeps_the_device_id_across_instances(
    gateway: Gateway, tmp_path: Path
) -> None:
    path = tmp_path / "save" / "device.json"
    async with device_client(gateway.base_url, JsonFileStorage(path)) as first:
        first_id = first.player_id
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    async with device_client(gateway.base_url, JsonFileStorage(path)) as again:
        assert again.player_id == first_id


async def test_a_refused_login_raises_the_class_of_its_code(gateway: Gateway) -> None:
    storage = MemoryStorage()
    storage.set(DEVICE_ID_KEY, "short")
    client = GameClient(gateway.base_url)
    with pytest.raises(BadRequest) as refused:
        await client.login_device(storage)
    assert refused.value.code == "bad_request"
    await client.close()


async def test_a_login_that_cannot_reach_the_server_raises_connection_lost() -> None:
    # Nothing listens there: the game shows "offline, try again", not a stack trace.
    client = GameClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ConnectionLost):
        await client.login_device(MemoryStorage())
    await client.close()


async def test_scores_and_board_reads_carry_display_names(gateway: Gateway) -> None:
    async with (
        device_client(gateway.base_url, display_name="Ann") as ann,
        device_client(gateway.base_url, display_name="Bob") as bob,
    ):
        first = await ann.score_submit("global", 100, metadata={"level": 3})
        assert (first.board, first.score, first.rank, first.previous_rank) == (
            "global",
            100,
            1,
            None,
        )
        second = await bob.score_submit("global", 250)
        assert second.rank == 1
        page = await ann.board_top("global", 10)
        assert [(e.rank, e.player_id, e.display_name, e.score) for e in page.entries] == [
            (1, bob.player_id, "Bob", 250),
            (2, ann.player_id, "Ann", 100),
        ]
        assert page.entries[1].metadata == {"level": 3}
        assert page.next_cursor is None
        around = await ann.board_around("global", radius=1)
        assert [e.player_id for e in around] == [bob.player_id, ann.player_id]
        mine = await ann.board_rank("global")
        assert (mine.player_id, mine.rank, mine.score) == (ann.player_id, 2, 100)
        theirs = await ann.board_rank("global", bob.player_id)
        assert theirs.rank == 1
        players = await bob.board_players("global", [ann.player_id])
        assert [(e.rank, e.display_name) for e in players] == [(2, "Ann")]
        names = {board.name for board in await ann.board_list()}
        assert {"global", "weekly"} <= names


async def test_errors_are_typed_by_their_code(gateway: Gateway) -> None:
    async with device_client(gateway.base_url) as client:
        with pytest.raises(NotFound) as unknown:
            await client.board_top("no-such-board")
        assert unknown.value.code == "not_found"
        with pytest.raises(BadRequest):
            await client.board_top("global", limit=1000)
        with pytest.raises(NotFound):
            await client.board_rank("global")
        with pytest.raises(ServerError) as generic:
            await client.call("no.such.op")
        assert generic.value.code == "bad_request"
        # A refused request leaves the socket usable.
        assert await client.ping() > 0


async def test_subscribers_get_rank_changed_by_iteration_and_callback(gateway: Gateway) -> None:
    async with device_client(gateway.base_url) as ann, device_client(gateway.base_url) as bob:
        await ann.score_submit("global", 100)
        seen: list[RankChanged] = []
        ann.on(RankChanged, seen.append)
        ranks = ann.events(RankChanged)
        assert await ann.board_subscribe("global", top=0) == 1
        assert ann.subscriptions == {"global": 0}
        await bob.score_submit("global", 500)
        changed = await ranks.next(timeout=10)
        assert (changed.board, changed.rank, changed.previous_rank, changed.score) == (
            "global",
            2,
            1,
            100,
        )
        assert seen and seen[0] == changed


async def test_two_clients_are_matched_in_duel(gateway: Gateway, worker: MatchmakingWorker) -> None:
    async with device_client(gateway.base_url) as ann, device_client(gateway.base_url) as bob:
        ann_found = ann.events(MatchFound)
        bob_found = bob.events(MatchFound)
        ann_ticket = await ann.match_join("duel")
        bob_ticket = await bob.match_join("duel")
        a = await ann_found.next(timeout=15)
        b = await bob_found.next(timeout=15)
        assert a.match_id == b.match_id and a.queue == "duel"
        assert (a.ticket, b.ticket) == (ann_ticket, bob_ticket)
        assert sorted(p for team in a.teams for p in team) == sorted([ann.player_id, bob.player_id])
        assert a.backfill is False
        assert await ann.match_status(ann_ticket) == "matched"


async def test_party_invite_push_and_accept(gateway: Gateway) -> None:
    async with device_client(gateway.base_url) as ann, device_client(gateway.base_url) as bob:
        invites = bob.events(PartyInvited)
        updates = ann.events(PartyUpdated)
        party_id = await ann.party_create()
        await ann.party_invite(party_id, bob.player_id)
        invite = await invites.next(timeout=10)
        assert (invite.party_id, invite.from_player) == (party_id, ann.player_id)
        await bob.party_accept(party_id)
        while True:
            update = await updates.next(timeout=10)
            if bob.player_id in update.members:
                break
        assert update.leader == ann.player_id
        assert update.members == [ann.player_id, bob.player_id]
        party = await bob.party_get(party_id)
        assert (party.leader, party.members) == (ann.player_id, [ann.player_id, bob.player_id])


async def test_logout_stops_the_client_for_good(gateway: Gateway) -> None:
    async with device_client(gateway.base_url) as client:
        await client.session_logout()
        assert client.closed is not None and client.closed.code == 1000
        with pytest.raises(ClientClosed):
            await client.ping()
        async with gateway.admin() as admin:
            player = (await admin.get(f"/admin/v1/players/{client.player_id}")).json()
        assert player["session"] is None


async def test_the_client_pings_by_itself_to_keep_its_session(gateway: Gateway) -> None:
    registry = gateway.services.metrics.registry

    def pings() -> float:
        return registry.get_sample_value("gameserver_requests_total", {"op": "ping"}) or 0.0

    async with device_client(gateway.base_url, keepalive_s=0.1) as client:
        before = pings()
        for _ in range(100):
            if pings() >= before + 3:
                break
            await asyncio.sleep(0.05)
        assert pings() >= before + 3
        assert client.connected


async def test_provider_login_keys_the_account_by_subject(
    cluster_seeds: tuple[tuple[str, int], ...], clean_valkey: object, tmp_path: Path
) -> None:
    key = SigningKey.make("k-sdk")
    jwks_path = write_jwks(tmp_path / "jwks.json", key)
    providers = json.dumps(provider("studio", jwks_file=str(jwks_path)))
    settings = gateway_settings(cluster_seeds, "gw-sdk-id", auth_providers=providers)
    async with running_gateway(settings) as gw:
        async with GameClient(gw.base_url) as first:
            session = await first.login_provider("studio", key.token("user-1"))
            assert session.created
        fresh_tokens: list[str] = []

        async def token_source() -> str:
            fresh_tokens.append(key.token("user-1"))
            return fresh_tokens[-1]

        async with GameClient(gw.base_url) as again:
            assert (await again.login_provider("studio", token_source)).player_id == (
                session.player_id
            )
            assert len(fresh_tokens) == 1
        other = GameClient(gw.base_url)
        with pytest.raises(Unauthorized):
            await other.login_provider("studio", SigningKey.make("k-sdk").token("user-1"))
        await other.close()


async def test_a_call_past_its_timeout_raises_and_its_late_reply_is_dropped(
    gateway: Gateway,
) -> None:
    async with device_client(gateway.base_url) as client:
        with pytest.raises(RequestTimeout) as late:
            await client.board_top("global", timeout=0)
        assert late.value.code == "timeout"
        # The late reply of the first call does not answer the next one.
        assert (await client.score_submit("global", 5)).rank == 1
        assert (await client.board_top("global")).entries[0].score == 5
