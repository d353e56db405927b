"""match_on, allocated servers and backfill over the game socket and the admin API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.store import MatchmakingStore
from domain.matchmaking.worker import MatchmakingWorker
from gameserver.push.match_notifier import GatewayMatchNotifier
from gameserver.workers.allocator import HttpAllocator
from tests.allocator_stub import Allocator
from tests.game_client import game_client
from tests.gateway_harness import Gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


@pytest_asyncio.fixture(loop_scope="session")
async def hosting_worker(gateway: Gateway) -> AsyncIterator[MatchmakingWorker]:
    """A worker that calls allocators, as `gameserver worker` does."""
    services = gateway.services
    http = HttpAllocator()
    running = MatchmakingWorker(
        MatchmakingStore(services.storage),
        services.clock,
        GatewayMatchNotifier(services.messenger),
        "w-hosting",
        limits=MatchmakingLimits(tick_s=0.05, allocator_timeout_s=0.5),
        allocator=http,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop))
    yield running
    stop.set()
    await asyncio.wait_for(task, 15)
    await http.aclose()


async def test_a_queue_with_an_unknown_field_is_refused(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        refused = await admin.post("/admin/v1/queues", json={"name": "q", "modes": ["a"]})
        assert refused.status_code == 400 and "modes" in refused.text
        bad_url = await admin.post("/admin/v1/queues", json={"name": "q", "allocator": "file:/x"})
        assert bad_url.status_code == 400
        assert (await admin.get("/admin/v1/matches/0123456789.ffff")).status_code == 404
    async with httpx.AsyncClient(base_url=gateway.base_url) as anonymous:
        path = "/admin/v1/matches/0123456789.ffff"
        assert (await anonymous.get(path)).status_code == 401
        assert (await anonymous.post(f"{path}/backfill", json={"open": []})).status_code == 401
        assert (await anonymous.delete(f"{path}/backfill")).status_code == 401


async def test_match_on_allocated_server_and_backfill_through_the_socket(
    gateway: Gateway, hosting_worker: MatchmakingWorker, allocator: Allocator
) -> None:
    allocator.answers = ["fail", "ok", "ok"]
    async with gateway.admin() as admin:
        created = await admin.post(
            "/admin/v1/queues",
            json={
                "name": "arena",
                "match_on": ["mode"],
                "allocator": f"http://127.0.0.1:{allocator.port}/",
                "window_start": 100.0,
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["match_on"] == ["mode"]
    base = gateway.base_url
    async with (
        game_client(base, "a") as a,
        game_client(base, "b") as b,
        game_client(base, "c") as c,
        game_client(base, "d") as d,
    ):
        missing = await a.call("match.join", queue="arena", properties={"map": "x"})
        assert missing["error"]["code"] == "bad_request"
        await a.ok("match.join", queue="arena", properties={"mode": "ctf", "hat": "red"})
        other = (await c.ok("match.join", queue="arena", properties={"mode": "dm"}))["ticket"]
        await b.ok("match.join", queue="arena", properties={"mode": "ctf"})
        found = await a.next_event("match.found")
        assert (await b.next_event("match.found"))["match_id"] == found["match_id"]
        assert found["server"] == {"address": "10.0.0.7", "port": 7777, "token": "t"}
        assert found["backfill"] is False
        # What a's ticket carried (the gateway adds the connection's region to it).
        assert {k: found["properties"]["a"][k] for k in ("mode", "hat")} == {
            "mode": "ctf",
            "hat": "red",
        }
        assert found["properties"]["b"]["mode"] == "ctf"
        assert (await c.ok("match.status", ticket=other))["state"] == "searching"
        match_id = found["match_id"]
        async with gateway.admin() as admin:
            opened = await admin.post(
                f"/admin/v1/matches/{match_id}/backfill", json={"open": [{"team": 0, "slots": 1}]}
            )
            assert opened.status_code == 202, opened.text
            assert opened.json()["backfill_id"]
            late = (await d.ok("match.join", queue="arena", properties={"mode": "ctf"}))["ticket"]
            added = await d.next_event("match.found")
            assert added["backfill"] is True and added["ticket"] == late
            assert added["match_id"] == match_id and added["server"] == found["server"]
            assert "d" in added["teams"][0]
            view = (await admin.get(f"/admin/v1/matches/{match_id}")).json()
            assert view["teams"] == added["teams"] and view["queue"] == "arena"
            assert view["server"] == found["server"] and view["state"] == "started"
            assert isinstance(view["created_at"], float)
            stopped = await admin.delete(f"/admin/v1/matches/{match_id}/backfill")
            assert stopped.status_code == 204
            # Once its result is in, the match is over: no more backfill.
            result = await admin.post(
                f"/admin/v1/matches/{match_id}/result", json={"ranks": [1, 2]}
            )
            assert result.status_code == 200, result.text
            again = await admin.post(
                f"/admin/v1/matches/{match_id}/backfill", json={"open": [{"team": 0, "slots": 1}]}
            )
            assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
            assert (await admin.get(f"/admin/v1/matches/{match_id}")).json()["state"] == "finished"
            metrics = (await admin.get("/metrics")).text
            assert 'gameserver_matchmaking_allocator_failures{queue="arena"} 1.0' in metrics
            with contextlib.suppress(Exception):
                await c.ok("match.cancel", ticket=other)


async def test_a_backfill_with_an_unknown_field_is_refused_before_anything_else(
    gateway: Gateway,
) -> None:
    async with gateway.admin() as admin:
        path = "/admin/v1/matches/0123456789.ffff/backfill"
        refused = await admin.post(path, json={"open": [{"team": 0, "slots": 1}], "slot": 1})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "bad_request" and "slot" in refused.text
