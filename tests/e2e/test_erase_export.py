"""GET /admin/v1/players/{id}/export and DELETE /admin/v1/players/{id} (erasure)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx
import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.errors import TicketNotFound
from domain.matchmaking.ratings import DEFAULT_RATING
from domain.matchmaking.store import PartitionKeys, code_of
from domain.matchmaking.worker import MatchmakingWorker
from tests.game_client import GameClient, device_login, game_client
from tests.gateway_harness import Gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")

DEVICE = "device-0123456789abcdef"


async def _everything_about(valkey: ValkeyCluster, needle: str) -> list[str]:
    """Every key, on every primary, whose name or content mentions `needle`."""
    found: list[str] = []
    wanted = needle.encode()
    for node in valkey.get_primaries():
        async for key in valkey.scan_iter(target_nodes=node, count=500):
            kind = (await valkey.type(key)).decode()
            content: list[bytes] = []
            if kind == "hash":
                for field, value in (await valkey.hgetall(key)).items():
                    content += [field, value]
            elif kind == "zset":
                content = await valkey.zrange(key, 0, -1)
            elif kind == "set":
                content = list(await valkey.smembers(key))
            elif kind == "string":
                content = [await valkey.get(key) or b""]
            elif kind == "list":
                content = await valkey.lrange(key, 0, -1)
            elif kind == "stream":
                for _, fields in await valkey.xrange(key):
                    for field, value in fields.items():
                        content += [field, value]
            if wanted in key or any(wanted in item for item in content):
                found.append(key.decode())
    return found


async def _play(gateway: Gateway, client: GameClient) -> None:
    """Leave a trace in every feature: name, session values, live and archived entries."""
    await client.ok("account.update", display_name="Erin")
    await client.ok("session.set", values={"deck": [1, 2, 3]})
    await client.ok(
        "score.submit", board="global", score=10, metadata={"map": "x"}, request_id="r1"
    )
    await client.ok("score.submit", board="weekly", score=5)
    async with gateway.admin() as admin:
        assert (await admin.post("/admin/v1/boards/weekly/reset")).status_code == 204
    await client.ok("score.submit", board="weekly", score=7)


async def _play_a_tournament_and_a_party(
    gateway: Gateway, client: GameClient, friend: GameClient
) -> str:
    """Leave what a board's rules keep (a seat, attempts, recent writes) and a party; the
    party's id."""
    async with gateway.admin() as admin:
        rules = {"join_required": True, "max_players": 10, "max_attempts": 3}
        cup = {"name": "cup", "writes_per_minute": 10, **rules}
        assert (await admin.post("/admin/v1/boards", json=cup)).status_code == 201
    await client.ok("board.join", board="cup")
    await client.ok("score.submit", board="cup", score=4)
    party: str = (await client.ok("party.create"))["party_id"]
    await client.ok("party.invite", party_id=party, player_id=friend.player_id)
    await friend.ok("party.accept", party_id=party)
    return party


async def _play_a_match_and_queue_as_a_party(
    gateway: Gateway, client: GameClient, friend: GameClient, party: str
) -> tuple[str, dict[str, Any]]:
    """Leave a matched ticket, a match record and its result, and a party's ticket that
    names the friend too; the match's id and the client's new rating."""
    await client.ok("match.join", queue="duel")
    await friend.ok("match.join", queue="duel")
    match_id: str = (await client.next_event("match.found"))["match_id"]
    await friend.next_event("match.found")
    async with gateway.admin() as admin:
        reported = await admin.post(f"/admin/v1/matches/{match_id}/result", json={"ranks": [1, 2]})
        assert reported.status_code == 200, reported.text
        pairs = {"name": "pairs", "team_size": 2, "teams": 2, "max_wait_s": 60, "parties": True}
        assert (await admin.post("/admin/v1/queues", json=pairs)).status_code == 201
    ticket = (await client.ok("match.join", queue="pairs", party_id=party))["ticket"]
    await friend.ok("match.cancel", ticket=ticket)
    return match_id, reported.json()["ratings"][client.player_id]


async def _nothing_left_about(valkey: ValkeyCluster, needle: str) -> list[str]:
    """What still mentions `needle` once the worker's next ticks have passed: a delivered
    push leaves its partition's outbox on the tick after its delivery."""
    for _ in range(50):
        found = await _everything_about(valkey, needle)
        if not found:
            break
        await asyncio.sleep(0.1)
    return found


