"""The compose topology as plain processes on the test cluster: two `gameserver serve`
gateways and two `gameserver worker` processes. Players on both gateways meet in one
duel and see each other's rank pushes; a gateway and a worker are killed (SIGKILL) and
the service carries on. In the same test Locust, distributed (a master and two workers,
one per gateway), runs the project's locustfile against both gateways: its report shows
both workers' users and no failure but the calls the killed gateway cut off."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.matchmaking.store import PartitionKeys, code_of
from tests.cluster_helpers import stop_process
from tests.game_client import GameClient, game_client
from tests.gateway_harness import (
    ADMIN_KEY,
    Gateway,
    free_port,
    gateway_process,
    gateway_settings,
    start_worker,
    worker_process,
)

pytestmark = pytest.mark.usefixtures("clean_valkey")
Seeds = tuple[tuple[str, int], ...]
REPO = Path(__file__).resolve().parents[2]
# Every wait on a real process is bounded by this.
BOUND_S = 20.0


async def _duel(one: GameClient, other: GameClient) -> str:
    """Both join `duel`; both are told of the same match. Returns its ticket of `one`."""
    ticket = (await one.ok("match.join", queue="duel"))["ticket"]
    await other.ok("match.join", queue="duel")
    found_one = await one.next_event("match.found", timeout=BOUND_S)
    found_other = await other.next_event("match.found", timeout=BOUND_S)
    assert found_one["match_id"] == found_other["match_id"]
    players = sorted(p for team in found_one["teams"] for p in team)
    assert players == sorted([one.player_id, other.player_id])
    ticket_id: str = ticket
    return ticket_id


async def _lease_owner(admin_valkey: ValkeyCluster, ticket: str) -> bytes | None:
    code = code_of(ticket)
    assert code is not None
    owner: bytes | None = await admin_valkey.get(PartitionKeys(code).lease)
    return owner


def _locust(log: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A Locust process with the project's locustfile; its log goes to `log`."""
    files = f"{REPO / 'loadtest' / 'locustfile.py'},{REPO / 'tests' / 'locust_worker_host.py'}"
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", files, *args],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )


