"""`gameserver up` as a supervisor: each process it started is killed with SIGKILL and the
service recovers by itself; killing `up` itself leaves no process behind.

One `up` serves the kills of a worker, a gateway, a replica and a primary (in that
order, each test waiting for a healthy whole before it starts); `kill -9` of `up` gets
`up`s of its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from valkey import Valkey
from valkey.crc import key_slot

from gameserver.embedded import EmbeddedCluster, find_free_base_port
from gameserver.embedded.shards import ShardReport, shard_report
from tests.game_client import create_session, game_client
from tests.gateway_harness import ADMIN_KEY, env_without_settings, free_port, up_command

_START_TIMEOUT_S = 60.0
_RECOVERY_TIMEOUT_S = 40.0
_GONE_TIMEOUT_S = 20.0
_NODE_TIMEOUT_MS = 5000


@dataclass
class Supervised:
    process: subprocess.Popen[bytes]
    data_dir: Path
    port: int
    valkey_port: int
    worker_port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def children(self, word: str) -> list[int]:
        """Pids of `up`'s children with `word` as an argument (or the program's name)."""
        found = []
        for child in psutil.Process(self.process.pid).children():
            try:
                named = child.name() == word
                if named or any(
                    part == word or part.endswith("/" + word) for part in child.cmdline()
                ):
                    found.append(child.pid)
            except psutil.NoSuchProcess:
                continue
        return found

    def all_started(self) -> list[int]:
        try:
            return [c.pid for c in psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cluster(self) -> EmbeddedCluster:
        return EmbeddedCluster(self.data_dir, self.valkey_port)

    def report(self) -> ShardReport:
        return shard_report(self.cluster())

    def status_command(self) -> subprocess.CompletedProcess[str]:
        # No --valkey-port: the port recorded in the data dir is the one looked at.
        command = [sys.executable, "-m", "gameserver", "cluster", "status"]
        return subprocess.run(
            [*command, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            timeout=30,
            env=env_without_settings(),
        )

    def admin(self, port: int) -> Valkey:
        login = self.cluster().credentials.admin
        return Valkey(port=port, username=login.username, password=login.password)


def _wait(what: str, check: Callable[[], bool], timeout_s: float = _RECOVERY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout_s:.0f} s: {what}")


def _unready_reasons(base_url: str) -> list[str]:
    """Why /readyz answers 503 now (nothing when it answers 200 or not at all)."""
    try:
        response = httpx.get(base_url + "/readyz", timeout=2)
    except httpx.HTTPError:
        return []
    reasons: list[str] = response.json().get("reasons", []) if response.status_code == 503 else []
    return reasons


def _fetch(url: str) -> httpx.Response:
    # Blocking on purpose: the servers are other processes, this loop serves nothing.
    return httpx.get(url, timeout=5)


def _ready(base_url: str) -> int:
    try:
        return httpx.get(base_url + "/readyz", timeout=2).status_code
    except httpx.HTTPError:
        return 0


def _start(tmp: Path, *extra: str, valkey_port: int = 0, **env: str) -> Supervised:
    """`up` on fresh ports (Valkey's: `valkey_port` if given) with its data in `tmp`."""
    data_dir, log = tmp / "data", tmp / "up.log"
    port, worker_port = free_port(), free_port()
    valkey_port = valkey_port or find_free_base_port()
    command = up_command(data_dir, port, valkey_port, "--worker-metrics-port", str(worker_port))
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env_without_settings(
                GAMESERVER_ADMIN_KEY=ADMIN_KEY,
                GAMESERVER_LOGIN_BURST="1000",
                # A short heartbeat bound and first restart delay: the gap shows.
                GAMESERVER_WORKER_HEARTBEAT_S="2",
                GAMESERVER_RESTART_BACKOFF_S="2",
                **env,
            ),
        )
    up = Supervised(process, data_dir, port, valkey_port, worker_port, log)
    try:
        _wait(
            "up prints its banner",
            lambda: "Ctrl-C stops everything" in log.read_text() or process.poll() is not None,
            _START_TIMEOUT_S,
        )
        assert process.poll() is None, log.read_text()
    except BaseException:
        _stop(up, [])
        raise
    return up


