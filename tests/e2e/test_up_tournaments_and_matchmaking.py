"""Tournaments and the matchmaking extras against `gameserver up`, as a studio runs it:
the embedded cluster, its worker with its own timings, an allocator and a webhook
receiver on 127.0.0.1, spoken to only through the public contract. Slow (a whole
cluster starts): `pytest -m slow tests/e2e/test_up_tournaments_and_matchmaking.py`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gameserver.embedded import find_free_base_port
from tests.allocator_stub import running_stub
from tests.cluster_helpers import until
from tests.game_client import GameClient, game_clients
from tests.gateway_harness import (
    ADMIN_KEY,
    env_without_settings,
    free_port,
    running_up,
    up_command,
)

pytestmark = pytest.mark.slow

SERVER = {"address": "10.0.0.7", "port": 7777, "token": "t"}


@contextlib.contextmanager
def gameserver_up(data_dir: Path) -> Iterator[str]:
    """`gameserver up` on free ports, with the tests' admin key; its base URL."""
    port, valkey_port = free_port(), find_free_base_port()
    env = env_without_settings(GAMESERVER_ADMIN_KEY=ADMIN_KEY)
    with running_up(up_command(data_dir, port, valkey_port), env, "admin key"):
        yield f"http://127.0.0.1:{port}"


async def _code(client: GameClient, op: str, **fields: Any) -> str:
    reply = await client.call(op, **fields)
    assert reply["ok"] is False, reply
    code: str = reply["error"]["code"]
    return code


async def _ended(client: GameClient) -> tuple[str, str, int, float]:
    event = await client.next_event("board.period_ended", 30)
    return event["board"], event["period"], event["rank"], event["score"]


