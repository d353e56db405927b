"""Push fan-out: many subscribers of one board while a game server keeps changing its top.

Each new score posted through the trusted-server API tops the board, so it changes the top
entries (a `board.top` push to every subscriber) and moves every subscriber down one rank
(a `rank.changed` push to each). The gateway coalesces both, so deliveries per second are
bounded by subscribers x (10 + 10) with the default coalescing. Figures are counted twice:
what the gateway queued (its `gameserver_pushes_total` metric) and what this client got.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from loadtest.bench import admin as admin_api
from loadtest.bench.compare import Target
from loadtest.bench.gateway_clients import Player, close_all, open_players
from loadtest.bench.latency import percentile
from loadtest.protocol import push_lag_ms

FANOUT_BOARD = "bench-fanout"
PUSH_METRIC = "gameserver_pushes_total"
WRITERS = 4


@dataclass
class FanoutResult:
    subscribers: int
    duration_s: float
    writes: int = 0
    received: Counter[str] = field(default_factory=Counter)
    received_per_s: float = 0.0
    queued_per_s: float | None = None
    lag_p50_ms: float | None = None
    lag_p99_ms: float | None = None
    pushes_without_ts: int = 0
    sockets_closed: int = 0
    client_cpu: float | None = None
    gateway_cpu: float | None = None
    unavailable: str | None = None
    worker_cpu: float | None = None
    valkey_cpu: float | None = None
    # Gateway CPU per push received (the fan-out's cost), the load before the window and
    # why it counts as a busy-machine figure (empty: quiet enough).
    gateway_us_per_delivery: float | None = None
    load_before: float | None = None
    busy: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        body = dict(self.__dict__)
        body["received"] = dict(self.received)
        return body


async def _subscribe(player: Player) -> str | None:
    reply = await player.call("board.subscribe", board=FANOUT_BOARD, top=10)
    if reply.get("ok") is True:
        return None
    error = reply.get("error") or {}
    return f"board.subscribe: {error.get('code')}: {error.get('message')}"


async def _probe_subscribe(target: Target, run_tag: str) -> str | None:
    """Whether the server offers board.subscribe, asked by one player before thousands log in."""
    players = await open_players(
        target.url,
        [f"fan-probe-{run_tag}"],
        client_key=target.client_key,
        admin_key=target.admin_key,
    )
    try:
        return await _subscribe(players[0])
    finally:
        await close_all([p.socket for p in players])


async def _receive(
    socket: ClientConnection,
    result: FanoutResult,
    lags: list[float],
    measuring: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    try:
        async for frame in socket:
            if stop.is_set():
                return
            if not measuring.is_set():
                continue
            push = orjson.loads(frame)
            event = push.get("event")
            if event is None:
                continue
            result.received[str(event)] += 1
            lag = push_lag_ms(push, time.time() * 1000)
            if lag is None:
                result.pushes_without_ts += 1
            else:
                lags.append(lag)
    except ConnectionClosed:
        result.sockets_closed += 1


async def run_fanout(
    target: Target, subscribers: int, *, warmup_s: float, duration_s: float, run_tag: str
) -> FanoutResult:
    result = FanoutResult(subscribers=subscribers, duration_s=duration_s)
    async with admin_api.admin_client(target.url, target.admin_key, concurrency=8) as admin:
        problem = await admin_api.ensure_board(admin, FANOUT_BOARD)
        if problem:
            result.unavailable = problem
            return result
        problem = await _probe_subscribe(target, run_tag)
        if problem:
            result.unavailable = problem
            return result
        ids = [f"fan-{run_tag}-{i}" for i in range(subscribers)]
        # Subscribers hold ranks (low scores), so every new top score moves them all down.
        filled, refusals = await admin_api.fill_board(
            admin, FANOUT_BOARD, {p: float(i) for i, p in enumerate(ids)}
        )
        if filled == 0:
            result.unavailable = f"subscriber scores refused: {refusals[:2]}"
            return result
        players = await open_players(
            target.url, ids, client_key=target.client_key, admin_key=target.admin_key
        )
        try:
            problems = [p for p in await asyncio.gather(*map(_subscribe, players)) if p]
            if problems:
                result.unavailable = problems[0]
                return result
            await _drive(target, admin, players, result, warmup_s, duration_s, run_tag)
        finally:
            await close_all([p.socket for p in players])
            await admin_api.wait_for_no_sockets(admin)
    return result


async def _drive(
    target: Target,
    admin: Any,
    players: list[Player],
    result: FanoutResult,
    warmup_s: float,
    duration_s: float,
    run_tag: str,
) -> None:
    measuring, stop = asyncio.Event(), asyncio.Event()
    lags: list[float] = []
    readers = [
        asyncio.create_task(_receive(p.socket, result, lags, measuring, stop)) for p in players
    ]
    scores = itertools.count(10**9)
    new_players = itertools.count()

    async def write_until(deadline: float) -> None:
        # Each writer posts a new top score every 0.1 s: with WRITERS of them, more new
        # tops than the coalescing (10 pushes a second per board) lets through.
        while time.perf_counter() < deadline:
            player_id = f"fan-top-{run_tag}-{next(new_players)}"
            await admin.post(
                f"/admin/v1/boards/{FANOUT_BOARD}/scores",
                {"player_id": player_id, "score": next(scores)},
            )
            result.writes += 1
            await asyncio.sleep(0.1)

    begin = time.perf_counter()
    end = begin + warmup_s + duration_s
    writers = [asyncio.create_task(write_until(end)) for _ in range(WRITERS)]
    await asyncio.sleep(warmup_s)
    meter = target.meter()
    queued_before = await admin_api.metric_total(admin, PUSH_METRIC)
    meter.start()
    measuring.set()
    started = time.perf_counter()
    await asyncio.sleep(duration_s)
    measuring.clear()
    elapsed = time.perf_counter() - started
    used = meter.stop()
    result.client_cpu, result.gateway_cpu = used.client, used.gateway
    result.worker_cpu, result.valkey_cpu = used.worker, used.valkey
    result.load_before, result.busy = used.load_before, used.busy_reasons
    queued_after = await admin_api.metric_total(admin, PUSH_METRIC)
    await asyncio.gather(*writers)
    stop.set()
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    result.duration_s = round(elapsed, 3)
    result.received_per_s = round(sum(result.received.values()) / elapsed, 1)
    if result.gateway_cpu is not None and result.received_per_s > 0:
        per_delivery = result.gateway_cpu / result.received_per_s * 1e6
        result.gateway_us_per_delivery = round(per_delivery, 1)
    # A counter that did not move while pushes arrived is not counting these pushes.
    if queued_before is not None and queued_after is not None and queued_after > queued_before:
        result.queued_per_s = round((queued_after - queued_before) / elapsed, 1)
    lags.sort()
    if lags:
        result.lag_p50_ms = round(percentile(lags, 0.5), 2)
        result.lag_p99_ms = round(percentile(lags, 0.99), 2)