def _stop(up: Supervised, started: list[int]) -> None:
    """SIGTERM `up`; whatever it started and left running is killed by pid."""
    if up.process.poll() is None:
        up.process.send_signal(signal.SIGTERM)
        try:
            up.process.wait(60)
        except subprocess.TimeoutExpired:
            up.process.kill()
            up.process.wait()
    for pid in started:
        try:
            psutil.Process(pid).kill()
        except psutil.NoSuchProcess:
            pass


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervised]:
    # A dead primary's shard stays without one for the node timeout (its replica is
    # promoted after it): long enough for a busy machine to watch /readyz fail meanwhile.
    up = _start(
        tmp_path_factory.mktemp("supervised"),
        GAMESERVER_CLUSTER_NODE_TIMEOUT_MS=str(_NODE_TIMEOUT_MS),
    )
    started: list[int] = []
    try:
        started = up.all_started()
        yield up
        started = sorted({*started, *up.all_started()})
    finally:
        _stop(up, started)


@pytest.fixture
def healthy(supervised: Supervised) -> Supervised:
    """The supervised service, whole again after the previous test's kill."""
    _wait("the cluster is healthy", lambda: supervised.report().health == "healthy")
    _wait("the gateway is ready", lambda: _ready(supervised.base_url) == 200)
    return supervised


def _restarts(text: str, kind: str) -> int:
    line = f'gameserver_supervisor_restarts_total{{process="{kind}"}} '
    for row in text.splitlines():
        if row.startswith(line):
            return int(float(row.removeprefix(line)))
    raise AssertionError(f"no {line} in the metrics")


async def test_a_killed_worker_is_restarted_and_queues_match_again(healthy: Supervised) -> None:
    (old_worker,) = healthy.children("worker")
    os.kill(old_worker, signal.SIGKILL)
    # Not ready while no worker beats its heartbeat (bound 2 s, first restart after 2 s).
    # The reason is read from the same answer that failed: a second request could come
    # after the new worker's first beat.
    _wait(
        "/readyz fails for want of a worker's heartbeat",
        lambda: any("heartbeat" in reason for reason in _unready_reasons(healthy.base_url)),
    )
    _wait("/readyz is 200 again", lambda: _ready(healthy.base_url) == 200)
    (new_worker,) = healthy.children("worker")
    assert new_worker != old_worker
    _wait("the dead worker is reaped, no zombie", lambda: not psutil.pid_exists(old_worker))
    worker_url = f"http://127.0.0.1:{healthy.worker_port}"
    assert _fetch(worker_url + "/healthz").json() == {"status": "ok"}
    _wait("the worker's /readyz is 200", lambda: _ready(worker_url) == 200)
    assert _restarts(_fetch(worker_url + "/metrics").text, "worker") == 1
    assert _restarts(_fetch(healthy.base_url + "/metrics").text, "worker") == 1

    async with (
        game_client(healthy.base_url, "wa") as a,
        game_client(healthy.base_url, "wb") as b,
    ):
        await a.ok("match.join", queue="duel")
        await b.ok("match.join", queue="duel")
        found = await a.next_event("match.found")
        assert found["queue"] == "duel"
        await b.next_event("match.found")


