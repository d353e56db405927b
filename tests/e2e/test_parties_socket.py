"""Parties over the game socket: consent, pushes on any gateway, queueing as a party."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from domain.matchmaking.worker import MatchmakingWorker
from tests.game_client import GameClient, game_client, game_clients
from tests.gateway_harness import Gateway, gateway_process, gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")

Seeds = tuple[tuple[str, int], ...]


async def form_party(leader: GameClient, *members: GameClient) -> str:
    """`leader` creates a party; each member is invited, told, and accepts."""
    party_id: str = (await leader.ok("party.create"))["party_id"]
    for member in members:
        await leader.ok("party.invite", party_id=party_id, player_id=member.player_id)
        invited = await member.next_event("party.invited")
        assert invited["party_id"] == party_id
        await member.ok("party.accept", party_id=party_id)
    return party_id


async def create_queue(gateway: Gateway, name: str, team_size: int) -> None:
    async with gateway.admin() as admin:
        body = {"name": name, "team_size": team_size, "teams": 2}
        created = await admin.post("/admin/v1/queues", json=body)
        assert created.status_code == 201, created.text


async def test_an_invite_accepted_makes_a_member_and_every_member_hears(gateway: Gateway) -> None:
    async with contextlib.AsyncExitStack() as stack:
        c = await game_clients(stack, gateway.base_url, ["a", "b"])
        party_id = (await c["a"].ok("party.create"))["party_id"]
        await c["a"].ok("party.invite", party_id=party_id, player_id="b")
        invited = await c["b"].next_event("party.invited")
        assert isinstance(invited.pop("ts"), int)  # every push has its server time
        assert invited == {"event": "party.invited", "party_id": party_id, "from": "a"}
        view = await c["a"].ok("party.get", party_id=party_id)
        assert (view["leader"], view["members"], view["invited"]) == ("a", ["a"], ["b"])
        await c["b"].ok("party.accept", party_id=party_id)
        for player in ("a", "b"):
            updated = await c[player].next_event("party.updated")
            while updated["members"] != ["a", "b"]:
                updated = await c[player].next_event("party.updated")
            assert (updated["party_id"], updated["leader"]) == (party_id, "a")
            assert isinstance(updated["ts"], int)
        view = await c["b"].ok("party.get", party_id=party_id)
        assert (view["leader"], view["members"], view["invited"]) == ("a", ["a", "b"], [])


async def test_members_on_two_gateways_get_invites_and_updates(
    gateway: Gateway, cluster_seeds: Seeds
) -> None:
    with gateway_process(gateway_settings(cluster_seeds, "gw-party")) as other:
        async with (
            game_client(gateway.base_url, "a") as a,
            game_client(other.base_url, "b") as b,
            game_client(other.base_url, "c") as c,
        ):
            party_id = (await a.ok("party.create"))["party_id"]
            await a.ok("party.invite", party_id=party_id, player_id="b")
            assert (await b.next_event("party.invited"))["from"] == "a"
            await b.ok("party.accept", party_id=party_id)
            await a.ok("party.invite", party_id=party_id, player_id="c")
            assert (await c.next_event("party.invited"))["party_id"] == party_id
            await c.ok("party.accept", party_id=party_id)
            # The leader leaves on gateway A: both members on gateway B hear the handover.
            await a.ok("party.leave", party_id=party_id)
            for member in (b, c):
                updated = await member.next_event("party.updated")
                while updated["members"] != ["b", "c"]:
                    updated = await member.next_event("party.updated")
                assert updated["leader"] == "b"
            assert (await c.ok("party.get", party_id=party_id))["leader"] == "b"
            refused = await a.call("party.get", party_id=party_id)
            assert refused["error"]["code"] == "forbidden"


async def test_a_party_queues_together_and_is_matched_as_one_team(
    gateway: Gateway, worker: MatchmakingWorker
) -> None:
    await create_queue(gateway, "duo", team_size=2)
    async with contextlib.AsyncExitStack() as stack:
        c = await game_clients(stack, gateway.base_url, ["a", "b", "x", "y"])
        first = await form_party(c["a"], c["b"])
        second = await form_party(c["x"], c["y"])
        ticket = (await c["a"].ok("match.join", queue="duo", party_id=first))["ticket"]
        await c["x"].ok("match.join", queue="duo", party_id=second)
        found = {p: await c[p].next_event("match.found") for p in c}
        assert found["a"]["ticket"] == found["b"]["ticket"] == ticket
        assert sorted(map(sorted, found["a"]["teams"])) == [["a", "b"], ["x", "y"]]
        assert len({event["match_id"] for event in found.values()}) == 1


@pytest_asyncio.fixture(loop_scope="session")
async def duo(
    gateway: Gateway, worker: MatchmakingWorker
) -> AsyncIterator[tuple[dict[str, GameClient], str]]:
    """Queue `duo` (2 teams of 2), a party of a and b, and z outside it."""
    await create_queue(gateway, "duo", team_size=2)
    async with contextlib.AsyncExitStack() as stack:
        c = await game_clients(stack, gateway.base_url, ["a", "b", "z"])
        yield c, await form_party(c["a"], c["b"])


async def test_any_member_may_cancel_the_partys_ticket(
    duo: tuple[dict[str, GameClient], str],
) -> None:
    c, party_id = duo
    ticket = (await c["a"].ok("match.join", queue="duo", party_id=party_id))["ticket"]
    assert (await c["z"].call("match.cancel", ticket=ticket))["error"]["code"] == "forbidden"
    await c["b"].ok("match.cancel", ticket=ticket)
    assert (await c["a"].ok("match.status", ticket=ticket))["state"] == "cancelled"


async def test_queueing_a_party_is_for_its_leader_and_its_members_free(
    duo: tuple[dict[str, GameClient], str],
) -> None:
    c, party_id = duo
    member = await c["b"].call("match.join", queue="duo", party_id=party_id)
    assert member["error"]["code"] == "forbidden"
    stranger = await c["z"].call("match.join", queue="duo", party_id=party_id)
    assert stranger["error"]["code"] == "forbidden"
    old = await c["a"].call("match.join", queue="duo", party=["a", "b"])
    assert old["error"]["code"] == "bad_request"
    # A member already searching alone keeps the whole party out.
    solo = (await c["b"].ok("match.join", queue="duel"))["ticket"]
    busy = await c["a"].call("match.join", queue="duo", party_id=party_id)
    assert busy["error"]["code"] == "conflict"
    await c["b"].ok("match.cancel", ticket=solo)
    await c["a"].ok("match.join", queue="duo", party_id=party_id)


async def test_party_refusals(gateway: Gateway) -> None:
    async with contextlib.AsyncExitStack() as stack:
        names = ["lead", *(f"m{i}" for i in range(1, 8)), "ninth", "z"]
        c = await game_clients(stack, gateway.base_url, names)
        party_id = await form_party(c["lead"], *(c[f"m{i}"] for i in range(1, 8)))

        async def code(player: str, op: str, **fields: object) -> str:
            reply = await c[player].call(op, **fields)
            assert reply["ok"] is False, reply
            error: str = reply["error"]["code"]
            return error

        assert await code("m1", "party.invite", party_id=party_id, player_id="z") == "forbidden"
        assert await code("m1", "party.kick", party_id=party_id, player_id="m2") == "forbidden"
        assert await code("z", "party.accept", party_id=party_id) == "forbidden"  # no invite
        assert await code("z", "party.decline", party_id=party_id) == "forbidden"
        await c["lead"].ok("party.invite", party_id=party_id, player_id="z")
        await c["z"].ok("party.decline", party_id=party_id)
        assert await code("z", "party.accept", party_id=party_id) == "forbidden"  # declined
        assert await code("m1", "party.create") == "conflict"  # in a party already
        await c["lead"].ok("party.invite", party_id=party_id, player_id="ninth")
        assert await code("ninth", "party.accept", party_id=party_id) == "conflict"  # full
        assert await code("z", "party.get", party_id=party_id) == "forbidden"
        assert await code("z", "party.get", party_id="ffffffffffffffff") == "not_found"
        assert await code("z", "party.get", party_id="nope") == "bad_request"
        assert await code("lead", "party.invite", party_id=party_id, player_id="x y") == (
            "bad_request"
        )
        view = await c["lead"].ok("party.get", party_id=party_id)
        assert view["members"] == ["lead", *(f"m{i}" for i in range(1, 8))]
        assert view["invited"] == ["ninth"]
        # A kick frees a seat; the kicked member hears it and may start their own party.
        await c["lead"].ok("party.kick", party_id=party_id, player_id="m7")
        kicked = await c["m7"].next_event("party.updated")
        while "m7" in kicked["members"]:
            kicked = await c["m7"].next_event("party.updated")
        await c["ninth"].ok("party.accept", party_id=party_id)
        await c["m7"].ok("party.create")
        await c["ninth"].ok("party.leave", party_id=party_id)
        assert await code("ninth", "party.leave", party_id=party_id) == "forbidden"


async def test_an_expired_invite_cannot_be_accepted(cluster_seeds: Seeds) -> None:
    settings = gateway_settings(cluster_seeds, "gw-short-invites", party_invite_ttl_s=0.5)
    async with (
        running_gateway(settings) as gateway,
        game_client(gateway.base_url, "a") as a,
        game_client(gateway.base_url, "b") as b,
    ):
        party_id = (await a.ok("party.create"))["party_id"]
        await a.ok("party.invite", party_id=party_id, player_id="b")
        await b.next_event("party.invited")
        await asyncio.sleep(0.6)
        late = await b.call("party.accept", party_id=party_id)
        assert late["error"]["code"] == "forbidden"
        assert (await a.ok("party.get", party_id=party_id))["invited"] == []
        # Invited again, in time, they join.
        await a.ok("party.invite", party_id=party_id, player_id="b")
        await b.ok("party.accept", party_id=party_id)