async def test_a_tournament_and_queue_extras_through_the_contract_of_gameserver_up(
    tmp_path: Path,
) -> None:
    async with (
        running_stub(["fail", "slow", "ok"]) as allocator,
        running_stub(["fail", "ok"]) as receiver,
        contextlib.AsyncExitStack() as stack,
    ):
        base = stack.enter_context(gameserver_up(tmp_path / "data"))
        admin = await stack.enter_async_context(
            httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        )
        players = await game_clients(stack, base, ["ann", "bob", "cid", "dan", "eve", "fay"])
        ann, bob, cid, dan = (players[p] for p in ("ann", "bob", "cid", "dan"))

        # A tournament: 2 seats, 3 attempts, a 2 s window, a webhook failing once.
        start = int(time.time()) + 3
        created = await admin.post(
            "/admin/v1/boards",
            json={
                "name": "cup", "start_at": start, "end_at": start + 2, "max_players": 2,
                "max_attempts": 3, "join_required": True,
                "on_period_end": f"http://127.0.0.1:{receiver.port}/ended",
            },
        )  # fmt: skip
        assert created.status_code == 201, created.text
        listed = {b["name"]: b for b in (await ann.ok("board.list"))["boards"]}
        assert (listed["cup"]["end_at"], listed["cup"]["joined"]) == (start + 2, False)
        assert await _code(ann, "score.submit", board="cup", score=1) == "forbidden"
        await ann.ok("board.join", board="cup")
        await bob.ok("board.join", board="cup")
        assert await _code(cid, "board.join", board="cup") == "conflict"
        assert await _code(ann, "score.submit", board="cup", score=1) == "forbidden"
        await asyncio.sleep(max(0.0, start - time.time()) + 0.05)

        async def ann_plays() -> None:
            for score in (10, 30, 20):
                await ann.ok("score.submit", board="cup", score=score)
            assert await _code(ann, "score.submit", board="cup", score=99) == "forbidden"

        await asyncio.gather(ann_plays(), bob.ok("score.submit", board="cup", score=12))
        assert time.time() < start + 2, "the plays took longer than the window"
        await asyncio.sleep(max(0.0, start + 2 - time.time()) + 0.05)
        assert await _code(bob, "score.submit", board="cup", score=40) == "forbidden"
        trusted = await admin.post(
            "/admin/v1/boards/cup/scores", json={"player_id": "bob", "score": 1}
        )
        assert trusted.status_code == 403
        # up's own worker notices the end: pushes, then the webhook until it answers 2xx.
        assert await _ended(ann) == ("cup", "all", 1, 30)
        assert await _ended(bob) == ("cup", "all", 2, 12)
        await until(
            lambda: len(receiver.requests) == 2, "the webhook's second attempt", bound_s=30.0
        )
        headers, body = receiver.requests[-1]
        assert [(e["player_id"], e["rank"], e["score"]) for e in body["entries"]] == [
            ("ann", 1, 30), ("bob", 2, 12)
        ]  # fmt: skip
        assert headers["x-gameserver-delivery"].endswith(":all")
        [period] = (await admin.get("/admin/v1/boards/cup/periods")).json()["periods"]
        assert (period["period"], period["count"], period["ended"]) == ("all", 2, True)
        top = await cid.ok("board.top", board="cup")
        assert [e["player_id"] for e in top["entries"]] == ["ann", "bob"]

        # A reset ends a period too.
        assert (await admin.post("/admin/v1/boards", json={"name": "arena"})).status_code == 201
        await dan.ok("score.submit", board="arena", score=4)
        assert (await admin.post("/admin/v1/boards/arena/reset")).status_code == 204
        assert await _ended(dan) == ("arena", "all", 1, 4)

        # A queue matched on mode, with an allocator that fails, times out, then answers.
        refused = await admin.post("/admin/v1/queues", json={"name": "q", "matchon": ["mode"]})
        assert refused.status_code == 400
        created = await admin.post(
            "/admin/v1/queues",
            json={
                "name": "modes", "match_on": ["mode"], "window_start": 100.0,
                "allocator": f"http://127.0.0.1:{allocator.port}/allocate",
            },
        )  # fmt: skip
        assert created.status_code == 201, created.text
        await ann.ok("match.join", queue="modes", properties={"mode": "ctf", "hat": "red"})
        other = (await cid.ok("match.join", queue="modes", properties={"mode": "dm"}))["ticket"]
        await bob.ok("match.join", queue="modes", properties={"mode": "ctf"})
        found = await ann.next_event("match.found", 30)
        assert (await bob.next_event("match.found", 30))["match_id"] == found["match_id"]
        assert found["server"] == SERVER and found["backfill"] is False
        assert found["properties"]["ann"]["hat"] == "red"
        keys = [headers["idempotency-key"] for headers, _ in allocator.requests]
        assert keys == [found["match_id"]] * 3  # failed, timed out, answered
        assert (await cid.ok("match.status", ticket=other))["state"] == "searching"

        # Backfill: a slot opened on ann's team goes to the next ctf ticket.
        match_id = found["match_id"]
        team = next(i for i, t in enumerate(found["teams"]) if "ann" in t)
        opened = await admin.post(
            f"/admin/v1/matches/{match_id}/backfill", json={"open": [{"team": team, "slots": 1}]}
        )
        assert opened.status_code == 202, opened.text
        late = (await dan.ok("match.join", queue="modes", properties={"mode": "ctf"}))["ticket"]
        added = await dan.next_event("match.found", 30)
        assert (added["backfill"], added["ticket"], added["match_id"]) == (True, late, match_id)
        assert added["server"] == SERVER and sorted(added["teams"][team]) == ["ann", "dan"]
        view = (await admin.get(f"/admin/v1/matches/{match_id}")).json()
        assert view["teams"] == added["teams"] and view["state"] == "started"
        assert (await admin.delete(f"/admin/v1/matches/{match_id}/backfill")).status_code == 204
        await cid.ok("match.cancel", ticket=other)

        # Free-for-all: three of at most four start together once the fill wait is over.
        created = await admin.post(
            "/admin/v1/queues",
            json={"name": "ffa", "min_players": 2, "max_players": 4, "fill_wait_s": 2,
                  "window_start": 100.0},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        for name in ("cid", "eve", "fay"):
            await players[name].ok("match.join", queue="ffa")
        ffa = await cid.next_event("match.found", 30)
        assert sorted(ffa["teams"]) == [["cid"], ["eve"], ["fay"]]