async def test_export_holds_everything_about_the_player(gateway: Gateway) -> None:
    login = (await device_login(gateway.base_url, DEVICE)).json()
    player = login["player_id"]
    async with game_client(gateway.base_url, player, token=login["token"]) as client:
        await _play(gateway, client)
        async with gateway.admin() as admin:
            response = await admin.get(f"/admin/v1/players/{player}/export")
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["player_id"] == player
    account = export["account"]
    assert account["display_name"] == "Erin" and account["links"] == [{"kind": "device"}]
    assert account["ban"] is None
    boards = {(e["board"], e["score"]) for e in export["boards"]}
    assert boards == {("global", 10), ("weekly", 5), ("weekly", 7)}
    periods = {e["period"] for e in export["boards"] if e["board"] == "weekly"}
    assert len(periods) == 2
    assert export["session"]["values"] == {"deck": [1, 2, 3]}
    # No rated match yet: the default rating, as `GET /admin/v1/players/{id}` shows it.
    assert export["rating"] == DEFAULT_RATING.to_dict()
    assert export["party"] is None


async def test_export_holds_the_party_the_player_is_in(gateway: Gateway) -> None:
    async with (
        game_client(gateway.base_url, "ann") as ann,
        game_client(gateway.base_url, "bob") as bob,
    ):
        party = (await ann.ok("party.create"))["party_id"]
        await ann.ok("party.invite", party_id=party, player_id="bob")
        await bob.ok("party.accept", party_id=party)
        async with gateway.admin() as admin:
            export = (await admin.get("/admin/v1/players/bob/export")).json()
    assert export["party"] == {
        "party_id": party,
        "leader": "ann",
        "members": ["ann", "bob"],
        "invited": [],
    }


async def test_erase_leaves_nothing_of_the_player_in_valkey(
    gateway: Gateway, admin_valkey: ValkeyCluster, worker: MatchmakingWorker
) -> None:
    login = (await device_login(gateway.base_url, DEVICE)).json()
    player = login["player_id"]
    async with contextlib.AsyncExitStack() as stack:
        other = await stack.enter_async_context(game_client(gateway.base_url, "bystander"))
        await other.ok("score.submit", board="global", score=3)
        client = await stack.enter_async_context(
            game_client(gateway.base_url, player, token=login["token"])
        )
        await _play(gateway, client)
        party = await _play_a_tournament_and_a_party(gateway, client, other)
        match_id, rating = await _play_a_match_and_queue_as_a_party(gateway, client, other, party)
        assert await _everything_about(admin_valkey, player)
        async with gateway.admin() as admin:
            export = (await admin.get(f"/admin/v1/players/{player}/export")).json()
            assert export["rating"] == rating != DEFAULT_RATING.to_dict()
            assert (await admin.delete(f"/admin/v1/players/{player}")).status_code == 204
        assert await client.wait_closed() == 4403
        assert await _nothing_left_about(admin_valkey, player) == []
        top = await other.ok("board.top", board="global")
        assert [e["player_id"] for e in top["entries"]] == ["bystander"]
        # The bystander's match keeps its shape, the erased player's seat redacted.
        async with gateway.admin() as admin:
            match = (await admin.get(f"/admin/v1/matches/{match_id}")).json()
        assert sorted(p for team in match["teams"] for p in team) == ["(erased)", "bystander"]
    async with gateway.admin() as admin:
        assert (await admin.get(f"/admin/v1/players/{player}/export")).status_code == 404
        assert (await admin.delete(f"/admin/v1/players/{player}")).status_code == 404
    again = (await device_login(gateway.base_url, DEVICE)).json()
    assert again["created"] is True and again["player_id"] != player


async def test_a_device_id_is_kept_only_as_its_keyed_hash_and_never_logged(
    gateway: Gateway, admin_valkey: ValkeyCluster, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = "first-device-0123456789", "second-device-0123456789"
    with caplog.at_level(logging.DEBUG):
        login = (await device_login(gateway.base_url, first)).json()
        async with game_client(gateway.base_url, login["player_id"], token=login["token"]) as c:
            await c.ok("account.link", device_id=second)
            taken = await c.call("account.link", device_id="x" * 129)
            assert taken["error"]["code"] == "bad_request"
        assert (await device_login(gateway.base_url, first + "!")).status_code == 400
    # What the server logs (the test's own HTTP and socket clients log their frames).
    client_side = ("websockets.client", "httpx", "httpcore")
    server_log = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(client_side)
    )
    for device in (first, second):
        assert device not in server_log
        assert await _everything_about(admin_valkey, device) == []


