"""Bans: the socket closed with 4403, logins refused with the ban's end and reason, unban."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import httpx
import pytest

from tests.game_client import create_session, device_login, game_client, game_clients
from tests.gateway_harness import Gateway, gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")

DEVICE = "device-0123456789abcdef"


async def _ban(gateway: Gateway, player: str, body: Any) -> httpx.Response:
    async with gateway.admin() as admin:
        return await admin.post(f"/admin/v1/players/{player}/ban", json=body)


async def _trusted_login(gateway: Gateway, player: str) -> httpx.Response:
    async with gateway.admin() as admin:
        return await admin.post("/admin/v1/sessions", json={"player_id": player})


async def test_a_ban_closes_the_socket_on_its_gateway_and_refuses_logins(
    gateway: Gateway, cluster_seeds: tuple[tuple[str, int], ...]
) -> None:
    login = (await device_login(gateway.base_url, DEVICE)).json()
    player, until = login["player_id"], int(time.time()) + 3600
    async with running_gateway(gateway_settings(cluster_seeds, "gw-b")) as other:
        async with game_client(other.base_url, player, token=login["token"]) as client:
            await client.ok("ping")
            banned = await _ban(gateway, player, {"until": until, "reason": "cheating"})
            assert banned.status_code == 204
            assert await client.wait_closed() == 4403
    refused = await device_login(gateway.base_url, DEVICE)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "forbidden"
    assert error["banned_until"] == until and error["reason"] == "cheating"
    assert (await _trusted_login(gateway, player)).status_code == 403
    async with gateway.admin() as admin:
        export = (await admin.get(f"/admin/v1/players/{player}/export")).json()
    assert export["account"]["ban"] == {"until": until, "reason": "cheating"}
    async with game_client(gateway.base_url, player, token=login["token"]) as again:
        assert await again.wait_closed() == 4401


async def test_a_login_racing_a_ban_is_refused_and_keeps_no_session(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    player = (await device_login(gateway.base_url, DEVICE)).json()["player_id"]
    sessions = gateway.services.sessions
    real_create = sessions.create

    async def create_after_a_ban(player_id: object, region: object = None) -> Any:
        # The ban lands after this login's own ban check, before its session exists: the
        # ban's kick finds no session to end.
        assert (await _ban(gateway, player, {"until": None, "reason": "race"})).status_code == 204
        return await real_create(player_id, region)

    monkeypatch.setattr(sessions, "create", create_after_a_ban)
    raced = await device_login(gateway.base_url, DEVICE)
    monkeypatch.undo()
    assert raced.status_code == 403, raced.text
    assert raced.json()["error"]["reason"] == "race"
    async with gateway.admin() as admin:
        view = (await admin.get(f"/admin/v1/players/{player}")).json()
    assert view["session"] is None


async def test_a_ban_cancels_the_players_searching_ticket(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        ticket = (await client.ok("match.join", queue="duel"))["ticket"]
        assert (await _ban(gateway, "p1", {"until": None, "reason": "cheat"})).status_code == 204
    # Nobody is matched with a player banned while searching.
    assert await gateway.services.matchmaking.status(ticket) == "cancelled"


async def test_a_banned_party_leader_leaves_the_party_and_the_next_member_leads(
    gateway: Gateway,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        c = await game_clients(stack, gateway.base_url, ["boss", "m1", "m2"])
        party_id = (await c["boss"].ok("party.create"))["party_id"]
        for member in ("m1", "m2"):
            await c["boss"].ok("party.invite", party_id=party_id, player_id=member)
            await c[member].next_event("party.invited")
            await c[member].ok("party.accept", party_id=party_id)
        assert (await _ban(gateway, "boss", {"until": None, "reason": "cheat"})).status_code == 204
        assert await c["boss"].wait_closed() == 4403
        for member in ("m1", "m2"):
            updated = await c[member].next_event("party.updated")
            while updated["members"] != ["m1", "m2"]:
                updated = await c[member].next_event("party.updated")
            assert updated["leader"] == "m1"
        view = await c["m2"].ok("party.get", party_id=party_id)
        assert (view["leader"], view["members"]) == ("m1", ["m1", "m2"])
        # The new leader leads: the party is not stuck with a banned leader.
        await c["m1"].ok("party.kick", party_id=party_id, player_id="m2")
    assert await gateway.services.parties.party_of("boss") is None


async def test_a_ban_without_end_lasts_until_lifted(gateway: Gateway) -> None:
    await create_session(gateway.base_url, "p1")
    assert (await _ban(gateway, "p1", {"until": None, "reason": "abuse"})).status_code == 204
    refused = await _trusted_login(gateway, "p1")
    assert refused.status_code == 403
    assert refused.json()["error"]["banned_until"] is None
    async with gateway.admin() as admin:
        view = (await admin.get("/admin/v1/players/p1")).json()
    assert view["ban"] == {"until": None, "reason": "abuse"}
    async with gateway.admin() as admin:
        assert (await admin.delete("/admin/v1/players/p1/ban")).status_code == 204
    assert (await _trusted_login(gateway, "p1")).status_code == 201


async def test_a_ban_that_ended_refuses_nothing(gateway: Gateway) -> None:
    player = (await device_login(gateway.base_url, DEVICE)).json()["player_id"]
    past = int(time.time()) - 10
    assert (await _ban(gateway, player, {"until": past, "reason": "x"})).status_code == 204
    assert (await device_login(gateway.base_url, DEVICE)).status_code == 201


@pytest.mark.parametrize(
    "body",
    [{"until": "soon"}, {"until": -1}, {"until": True}, {"until": None, "reason": 5}, [1]],
)
async def test_a_bad_ban_is_a_bad_request_and_bans_nobody(gateway: Gateway, body: Any) -> None:
    await create_session(gateway.base_url, "p1")
    assert (await _ban(gateway, "p1", body)).status_code == 400
    assert (await _trusted_login(gateway, "p1")).status_code == 201


async def test_banning_or_unbanning_an_unknown_player_is_not_found(gateway: Gateway) -> None:
    assert (await _ban(gateway, "nobody", {"until": None, "reason": "x"})).status_code == 404
    async with gateway.admin() as admin:
        assert (await admin.delete("/admin/v1/players/nobody/ban")).status_code == 404


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("wrong", 403)])
async def test_a_ban_needs_the_admin_key(gateway: Gateway, key: str | None, status: int) -> None:
    await create_session(gateway.base_url, "p1")
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=gateway.base_url, headers=headers) as http:
        response = await http.post("/admin/v1/players/p1/ban", json={"until": None})
    assert response.status_code == status
    assert (await _trusted_login(gateway, "p1")).status_code == 201
