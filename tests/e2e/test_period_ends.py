"""Period ends through the public contract: `board.period_ended` to the players online
when a tournament's window closes, a board is reset or a daily period rolls over; the
periods endpoint; the signed `on_period_end` webhook, retried until it answers 2xx, and
delivered by a new worker after the first one was killed."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.clock import FixedClock
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.period_ends import PeriodEndOutbox
from domain.leaderboards.service import LeaderboardService
from gameserver.push.control import PlayerMessenger
from gameserver.workers.period_ends import SIGNATURE_HEADER, PeriodEndWorker
from tests.cluster_helpers import eventually, until
from tests.game_client import GameClient, game_client, game_clients
from tests.gateway_harness import (
    ADMIN_KEY,
    Gateway,
    free_port,
    gateway_process,
    gateway_settings,
)
from tests.gateway_harness import worker_process as harness_worker

pytestmark = pytest.mark.usefixtures("clean_valkey")
Seeds = tuple[tuple[str, int], ...]


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 500 `failures` times, then 200; the
    first `holds` requests get no answer until `release` is set."""

    def __init__(self, failures: int, holds: int = 0) -> None:
        self.failures = failures
        self.holds = holds
        self.release = asyncio.Event()
        self.attempts: list[tuple[bytes, dict[str, str]]] = []
        self.delivered: list[dict[str, Any]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/ended"

    async def ended(self, request: Request) -> Response:
        body = await request.body()
        self.attempts.append((body, dict(request.headers)))
        if self.holds > 0:
            self.holds -= 1
            await self.release.wait()
            return Response(status_code=500)
        if self.failures > 0:
            self.failures -= 1
            return Response(status_code=500)
        self.delivered.append(orjson.loads(body))
        return Response(status_code=204)


@contextlib.asynccontextmanager
async def running_receiver(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = Starlette(routes=[Route("/ended", receiver.ended, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=receiver.port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.should_exit = True
        await asyncio.wait_for(task, 10)


_QUICK_PERIOD_ENDS = {
    "GAMESERVER_PERIOD_CHECK_S": "0.1",
    "GAMESERVER_PERIOD_LEASE_S": "2",
    "GAMESERVER_WEBHOOK_BACKOFF_S": "0.2",
    "GAMESERVER_WEBHOOK_BACKOFF_MAX_S": "0.5",
    "GAMESERVER_WEBHOOK_TIMEOUT_S": "2",
}


@contextlib.contextmanager
def worker_process(seeds: Seeds, **env_vars: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real `gameserver worker` looking every 0.1 s, with short leases and backoff."""
    with harness_worker(seeds, **{**_QUICK_PERIOD_ENDS, **env_vars}) as process:
        yield process


async def _create(admin: httpx.AsyncClient, **board: Any) -> dict[str, Any]:
    response = await admin.post("/admin/v1/boards", json=board)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _outbox_empty(outbox: PeriodEndOutbox) -> Callable[[], Awaitable[bool]]:
    """A check for `eventually`: every period end is done (the outbox has no job)."""

    async def empty() -> bool:
        return not await outbox.pending()

    return empty


async def _no_event(client: GameClient, name: str) -> None:
    with pytest.raises(TimeoutError):
        await client.next_event(name, timeout=0.5)


def _in_process_worker(
    gateway: Gateway, leaderboards: LeaderboardService, clock: FixedClock | None = None
) -> PeriodEndWorker:
    services = gateway.services
    return PeriodEndWorker(
        leaderboards,
        services.messenger,
        services.accounts,
        clock or services.clock,
        gateway.settings,
        "w-test",
    )


class _Millis:
    """Equal to any integer: a push's server time `ts` (Unix ms)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and not isinstance(other, bool)


def _ended(board: str, period: str, rank: int, score: float) -> dict[str, Any]:
    return {"event": "board.period_ended", "board": board, "period": period, "rank": rank,
            "score": score, "ts": _Millis()}  # fmt: skip


async def test_players_online_get_their_final_rank_when_a_tournament_window_closes(
    gateway: Gateway, cluster_seeds: Seeds
) -> None:
    with (
        gateway_process(gateway_settings(cluster_seeds, "gw-b")) as other,
        worker_process(cluster_seeds),
    ):
        async with gateway.admin() as admin, contextlib.AsyncExitStack() as stack:
            here = await game_clients(stack, gateway.base_url, ["ann", "bob"])
            there = await game_clients(stack, other.base_url, ["cid"])
            ann, bob, cid = here["ann"], here["bob"], there["cid"]
            # The window lasts 4 s: room for the plays below on a busy machine.
            start = int(time.time()) + 2
            await _create(admin, name="cup", max_attempts=3, start_at=start, end_at=start + 4)
            await asyncio.sleep(max(0.0, start - time.time()) + 0.05)
            await ann.ok("score.submit", board="cup", score=10)
            await ann.ok("score.submit", board="cup", score=30)
            # Three attempts each, the fourth refused, whichever gateway a player is on.
            for score in (15, 25, 22):
                await cid.ok("score.submit", board="cup", score=score)
            reply = await cid.call("score.submit", board="cup", score=99)
            assert reply["error"]["code"] == "forbidden", reply
            await bob.ok("score.submit", board="cup", score=5)
            # dan plays, then leaves before the end: offline players get nothing.
            async with game_client(other.base_url, "dan") as dan:
                await dan.ok("score.submit", board="cup", score=20)
            async with game_client(gateway.base_url, "eve") as eve:  # online, no entry
                # The window closes at start + 4; the worker notices within 0.1 s.
                assert await ann.next_event("board.period_ended", 10) == _ended("cup", "all", 1, 30)
                assert await cid.next_event("board.period_ended", 10) == _ended("cup", "all", 2, 25)
                assert await bob.next_event("board.period_ended", 10) == _ended("cup", "all", 4, 5)
                await _no_event(eve, "board.period_ended")
            # Once: later checks find the end claimed and push nothing again.
            await _no_event(ann, "board.period_ended")
            async with game_client(other.base_url, "dan") as dan:
                await _no_event(dan, "board.period_ended")
            # The results stay readable by a trusted server, and are final.
            [period] = (await admin.get("/admin/v1/boards/cup/periods")).json()["periods"]
            assert (period["period"], period["count"], period["end_at"]) == ("all", 4, start + 4)
            assert period["ended"] is True
            view = (await admin.get("/admin/v1/boards/cup", params={"period": "all"})).json()
            assert [(e["player_id"], e["rank"]) for e in view["entries"]] == [
                ("ann", 1), ("cid", 2), ("dan", 3), ("bob", 4)
            ]  # fmt: skip


async def test_a_reset_pushes_the_archived_period_to_players_online(gateway: Gateway) -> None:
    async with (
        gateway.admin() as admin,
        contextlib.AsyncExitStack() as stack,
        running_receiver(Receiver(failures=0)) as receiver,
    ):
        players = await game_clients(stack, gateway.base_url, ["ann", "bob"])
        await _create(admin, name="arena", order="asc", on_period_end=receiver.url)
        await players["ann"].ok("score.submit", board="arena", score=7)
        await players["bob"].ok("score.submit", board="arena", score=3)
        assert (await admin.post("/admin/v1/boards/arena/reset")).status_code == 204
        worker = _in_process_worker(gateway, gateway.services.leaderboards)
        async with httpx.AsyncClient() as http:
            await worker.check(http)
        assert await players["bob"].next_event("board.period_ended") == _ended("arena", "all", 1, 3)
        assert await players["ann"].next_event("board.period_ended") == _ended("arena", "all", 2, 7)
        # The webhook gets the archived period's results too.
        [delivered] = receiver.delivered
        assert delivered["period"] == "all"
        assert [(e["player_id"], e["rank"]) for e in delivered["entries"]] == [
            ("bob", 1), ("ann", 2)
        ]  # fmt: skip
        # A second reset ends `all.1`, which nobody played: nothing to push.
        assert (await admin.post("/admin/v1/boards/arena/reset")).status_code == 204
        async with httpx.AsyncClient() as http:
            await worker.check(http)
        await _no_event(players["ann"], "board.period_ended")
        assert await gateway.services.leaderboards.period_ends.pending() == []


async def test_the_push_reaches_players_online_on_every_page_of_a_big_period(
    gateway: Gateway,
) -> None:
    leaderboards = gateway.services.leaderboards
    await leaderboards.create_board(BoardConfig(name="big"))
    # 250 entries: three pages of pushes; the players online are on the first and last.
    await asyncio.gather(
        *(leaderboards.submit("big", f"p{i:03d}", 1000 - i, trusted=True) for i in range(248))
    )
    await leaderboards.submit("big", "amy", 5000, trusted=True)
    await leaderboards.submit("big", "zed", 1, trusted=True)
    async with contextlib.AsyncExitStack() as stack:
        players = await game_clients(stack, gateway.base_url, ["amy", "zed"])
        await leaderboards.reset("big")
        async with httpx.AsyncClient() as http:
            await _in_process_worker(gateway, leaderboards).check(http)
        assert await players["amy"].next_event("board.period_ended") == _ended(
            "big", "all", 1, 5000
        )
        assert await players["zed"].next_event("board.period_ended") == _ended("big", "all", 250, 1)
    assert await leaderboards.period_ends.pending() == []


async def test_a_daily_rollover_pushes_the_day_that_ended(gateway: Gateway) -> None:
    day = datetime(2030, 3, 4, tzinfo=UTC).timestamp()
    clock = FixedClock(day + 3600)
    leaderboards = LeaderboardService(gateway.services.storage, clock, default_boards=())
    worker = _in_process_worker(gateway, leaderboards, clock)
    async with (
        contextlib.AsyncExitStack() as stack,
        httpx.AsyncClient() as http,
        running_receiver(Receiver(failures=0)) as receiver,
    ):
        config = BoardConfig(name="daily", reset="daily", on_period_end=receiver.url)
        await leaderboards.create_board(config)
        await leaderboards.submit("daily", "ann", 40, trusted=True)
        await leaderboards.submit("daily", "bob", 50, trusted=True)
        players = await game_clients(stack, gateway.base_url, ["ann", "bob"])
        clock.set(day + 86400 - 1)  # the last second of the day: nothing ended
        await worker.check(http)
        await _no_event(players["ann"], "board.period_ended")
        clock.set(day + 86400 + 1)
        await worker.check(http)
        assert await players["bob"].next_event("board.period_ended") == _ended(
            "daily", "2030-03-04", 1, 50
        )
        assert await players["ann"].next_event("board.period_ended") == _ended(
            "daily", "2030-03-04", 2, 40
        )
        await worker.check(http)
        # Another worker (another process) finds the end claimed: nothing again.
        await _in_process_worker(gateway, leaderboards, clock).check(http)
        await _no_event(players["ann"], "board.period_ended")
    # The webhook got the day that ended, once.
    assert [(d["period"], d["ended_at"], len(d["entries"])) for d in receiver.delivered] == [
        ("2030-03-04", day + 86400, 2)
    ]
    periods = await leaderboards.periods("daily")
    assert [(p.period, p.count, p.live, p.ended) for p in periods] == [
        ("2030-03-05", 0, True, False), ("2030-03-04", 2, False, True)
    ]  # fmt: skip
    assert (periods[1].start_at, periods[1].end_at) == (day, day + 86400)


async def test_the_periods_endpoint_lists_live_and_archived_periods_readable_by_name(
    gateway: Gateway,
) -> None:
    async with gateway.admin() as admin:
        await _create(admin, name="arena")
        for player, score in (("ann", 5), ("bob", 9)):
            response = await admin.post(
                "/admin/v1/boards/arena/scores", json={"player_id": player, "score": score}
            )
            assert response.status_code == 200, response.text
        assert (await admin.post("/admin/v1/boards/arena/reset")).status_code == 204
        response = await admin.post(
            "/admin/v1/boards/arena/scores", json={"player_id": "cid", "score": 1}
        )
        assert response.status_code == 200
        assert (await admin.post("/admin/v1/boards/arena/reset")).status_code == 204
        listed = (await admin.get("/admin/v1/boards/arena/periods")).json()["periods"]
        assert [(p["period"], p["count"], p["live"], p["ended"]) for p in listed] == [
            ("all.2", 0, True, False), ("all.1", 1, False, True), ("all", 2, False, True)
        ]  # fmt: skip
        archive = (await admin.get("/admin/v1/boards/arena", params={"period": "all"})).json()
        assert [(e["player_id"], e["score"]) for e in archive["entries"]] == [
            ("bob", 9), ("ann", 5)
        ]  # fmt: skip
        assert (await admin.get("/admin/v1/boards/nothing/periods")).status_code == 404


async def test_the_admin_api_refuses_a_webhook_that_is_not_http(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        for bad in ("ftp://example.com/x", "file:///etc/passwd", "http://", "not a url", 5):
            response = await admin.post(
                "/admin/v1/boards", json={"name": "cup", "on_period_end": bad}
            )
            assert response.status_code == 400, (bad, response.text)
        for bad_top in (0, 1001, "10"):
            response = await admin.post(
                "/admin/v1/boards",
                json={
                    "name": "cup",
                    "on_period_end": "https://x.test/e",
                    "on_period_end_top": bad_top,
                },
            )
            assert response.status_code == 400, (bad_top, response.text)
        created = await _create(admin, name="cup", on_period_end="https://x.test/e")
        assert (created["on_period_end"], created["on_period_end_top"]) == ("https://x.test/e", 100)


async def test_the_webhook_is_retried_until_it_answers_2xx_and_delivered_once_signed(
    gateway: Gateway,
) -> None:
    start = datetime(2030, 3, 4, tzinfo=UTC).timestamp()
    clock = FixedClock(start)
    leaderboards = LeaderboardService(gateway.services.storage, clock, default_boards=())
    async with running_receiver(Receiver(failures=2)) as receiver:
        config = BoardConfig(
            name="cup", end_at=int(start) + 60, on_period_end=receiver.url, on_period_end_top=2
        )
        await leaderboards.create_board(config)
        for player, score in (("ann", 30), ("bob", 10), ("cid", 20)):
            await leaderboards.submit("cup", player, score, trusted=True)
        worker = _in_process_worker(gateway, leaderboards, clock)
        async with httpx.AsyncClient() as http:
            await worker.check(http)
            assert receiver.attempts == []  # still open
            clock.set(start + 61)
            await worker.check(http)  # 500
            await worker.check(http)  # backing off: not tried again yet
            assert len(receiver.attempts) == 1
            clock.advance(gateway.settings.webhook_backoff_s)
            await worker.check(http)  # 500
            clock.advance(2 * gateway.settings.webhook_backoff_s)
            await worker.check(http)  # 2xx
            clock.advance(3600)
            await worker.check(http)
    assert len(receiver.attempts) == 3
    assert receiver.delivered == [
        {
            "board": "cup",
            "period": "all",
            "ended_at": start + 60,
            "entries": [
                {
                    "rank": 1,
                    "player_id": "ann",
                    "display_name": None,
                    "score": 30,
                    "metadata": None,
                },
                {
                    "rank": 2,
                    "player_id": "cid",
                    "display_name": None,
                    "score": 20,
                    "metadata": None,
                },
            ],
        }
    ]
    body, headers = receiver.attempts[-1]
    expected = hmac.new(ADMIN_KEY.encode(), body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER.lower()] == f"sha256={expected}"
    assert await leaderboards.period_ends.pending() == []


async def test_a_webhook_attempt_ends_within_the_lease_whatever_its_configured_timeout(
    gateway: Gateway,
) -> None:
    start = datetime(2030, 3, 4, tzinfo=UTC).timestamp()
    clock = FixedClock(start)
    leaderboards = LeaderboardService(gateway.services.storage, clock, default_boards=())
    # A timeout longer than the lease would let another worker take the job and POST it
    # again while this one still waits: the attempt is cut at half the lease.
    settings = replace(gateway.settings, period_lease_s=1.0, webhook_timeout_s=600.0)
    services = gateway.services
    worker = PeriodEndWorker(
        leaderboards, services.messenger, services.accounts, clock, settings, "w-test"
    )
    async with running_receiver(Receiver(failures=0, holds=1)) as receiver:
        await leaderboards.create_board(
            BoardConfig(name="cup", end_at=int(start) + 60, on_period_end=receiver.url)
        )
        await leaderboards.submit("cup", "ann", 30, trusted=True)
        clock.set(start + 61)
        async with httpx.AsyncClient() as http:
            await asyncio.wait_for(worker.check(http), 20)  # the held attempt timed out
            assert len(receiver.attempts) == 1
            [job] = await leaderboards.period_ends.pending()
            assert (job.attempts, job.lease) == (1, "")
            clock.advance(settings.webhook_backoff_s)
            await asyncio.wait_for(worker.check(http), 20)
        assert [d["period"] for d in receiver.delivered] == ["all"]
        assert await leaderboards.period_ends.pending() == []


class SlowMessenger(PlayerMessenger):
    """The gateways' messenger, whose pushes take most of a lease on the test's clock."""

    def __init__(self, inner: PlayerMessenger, clock: FixedClock, takes_s: float) -> None:
        self.inner, self.clock, self.takes_s = inner, clock, takes_s

    async def push_each(self, events: Mapping[str, dict[str, Any]]) -> None:
        await self.inner.push_each(events)
        self.clock.advance(self.takes_s)


async def test_a_webhook_attempt_starts_with_a_fresh_lease_however_long_the_pushes_took(
    gateway: Gateway,
) -> None:
    start = datetime(2030, 3, 4, tzinfo=UTC).timestamp()
    clock = FixedClock(start)
    leaderboards = LeaderboardService(gateway.services.storage, clock, default_boards=())
    settings = gateway.settings
    lease = settings.period_lease_s
    messenger = SlowMessenger(gateway.services.messenger, clock, 0.9 * lease)
    worker = PeriodEndWorker(
        leaderboards, messenger, gateway.services.accounts, clock, settings, "w-test"
    )
    async with running_receiver(Receiver(failures=0, holds=1)) as receiver:
        await leaderboards.create_board(
            BoardConfig(name="cup", end_at=int(start) + 60, on_period_end=receiver.url)
        )
        await leaderboards.submit("cup", "ann", 30, trusted=True)
        clock.set(start + 61)
        async with httpx.AsyncClient() as http:
            checking = asyncio.create_task(worker.check(http))
            await until(lambda: receiver.attempts, "the webhook attempt")
            # 1.1 leases after the take, 0.2 after the attempt began: still this worker's.
            clock.advance(0.2 * lease)
            assert await leaderboards.period_ends.take("w-other", clock.now(), lease) is None
            receiver.release.set()
            await asyncio.wait_for(checking, 20)
        [job] = await leaderboards.period_ends.pending()
        assert (job.pushed, job.attempts) == (True, 1)


async def test_a_new_worker_delivers_the_webhook_a_killed_worker_left(
    gateway: Gateway, cluster_seeds: Seeds
) -> None:
    async with running_receiver(Receiver(failures=10**6)) as receiver, gateway.admin() as admin:
        # Room for the writes below on a busy machine: a board past its end refuses them.
        end = int(time.time()) + 5
        await _create(admin, name="cup", end_at=end, on_period_end=receiver.url)
        for player, score in (("ann", 30), ("bob", 10)):
            response = await admin.post(
                "/admin/v1/boards/cup/scores", json={"player_id": player, "score": score}
            )
            assert response.status_code == 200, response.text
        with worker_process(cluster_seeds) as first:
            await until(lambda: len(receiver.attempts) >= 2, "the first worker's attempts")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        pending = await gateway.services.leaderboards.period_ends.pending()
        assert [(job.board, job.period) for job in pending] == [("cup", "all")]
        receiver.failures = 0
        tried = len(receiver.attempts)
        with worker_process(cluster_seeds):
            await until(lambda: receiver.delivered, "the second worker's delivery")
            for _ in range(200):
                if not await gateway.services.leaderboards.period_ends.pending():
                    break
                await asyncio.sleep(0.05)
        assert len(receiver.attempts) == tried + 1
        assert [
            [(e["player_id"], e["rank"], e["score"]) for e in delivered["entries"]]
            for delivered in receiver.delivered
        ] == [[("ann", 1, 30), ("bob", 2, 10)]]
        assert await gateway.services.leaderboards.period_ends.pending() == []


async def test_the_push_and_the_webhook_arrive_once_though_workers_die_holding_the_end(
    gateway: Gateway, cluster_seeds: Seeds
) -> None:
    receiver = Receiver(failures=0, holds=1)
    leaderboards = gateway.services.leaderboards
    outbox = leaderboards.period_ends
    async with (
        running_receiver(receiver),
        gateway.admin() as admin,
        contextlib.AsyncExitStack() as stack,
    ):
        other = stack.enter_context(gateway_process(gateway_settings(cluster_seeds, "gw-b")))
        ann = (await game_clients(stack, gateway.base_url, ["ann"]))["ann"]
        cid = (await game_clients(stack, other.base_url, ["cid"]))["cid"]
        end = int(time.time()) + 3  # room for the writes on a busy machine
        await _create(admin, name="cup", end_at=end, on_period_end=receiver.url)
        await ann.ok("score.submit", board="cup", score=30)
        await cid.ok("score.submit", board="cup", score=20)
        await asyncio.sleep(max(0.0, end - time.time()) + 0.05)
        # A worker claims the end and takes its job, then dies before pushing anything:
        # this is what it leaves in Valkey (the same two calls a worker makes first).
        assert await outbox.claim_ended(await leaderboards.boards(), time.time()) == 1
        assert await outbox.take("w-dead", time.time(), 2.0) is not None
        await _no_event(ann, "board.period_ended")
        # A real worker waits the dead one's lease out, pushes to both gateways, and is
        # killed while the receiver holds its webhook: it dies holding the job.
        with worker_process(cluster_seeds, GAMESERVER_WEBHOOK_TIMEOUT_S="60") as first:
            assert await ann.next_event("board.period_ended", 15) == _ended("cup", "all", 1, 30)
            assert await cid.next_event("board.period_ended", 15) == _ended("cup", "all", 2, 20)
            await until(lambda: receiver.attempts, "the first worker's webhook")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        [job] = await outbox.pending()
        assert job.pushed and job.lease not in ("", "w-dead") and job.attempts == 0
        # The next worker takes the job once that lease runs out and delivers it.
        with worker_process(cluster_seeds):
            await until(lambda: receiver.delivered, "the second worker's delivery")
            await eventually(_outbox_empty(outbox), 10)
        assert await outbox.pending() == []
        assert len(receiver.attempts) == 2
        [delivered] = receiver.delivered
        assert [(e["player_id"], e["rank"], e["score"]) for e in delivered["entries"]] == [
            ("ann", 1, 30), ("cid", 2, 20)
        ]  # fmt: skip
        # The pushes went out once: the heir found them done.
        await _no_event(ann, "board.period_ended")
        await _no_event(cid, "board.period_ended")