async def test_a_killed_gateway_is_restarted_and_its_clients_reconnect_with_their_tokens(
    healthy: Supervised,
) -> None:
    token = (await create_session(healthy.base_url, "ga"))["token"]
    async with game_client(healthy.base_url, "ga", token=token) as client:
        await client.ok("ping")
        (old_gateway,) = healthy.children("serve")
        os.kill(old_gateway, signal.SIGKILL)
        _wait("a new gateway runs", lambda: healthy.children("serve") not in ([], [old_gateway]))
    _wait("/readyz is 200 again", lambda: _ready(healthy.base_url) == 200)
    _wait("the dead gateway is reaped, no zombie", lambda: not psutil.pid_exists(old_gateway))
    async with game_client(healthy.base_url, "ga", token=token) as again:
        await again.ok("ping")
    assert _restarts(_fetch(healthy.base_url + "/metrics").text, "gateway") == 1


# Enough players that every shard holds some of their sessions.
_PLAYERS = [f"acked-player-{i}" for i in range(30)]


async def _log_in(base_url: str) -> dict[str, str]:
    return {p: (await create_session(base_url, p))["token"] for p in _PLAYERS}


async def _set_session_values(base_url: str, tokens: dict[str, str], value: str) -> None:
    """An acknowledged `session.set` for every player (each waits for a replica)."""
    for player, token in tokens.items():
        async with game_client(base_url, player, token=token) as client:
            await client.ok("session.set", values={"acked": f"{value}-{player}"})


async def _session_values(base_url: str, tokens: dict[str, str]) -> dict[str, object]:
    values = {}
    for player, token in tokens.items():
        async with game_client(base_url, player, token=token) as client:
            reply = await client.ok("session.get", keys=["acked"])
            values[player] = reply["values"].get("acked")
    return values


def _replica_of_first_shard(report: ShardReport) -> tuple[int, int]:
    shard = report.shards[0]
    return int(shard.primary.address.rsplit(":", 1)[1]), int(
        shard.replicas[0].address.rsplit(":", 1)[1]
    )


def _node_pid(up: Supervised, port: int) -> int:
    pid = next(n for n in up.cluster().nodes if n.port == port).live_pid()
    assert pid is not None
    return pid


def _role(up: Supervised, port: int) -> dict[str, Any]:
    """Where `port` stands in the shard report: its role and whether it is up and linked."""
    for shard in up.report().shards:
        for member in (shard.primary, *shard.replicas):
            if member.address.endswith(f":{port}"):
                return {"role": member.role, "up": member.up, "linked": member.linked}
    return {"role": None}


async def test_a_killed_replica_comes_back_as_a_replica_and_status_says_degraded_meanwhile(
    healthy: Supervised,
) -> None:
    _, replica = _replica_of_first_shard(healthy.report())
    assert healthy.status_command().returncode == 0
    os.kill(_node_pid(healthy, replica), signal.SIGKILL)
    degraded = healthy.status_command()
    assert degraded.returncode == 1, degraded.stdout
    assert "degraded" in degraded.stdout
    _wait(
        "the replica is back, linked to its primary",
        lambda: _role(healthy, replica) == {"role": "replica", "up": True, "linked": True},
    )
    _wait("the cluster is healthy", lambda: healthy.report().health == "healthy")
    assert healthy.status_command().returncode == 0
    # Every shard takes acknowledged writes again, with nobody's help.
    _wait("/readyz is 200 again", lambda: _ready(healthy.base_url) == 200)
    assert _restarts(_fetch(healthy.base_url + "/metrics").text, "valkey") == 1
    tokens = await _log_in(healthy.base_url)
    await _set_session_values(healthy.base_url, tokens, "after-replica")
    expected = {p: f"after-replica-{p}" for p in _PLAYERS}
    assert await _session_values(healthy.base_url, tokens) == expected


