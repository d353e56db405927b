"""The metrics that run a game move when their event happens (scraped before and after)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from domain.matchmaking.store import MatchmakingStore
from domain.matchmaking.worker import MatchmakingWorker
from gameserver.http.sessions import login_kind
from gameserver.push.match_notifier import GatewayMatchNotifier
from tests.game_client import create_session, device_id_for, device_login, game_client
from tests.gateway_harness import Gateway, gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


async def scrape(gateway: Gateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        text = (await http.get("/metrics")).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


@contextlib.asynccontextmanager
async def observed_worker(gateway: Gateway) -> AsyncIterator[MatchmakingWorker]:
    """A matchmaking worker that reports its matches to the gateway's metrics, as the
    worker process reports to its own."""
    services = gateway.services
    worker = MatchmakingWorker(
        MatchmakingStore(services.storage),
        services.clock,
        GatewayMatchNotifier(services.messenger),
        "w-metrics",
        observer=services.metrics,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_logins_are_counted_by_credential_kind(gateway: Gateway) -> None:
    before = await scrape(gateway)
    assert (await device_login(gateway.base_url, device_id_for("metrics"))).status_code == 201
    await create_session(gateway.base_url, "trusted-player")
    refused = await device_login(gateway.base_url, "short")
    assert refused.status_code == 400
    after = await scrape(gateway)
    for kind, moved in (("device", 1), ("trusted", 1), ("provider", 0), ("dev", 0)):
        delta = value(after, "gameserver_logins_total", kind=kind) - value(
            before, "gameserver_logins_total", kind=kind
        )
        assert delta == moved, kind


async def test_sessions_online_follow_logged_in_sockets(gateway: Gateway) -> None:
    assert value(await scrape(gateway), "gameserver_sessions_online") == 0
    async with game_client(gateway.base_url, "a"), game_client(gateway.base_url, "b"):
        assert value(await scrape(gateway), "gameserver_sessions_online") == 2
    for _ in range(100):
        if value(await scrape(gateway), "gameserver_sessions_online") == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("sessions online did not fall back to 0")


async def test_board_writes_and_pushes_are_counted_per_board(gateway: Gateway) -> None:
    before = await scrape(gateway)
    async with game_client(gateway.base_url, "p1") as p1:
        await p1.ok("score.submit", board="global", score=10)
        await p1.ok("board.subscribe", board="global", top=3)
        await p1.next_event("board.top")
        async with gateway.admin() as admin:
            response = await admin.post(
                "/admin/v1/boards/global/scores", json={"player_id": "p2", "score": 20}
            )
            assert response.status_code == 200, response.text
        await p1.next_event("rank.changed")
    after = await scrape(gateway)
    writes = "gameserver_board_writes_total"
    assert value(after, writes, board="global") - value(before, writes, board="global") == 2
    pushes = "gameserver_board_pushes_total"
    assert value(after, pushes, board="global") - value(before, pushes, board="global") >= 2


async def test_valkey_round_trips_are_counted_by_node(gateway: Gateway) -> None:
    before = await scrape(gateway)
    async with game_client(gateway.base_url, "p1") as p1:
        await p1.ok("score.submit", board="global", score=10)
    after = await scrape(gateway)
    name = "gameserver_valkey_round_trips_total"
    assert total(after, name) > total(before, name)
    nodes = {dict(labels)["node"] for (n, labels) in after if n == name}
    # Labelled by node address ("host:port"): the cluster's nodes, nothing else.
    known = {node.name for node in gateway.services.cluster.get_nodes()}
    assert nodes and nodes <= known
    assert ("gameserver_valkey_errors_total", (("node", sorted(nodes)[0]),)) in after


async def test_queue_metrics_move_with_tickets_and_matches(gateway: Gateway) -> None:
    before = await scrape(gateway)
    assert value(before, "gameserver_matchmaking_tickets_waiting", queue="duel") == 0
    async with observed_worker(gateway):
        async with game_client(gateway.base_url, "a") as a, game_client(gateway.base_url, "b") as b:
            await a.ok("match.join", queue="duel")
            waiting = await scrape(gateway)
            assert value(waiting, "gameserver_matchmaking_tickets_waiting", queue="duel") == 1
            assert ("gameserver_matchmaking_oldest_wait_seconds", (("queue", "duel"),)) in waiting
            await b.ok("match.join", queue="duel")
            await a.next_event("match.found")
            await b.next_event("match.found")
    after = await scrape(gateway)
    made = "gameserver_matchmaking_matches_total"
    assert value(after, made, queue="duel") - value(before, made, queue="duel") == 1
    waits = "gameserver_matchmaking_wait_seconds_count"
    assert value(after, waits, queue="duel") - value(before, waits, queue="duel") == 2
    assert value(after, "gameserver_matchmaking_tickets_waiting", queue="duel") == 0
    assert value(after, "gameserver_matchmaking_oldest_wait_seconds", queue="duel") == 0


async def test_a_development_login_is_counted_as_dev(
    cluster_seeds: tuple[tuple[str, int], ...],
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-dev-metrics", dev_login=True)
    async with running_gateway(settings) as gateway:
        before = value(await scrape(gateway), "gameserver_logins_total", kind="dev")
        async with httpx.AsyncClient(base_url=gateway.base_url) as http:
            response = await http.post("/v1/sessions", json={"player_id": "dev-player"})
            assert response.status_code == 201, response.text
        after = value(await scrape(gateway), "gameserver_logins_total", kind="dev")
    assert after - before == 1


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"device_id": "d" * 16}, "device"),
        ({"provider": "google", "id_token": "t"}, "provider"),
        ({"player_id": "p"}, "dev"),
    ],
)
def test_each_credential_is_counted_under_its_own_kind(body: dict[str, object], kind: str) -> None:
    assert login_kind(body) == kind
