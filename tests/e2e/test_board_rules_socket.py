"""Score rules and tournaments through the public contract: the admin API creates boards
with rules, game clients meet every refusal code, list the boards and join them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx
import pytest

from tests.game_client import GameClient, game_client, game_clients
from tests.gateway_harness import Gateway, gateway_process, gateway_settings

pytestmark = pytest.mark.usefixtures("clean_valkey")


async def _create(admin: httpx.AsyncClient, **board: Any) -> dict[str, Any]:
    response = await admin.post("/admin/v1/boards", json=board)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _code(client: GameClient, op: str, **fields: Any) -> str:
    reply = await client.call(op, **fields)
    assert reply["ok"] is False, reply
    code: str = reply["error"]["code"]
    return code


async def test_the_admin_api_creates_boards_with_rules_and_refuses_bad_ones(
    gateway: Gateway,
) -> None:
    async with gateway.admin() as admin:
        rules = {"min_score": 0, "max_score": 100, "max_attempts": 3, "join_required": True}
        created = await _create(admin, name="cup", **rules)
        assert {k: created[k] for k in rules} == rules
        assert created["client_writes"] is True
        view = (await admin.get("/admin/v1/boards/cup")).json()
        assert view["max_attempts"] == 3
        for bad in (
            {"min_score": 5, "max_score": 4},
            {"start_at": 20, "end_at": 10},
            {"max_players": 0},
            {"max_step": 3},  # a best board has no steps
            {"client_writes": "no"},
            {"max_tries": 3},
        ):
            response = await admin.post("/admin/v1/boards", json={"name": "bad", **bad})
            assert response.status_code == 400, (bad, response.text)
            assert response.json()["error"]["code"] == "bad_request"


async def test_each_refused_write_answers_its_code_and_is_counted(gateway: Gateway) -> None:
    now = int(time.time())
    async with gateway.admin() as admin, contextlib.AsyncExitStack() as stack:
        await _create(admin, name="ranged", max_score=100)
        await _create(admin, name="servers", client_writes=False)
        await _create(admin, name="paced", writes_per_minute=1)
        await _create(admin, name="later", start_at=now + 3600, end_at=now + 7200)
        await _create(admin, name="tries", max_attempts=1)
        await _create(admin, name="club", join_required=True, max_players=1)
        clients = await game_clients(stack, gateway.base_url, ["p1", "p2"])
        p1, p2 = clients["p1"], clients["p2"]
        assert await _code(p1, "score.submit", board="ranged", score=101) == "bad_request"
        assert await _code(p1, "score.submit", board="servers", score=1) == "forbidden"
        await p1.ok("score.submit", board="paced", score=1)
        assert await _code(p1, "score.submit", board="paced", score=2) == "rate_limited"
        assert await _code(p1, "score.submit", board="later", score=1) == "forbidden"
        await p1.ok("score.submit", board="tries", score=1)
        assert await _code(p1, "score.submit", board="tries", score=2) == "forbidden"
        assert await _code(p1, "score.submit", board="club", score=1) == "forbidden"
        await p1.ok("board.join", board="club")
        assert await _code(p2, "board.join", board="club") == "conflict"
        # The trusted server writes where clients may not.
        response = await admin.post(
            "/admin/v1/boards/servers/scores", json={"player_id": p1.player_id, "score": 5}
        )
        assert response.status_code == 200, response.text
        response = await admin.post(
            "/admin/v1/boards/ranged/scores", json={"player_id": p1.player_id, "score": 101}
        )
        assert response.status_code == 400
        metrics = (await admin.get("/metrics")).text
    for board, reason, count in (
        ("ranged", "above_max", 2),
        ("servers", "client_writes", 1),
        ("paced", "rate", 1),
        ("later", "not_started", 1),
        ("tries", "attempts", 1),
        ("club", "not_joined", 1),
        ("club", "full", 1),
    ):
        line = f'gameserver_refused_writes_total{{board="{board}",reason="{reason}"}} {count}.0'
        assert line in metrics, line


async def test_board_list_and_board_join_through_the_socket(gateway: Gateway) -> None:
    async with gateway.admin() as admin, game_client(gateway.base_url, "p1") as p1:
        end = int(time.time()) + 3600
        await _create(admin, name="cup", join_required=True, max_players=2, end_at=end)
        listed = {b["name"]: b for b in (await p1.ok("board.list"))["boards"]}
        assert set(listed) == {"global", "weekly", "cup"}
        cup = listed["cup"]
        for field in ("order", "operator", "reset", "period", "period_ends_at", "start_at"):
            assert field in cup
        assert (cup["end_at"], cup["players"], cup["max_players"], cup["joined"]) == (
            end,
            0,
            2,
            False,
        )
        assert listed["weekly"]["period_ends_at"] > time.time()
        joined = await p1.ok("board.join", board="cup")
        assert (joined["board"], joined["players"]) == ("cup", 1)
        assert (await p1.ok("board.join", board="cup"))["players"] == 1
        again = {b["name"]: b for b in (await p1.ok("board.list"))["boards"]}
        assert (again["cup"]["players"], again["cup"]["joined"]) == (1, True)
        await p1.ok("score.submit", board="cup", score=7)
        assert await _code(p1, "board.join", board="nope") == "not_found"
        assert await _code(p1, "board.join", board="global") == "bad_request"
        assert await _code(p1, "board.join") == "bad_request"


async def test_a_tournament_of_two_seconds_and_three_attempts_across_two_gateways(
    gateway: Gateway, cluster_seeds: tuple[tuple[str, int], ...]
) -> None:
    with gateway_process(gateway_settings(cluster_seeds, "gw-b")) as other:
        async with gateway.admin() as admin, contextlib.AsyncExitStack() as stack:
            here = await game_clients(stack, gateway.base_url, ["ann", "bob"])
            there = await game_clients(stack, other.base_url, ["cid"])
            ann, bob, cid = here["ann"], here["bob"], there["cid"]
            # The window opens 3 to 4 s from now, after the joins (room for a busy machine),
            # and lasts 2 s.
            start = int(time.time()) + 4
            await _create(
                admin, name="cup", join_required=True, max_attempts=3, start_at=start,
                end_at=start + 2,
            )  # fmt: skip
            for player in (ann, bob, cid):
                await player.ok("board.join", board="cup")
            assert await _code(ann, "score.submit", board="cup", score=1) == "forbidden"
            # ann's session has a socket on each gateway (opened now: the window is short).
            ann_there = await stack.enter_async_context(
                game_client(other.base_url, ann.player_id, ann.token)
            )
            await asyncio.sleep(max(0.0, start - time.time()) + 0.05)

            async def ann_plays() -> None:
                # Three attempts per player, whichever gateway takes them.
                await ann.ok("score.submit", board="cup", score=10)
                await ann_there.ok("score.submit", board="cup", score=30)
                await ann.ok("score.submit", board="cup", score=20)
                assert await _code(ann_there, "score.submit", board="cup", score=99) == "forbidden"

            await asyncio.gather(
                ann_plays(),
                cid.ok("score.submit", board="cup", score=25),
                bob.ok("score.submit", board="cup", score=5),
            )
            assert time.time() < start + 2, "the plays took longer than the window"
            await asyncio.sleep(max(0.0, start + 2 - time.time()) + 0.05)
            assert await _code(cid, "score.submit", board="cup", score=40) == "forbidden"
            assert await _code(bob, "board.join", board="cup") == "forbidden"
            # Read-only now, results readable on both gateways.
            for reader in (bob, cid):
                top = await reader.ok("board.top", board="cup")
                assert [(e["player_id"], e["score"]) for e in top["entries"]] == [
                    (ann.player_id, 30),
                    (cid.player_id, 25),
                    (bob.player_id, 5),
                ]
            response = await admin.post(
                "/admin/v1/boards/cup/scores", json={"player_id": bob.player_id, "score": 50}
            )
            assert response.status_code == 403