def _device_logins(base_url: str) -> float:
    text = httpx.get(base_url + "/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).text
    for line in text.splitlines():
        if line.startswith('gameserver_logins_total{kind="device"}'):
            return float(line.split()[-1])
    return 0.0


@dataclass
class Locust:
    """A headless Locust master and one worker per gateway (each falling back to the
    other gateway once its own refuses connections)."""

    master: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    folder: Path

    def stop(self) -> None:
        for process in [self.master, *self.workers]:
            stop_process(process, 10)

    def report(self) -> tuple[dict[str, dict[str, str]], list[dict[str, str]]]:
        """The stats rows by name, and the failures."""
        with (self.folder / "run_stats.csv").open() as stats:
            rows = {row["Name"]: row for row in csv.DictReader(stats)}
        with (self.folder / "run_failures.csv").open() as failures:
            return rows, list(csv.DictReader(failures))


def _start_locust(folder: Path, one: Gateway, two: Gateway, run_s: int) -> Locust:
    port = free_port()
    master = _locust(
        folder / "master.log",
        "--master", "--headless", "--master-bind-host", "127.0.0.1",
        "--master-bind-port", str(port), "--expect-workers", "2",
        "--expect-workers-max-wait", "30", "-u", "6", "-r", "6", "-t", f"{run_s}s",
        "--csv", str(folder / "run"), "--gs-think", "0.2:0.6", "--gs-match-play", "0.5",
        # Its own queue and board: the test's players below count on theirs.
        "--gs-queue", LOCUST_QUEUE, "--gs-boards", "global",
        # Failures are judged below, by what they are.
        "--exit-code-on-error", "0",
    )  # fmt: skip
    workers = [
        _locust(
            folder / f"worker-{index}.log",
            *("--worker", "--master-host", "127.0.0.1", "--master-port", str(port)),
            env={"GS_WORKER_HOST": own.base_url, "GS_FALLBACK_HOST": other.base_url},
        )
        for index, (own, other) in enumerate(((one, two), (two, one)))
    ]
    return Locust(master, workers, folder)


async def _until(what: str, check: Callable[[], bool], timeout_s: float = BOUND_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f} s: {what}"
        await asyncio.sleep(0.2)


LOCUST_QUEUE = "locust-duel"
# Locust's run time: a bound only, the test stops it once its users came back after the
# kills (a fixed short run could end before the kills on a busy machine).
LOCUST_BOUND_S = 240
# What a call cut off by the killed gateway fails with: its socket closed or reset, or
# the login that found the gateway gone (no HTTP answer: status 0) before the user moved
# to the other one.
CUT_OFF = re.compile(
    r"closed|refused|reset|aborted|RemoteDisconnected|ConnectionError|status 0:",
    re.IGNORECASE,
)
# How long after the kill a cut-off call may still be reported: a user's think time,
# its call timeout and its one-second wait before logging in again.
CUT_OFF_S = 10.0


# Its waits on real processes add up past the suite's default per-test bound when the
# machine is busy; each of them is bounded on its own.
@pytest.mark.timeout(300)
async def test_two_gateways_and_two_workers_carry_on_through_kills_under_distributed_locust(
    cluster_seeds: Seeds, admin_valkey: ValkeyCluster, tmp_path: Path
) -> None:
    first_worker = start_worker(cluster_seeds)
    workers = [first_worker]
    locust: Locust | None = None
    try:
        with (
            gateway_process(gateway_settings(cluster_seeds, "gw-1")) as one,
            gateway_process(gateway_settings(cluster_seeds, "gw-2")) as two,
        ):
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as http:
                queue = {"name": LOCUST_QUEUE, "team_size": 1, "teams": 2}
                created = await http.post(one.base_url + "/admin/v1/queues", json=queue)
                assert created.status_code == 201, created.text
            # Locust runs until the test has seen what it waits for below, then is told to
            # stop (SIGTERM: it writes its report and exits as at the end of its run time);
            # the run time only bounds it should the test never get there.
            locust = _start_locust(tmp_path, one, two, run_s=LOCUST_BOUND_S)
            # Locust's users play on both gateways before anything is killed.
            await _until(
                "Locust's users log in on both gateways",
                lambda: min(_device_logins(one.base_url), _device_logins(two.base_url)) >= 1,
                40,
            )
            async with contextlib.AsyncExitStack() as stack:
                a = await stack.enter_async_context(game_client(one.base_url, "a"))
                b = await stack.enter_async_context(game_client(two.base_url, "b"))
                d = await stack.enter_async_context(game_client(one.base_url, "d"))

                # Rank pushes cross gateways, both ways.
                await a.ok("score.submit", board="weekly", score=10)
                await a.ok("board.subscribe", board="weekly", top=0)
                await b.ok("score.submit", board="weekly", score=20)
                assert (await a.next_event("rank.changed"))["rank"] == 2
                await b.ok("board.subscribe", board="weekly", top=0)
                await a.ok("score.submit", board="weekly", score=30)
                assert (await b.next_event("rank.changed"))["rank"] == 2

                # One duel across the gateways; the only worker owns its partition.
                ticket = await _duel(a, b)
                first_id = await _lease_owner(admin_valkey, ticket)
                assert first_id is not None

                with worker_process(cluster_seeds) as second_worker:
                    workers.append(second_worker)
                    # Kill the worker that holds the duel partition now, and gateway one.
                    owner = await _lease_owner(admin_valkey, ticket)
                    victim = first_worker if owner in (first_id, None) else second_worker
                    survivor = second_worker if victim is first_worker else first_worker
                    logins_on_two = await asyncio.to_thread(_device_logins, two.base_url)
                    assert locust.master.poll() is None, "Locust ended before the kills"
                    killed_at = datetime.now(UTC)
                    os.kill(victim.pid, signal.SIGKILL)
                    assert one.pid is not None
                    os.kill(one.pid, signal.SIGKILL)
                    assert await a.wait_closed(BOUND_S) is not None
                    assert await d.wait_closed(BOUND_S) is not None

                    # The dead gateway's clients come back on the other with their tokens.
                    a2 = await stack.enter_async_context(
                        game_client(two.base_url, "a", token=a.token)
                    )
                    d2 = await stack.enter_async_context(
                        game_client(two.base_url, "d", token=d.token)
                    )
                    e = await stack.enter_async_context(game_client(two.base_url, "e"))
                    assert (await a2.ok("board.rank", board="weekly"))["rank"] == 1
                    # The queue still matches: the surviving worker takes the lease over.
                    await _duel(d2, e)
                    assert survivor.poll() is None
                    assert await _lease_owner(admin_valkey, ticket) not in (None, owner)
                    async with httpx.AsyncClient() as http:
                        ready = await http.get(two.base_url + "/readyz")
                    assert ready.status_code == 200, ready.text

                    # Locust's users of the dead gateway log in again on the other one.
                    await _until(
                        "the dead gateway's Locust users log in on the other",
                        lambda: _device_logins(two.base_url) > logins_on_two,
                    )
                    assert locust.master.poll() is None, "Locust ended before its users came back"
                    locust.master.send_signal(signal.SIGTERM)
                    code = await asyncio.to_thread(locust.master.wait, 90)
                    for process in locust.workers:
                        await asyncio.to_thread(process.wait, 30)
                    assert code == 0, (tmp_path / "master.log").read_text()[-3000:]
    finally:
        if locust is not None:
            locust.stop()
        for process in workers:
            stop_process(process, 15)

    rows, failures = locust.report()
    total = rows["Aggregated"]
    assert int(total["Request Count"]) > 0
    # Both Locust workers' users logged in (one worker per gateway, six users).
    assert int(rows["/v1/sessions"]["Request Count"]) >= 6
    # No failure but the calls the kill of gateway one cut off (a few per user there),
    # and none before the kill or long after it.
    assert all(CUT_OFF.search(f["Error"]) for f in failures), failures
    for failure in failures:
        first, last = (datetime.fromisoformat(failure[k]) for k in ("First Seen", "Last Seen"))
        assert killed_at - timedelta(seconds=1) <= first, (killed_at, failure)
        assert last <= killed_at + timedelta(seconds=CUT_OFF_S), (killed_at, failure)
    assert int(total["Failure Count"]) <= 20, failures