async def test_a_killed_primary_is_replaced_by_its_replica_and_loses_no_acknowledged_write(
    healthy: Supervised,
) -> None:
    # Acknowledged through the public contract: every shard holds some of these.
    tokens = await _log_in(healthy.base_url)
    await _set_session_values(healthy.base_url, tokens, "before-primary")
    report = healthy.report()
    primary, replica = _replica_of_first_shard(report)
    first, last = report.shards[0].slots[0]
    key = next(
        k for k in (f"acked-{i}" for i in range(10_000)) if first <= key_slot(k.encode()) <= last
    )
    writer = healthy.admin(primary)
    try:
        writer.set(key, "kept")
        # Acknowledged: the replica has it.
        assert writer.execute_command("WAIT", 1, 5000) == 1  # type: ignore[no-untyped-call]
    finally:
        writer.close()  # type: ignore[no-untyped-call]
    os.kill(_node_pid(healthy, primary), signal.SIGKILL)
    # `cluster status` says down (exit 2) at once, while the other nodes still call the
    # cluster ok: they notice after the node timeout (5 s), and promote the replica.
    _wait("status says the shard is down", lambda: healthy.report().health == "down", 4)
    _wait(
        "/readyz fails naming Valkey while the shard has no primary",
        lambda: any("Valkey" in reason for reason in _unready_reasons(healthy.base_url)),
        10,
    )
    _wait(
        "the replica is promoted",
        lambda: _role(healthy, replica) == {"role": "primary", "up": True, "linked": False},
    )
    _wait(
        "the old primary is back as its replica",
        lambda: _role(healthy, primary) == {"role": "replica", "up": True, "linked": True},
    )
    reader = healthy.admin(replica)
    try:
        assert reader.get(key) == b"kept"
    finally:
        reader.close()  # type: ignore[no-untyped-call]
    _wait("the cluster is healthy", lambda: healthy.report().health == "healthy")
    assert healthy.status_command().returncode == 0
    _wait("/readyz is 200 again", lambda: _ready(healthy.base_url) == 200)
    expected = {p: f"before-primary-{p}" for p in _PLAYERS}
    assert await _session_values(healthy.base_url, tokens) == expected
    # The replica's restart in the test before, and this one.
    assert _restarts(_fetch(healthy.base_url + "/metrics").text, "valkey") == 2


async def test_sigterm_drains_the_gateways_with_1001_and_stops_everything(
    healthy: Supervised,
) -> None:
    """Last of the tests on the module's `up`: it stops it."""
    started = healthy.all_started()
    async with game_client(healthy.base_url, "st") as client:
        await client.ok("ping")
        healthy.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(client.socket.wait_closed(), 30)
        assert client.socket.close_code == 1001
    await asyncio.to_thread(healthy.process.wait, 60)
    assert healthy.process.returncode == 0
    assert "gameserver stopped" in healthy.log.read_text()
    assert not any(_running(pid) for pid in started)


@pytest.mark.parametrize("mechanism", ["signal", "pipe"])
async def test_kill_9_of_up_ends_every_process_it_started_and_loses_nothing_acknowledged(
    tmp_path: Path, mechanism: str
) -> None:
    """Each mechanism alone ends the gateways and the worker; the nodes have the signal.
    `up` started again on the same data dir serves what was acknowledged before."""
    up = _start(tmp_path, "--gateways", "2", GAMESERVER_PARENT_DEATH=mechanism)
    started = up.all_started()
    try:
        assert len(up.children("serve")) == 2 and len(up.children("worker")) == 1
        assert len(up.children("valkey-server")) == 6
        tokens = await _log_in(up.base_url)
        await _set_session_values(up.base_url, tokens, "before-kill")
        up.process.kill()
        up.process.wait()

        def all_gone() -> bool:
            return not any(psutil.pid_exists(pid) and _running(pid) for pid in started)

        _wait("every process up started is gone", all_gone, _GONE_TIMEOUT_S)
    finally:
        _stop(up, started)

    again = _start(tmp_path, valkey_port=up.valkey_port)
    try:
        _wait("the gateway is ready", lambda: _ready(again.base_url) == 200)
        expected = {p: f"before-kill-{p}" for p in _PLAYERS}
        assert await _session_values(again.base_url, tokens) == expected
    finally:
        _stop(again, again.all_started())


def _running(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
