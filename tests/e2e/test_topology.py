"""The compose topology as plain processes on the test cluster: two `gameserver serve`
gateways and two `gameserver worker` processes. Players on both gateways meet in one
duel and see each other's rank pushes; a gateway and a worker are killed (SIGKILL) and
the service carries on. Locust, distributed (a master and two workers, one per
gateway), runs the project's locustfile against both gateways without a failure."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.matchmaking.store import PartitionKeys, code_of
from tests.cluster_helpers import stop_process
from tests.game_client import GameClient, game_client
from tests.gateway_harness import (
    ADMIN_KEY,
    free_port,
    gateway_process,
    gateway_settings,
    serve_env,
)

pytestmark = pytest.mark.usefixtures("clean_valkey")
Seeds = tuple[tuple[str, int], ...]
REPO = Path(__file__).resolve().parents[2]
# Every wait on a real process is bounded by this.
BOUND_S = 20.0


def start_worker(seeds: Seeds) -> subprocess.Popen[bytes]:
    """A `gameserver worker` logging in as the services do."""
    return subprocess.Popen(
        [sys.executable, "-m", "gameserver", "worker"],
        env=serve_env(gateway_settings(seeds, "worker")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def worker_process(seeds: Seeds) -> Iterator[subprocess.Popen[bytes]]:
    """A `gameserver worker`, stopped by its pid at the end."""
    process = start_worker(seeds)
    try:
        yield process
    finally:
        stop_process(process, 15)


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


async def test_players_on_two_gateways_play_together_and_survive_a_killed_gateway_and_worker(
    cluster_seeds: Seeds, admin_valkey: ValkeyCluster
) -> None:
    first_worker = start_worker(cluster_seeds)
    workers = [first_worker]
    try:
        with (
            gateway_process(gateway_settings(cluster_seeds, "gw-1")) as one,
            gateway_process(gateway_settings(cluster_seeds, "gw-2")) as two,
        ):
            async with contextlib.AsyncExitStack() as stack:
                a = await stack.enter_async_context(game_client(one.base_url, "a"))
                b = await stack.enter_async_context(game_client(two.base_url, "b"))
                d = await stack.enter_async_context(game_client(one.base_url, "d"))

                # Rank pushes cross gateways, both ways.
                await a.ok("score.submit", board="global", score=10)
                await a.ok("board.subscribe", board="global", top=0)
                await b.ok("score.submit", board="global", score=20)
                assert (await a.next_event("rank.changed"))["rank"] == 2
                await b.ok("board.subscribe", board="global", top=0)
                await a.ok("score.submit", board="global", score=30)
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
                    assert (await a2.ok("board.rank", board="global"))["rank"] == 1
                    # The queue still matches: the surviving worker takes the lease over.
                    await _duel(d2, e)
                    assert survivor.poll() is None
                    assert await _lease_owner(admin_valkey, ticket) not in (None, owner)
                    async with httpx.AsyncClient() as http:
                        ready = await http.get(two.base_url + "/readyz")
                    assert ready.status_code == 200, ready.text
    finally:
        for process in workers:
            stop_process(process, 15)


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


def test_distributed_locust_runs_the_locustfile_against_both_gateways_without_failures(
    cluster_seeds: Seeds, tmp_path: Path
) -> None:
    port = free_port()
    with (
        worker_process(cluster_seeds),
        gateway_process(gateway_settings(cluster_seeds, "gw-1")) as one,
        gateway_process(gateway_settings(cluster_seeds, "gw-2")) as two,
    ):
        master = _locust(
            tmp_path / "master.log",
            "--master", "--headless", "--master-bind-host", "127.0.0.1",
            "--master-bind-port", str(port), "--expect-workers", "2",
            "--expect-workers-max-wait", "30", "-u", "6", "-r", "6", "-t", "12s",
            "--csv", str(tmp_path / "run"), "--gs-think", "0.2:0.6",
            "--gs-match-play", "0.5",
        )  # fmt: skip
        workers = [
            _locust(
                tmp_path / f"worker-{index}.log",
                *("--worker", "--master-host", "127.0.0.1", "--master-port", str(port)),
                env={"GS_WORKER_HOST": gateway.base_url},
            )
            for index, gateway in enumerate((one, two))
        ]
        try:
            code = master.wait(90)
            for worker in workers:
                worker.wait(30)
        finally:
            for process in [master, *workers]:
                stop_process(process, 10)
        assert code == 0, (tmp_path / "master.log").read_text()[-3000:]
        logins = [_device_logins(one.base_url), _device_logins(two.base_url)]
    with (tmp_path / "run_stats.csv").open() as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    total = rows["Aggregated"]
    assert int(total["Request Count"]) > 0
    assert int(total["Failure Count"]) == 0, rows
    # The report's logins are those of both workers' users, each on its own gateway.
    assert all(count >= 1 for count in logins), logins
    assert sum(logins) == int(rows["/v1/sessions"]["Request Count"]) >= 6