async def test_erasing_or_exporting_an_unknown_player_is_not_found(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        assert (await admin.delete("/admin/v1/players/nobody")).status_code == 404
        assert (await admin.get("/admin/v1/players/nobody/export")).status_code == 404
        assert (await admin.delete("/admin/v1/players/bad%20id")).status_code == 400


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("wrong", 403)])
async def test_erase_and_export_need_the_admin_key(
    gateway: Gateway, key: str | None, status: int
) -> None:
    login = (await device_login(gateway.base_url, DEVICE)).json()
    headers: dict[str, Any] = {} if key is None else {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=gateway.base_url, headers=headers) as http:
        path = f"/admin/v1/players/{login['player_id']}"
        assert (await http.delete(path)).status_code == status
        assert (await http.get(path + "/export")).status_code == status
    assert (await device_login(gateway.base_url, DEVICE)).json()["created"] is False


async def test_erase_cancels_the_players_searching_ticket(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        ticket = (await client.ok("match.join", queue="duel"))["ticket"]
        async with gateway.admin() as admin:
            assert (await admin.delete("/admin/v1/players/p1")).status_code == 204
    # Cancelled (it waits no more) and, naming only the erased player, gone.
    async with gateway.admin() as admin:
        queues = (await admin.get("/admin/v1/queues")).json()["queues"]
    assert [q["waiting"] for q in queues if q["queue"] == "duel"] == [0]
    with pytest.raises(TicketNotFound):
        await gateway.services.matchmaking.status(ticket)
    async with game_client(gateway.base_url, "p1") as again:
        assert (await again.call("match.join", queue="duel"))["ok"] is True


async def test_a_match_with_an_erased_player_still_gets_its_result(
    gateway: Gateway, worker: MatchmakingWorker, admin_valkey: ValkeyCluster
) -> None:
    async with (
        game_client(gateway.base_url, "gone") as a,
        game_client(gateway.base_url, "stays") as b,
    ):
        await a.ok("match.join", queue="duel")
        await b.ok("match.join", queue="duel")
        match_id = (await b.next_event("match.found"))["match_id"]
        async with gateway.admin() as admin:
            assert (await admin.delete("/admin/v1/players/gone")).status_code == 204
            teams = (await admin.get(f"/admin/v1/matches/{match_id}")).json()["teams"]
            result = await admin.post(
                f"/admin/v1/matches/{match_id}/result",
                json={"ranks": [1, 2] if teams[1] == ["stays"] else [2, 1]},
            )
    assert result.status_code == 200, result.text
    # The erased seat played its part (the survivor lost to it) and is stored nowhere.
    ratings = result.json()["ratings"]
    assert list(ratings) == ["stays"] and ratings["stays"]["mu"] < 25.0
    assert await _nothing_left_about(admin_valkey, "gone") == []
    record = PartitionKeys(code_of(match_id) or "").match(match_id)
    assert await _everything_about(admin_valkey, "(erased)") == [record]


async def _erase(gateway: Gateway, player: str) -> None:
    async with gateway.admin() as admin:
        assert (await admin.delete(f"/admin/v1/players/{player}")).status_code == 204


async def test_a_login_whose_credential_an_erase_released_leaves_no_orphan_account(
    gateway: Gateway, admin_valkey: ValkeyCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    player = (await device_login(gateway.base_url, DEVICE)).json()["player_id"]
    store: Any = gateway.services.accounts._store
    real_resolve = store.resolve_credential

    async def resolve_then_erase(*args: Any) -> Any:
        # The erase lands after this login found the credential, before its account call.
        resolved = await real_resolve(*args)
        await _erase(gateway, player)
        return resolved

    monkeypatch.setattr(store, "resolve_credential", resolve_then_erase)
    raced = await device_login(gateway.base_url, DEVICE)
    monkeypatch.undo()
    assert raced.status_code == 409, raced.text
    assert await _nothing_left_about(admin_valkey, player) == []
    again = (await device_login(gateway.base_url, DEVICE)).json()
    assert again["created"] is True and again["player_id"] != player


async def test_a_login_whose_session_an_erase_missed_keeps_no_session(
    gateway: Gateway, admin_valkey: ValkeyCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    player = (await device_login(gateway.base_url, DEVICE)).json()["player_id"]
    sessions = gateway.services.sessions
    real_create = sessions.create

    async def erase_then_create(player_id: object, region: object = None) -> Any:
        # The whole erase lands after this login's account call, before its session: the
        # erase's kick finds no session to end.
        await _erase(gateway, player)
        return await real_create(player_id, region)

    monkeypatch.setattr(sessions, "create", erase_then_create)
    raced = await device_login(gateway.base_url, DEVICE)
    monkeypatch.undo()
    assert raced.status_code == 409, raced.text
    assert await _nothing_left_about(admin_valkey, player) == []
