"""`gameserver up`, as a studio runs it: ready, serving, stopped cleanly, data kept."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
from pathlib import Path

import httpx
import psutil
import pytest
from valkey import Valkey

from gameserver.embedded import find_free_base_port
from gameserver.embedded.ports import ports_in_use
from tests.game_client import device_id_for, device_login, game_client
from tests.gateway_harness import env_without_settings, free_port, read_banner, up_command

# `up` forms a fresh cluster before its banner: a busy machine takes a while.
_READY_TIMEOUT_S = 120.0
# Each test starts `up` (one of them twice) and waits for it by the bound above.
pytestmark = pytest.mark.timeout(300)


def _start_up(
    data_dir: Path, port: int, valkey_port: int, *extra: str
) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        up_command(data_dir, port, valkey_port, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Up to 200 logins from 127.0.0.1 in a few seconds (the --gateways test).
        env=env_without_settings(GAMESERVER_LOGIN_BURST="1000"),
    )
    lines = read_banner(process, "admin key: ", _READY_TIMEOUT_S)
    if lines and lines[-1].startswith("admin key: "):
        return process, lines[-1].removeprefix("admin key: ").strip()
    process.kill()
    process.wait()
    raise AssertionError("gameserver up did not print its banner:\n" + "".join(lines))


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    assert process.stdout is not None
    process.stdout.close()


def _valkey_servers_under(data_dir: Path) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid", "name", "cwd", "cmdline"]):
        try:
            if "valkey-server" in " ".join(proc.info["cmdline"] or []) and str(data_dir) in (
                proc.info["cwd"] or ""
            ):
                found.append(proc.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _users_of_clients(data_dir: Path, valkey_port: int) -> set[str]:
    """The users every client connection of every node logged in as (replication and
    this probe aside)."""
    admin = json.loads((data_dir / "credentials.json").read_text())["admin"]
    users: set[str] = set()
    for port in range(valkey_port, valkey_port + 6):
        probe = Valkey(port=port, username=admin["username"], password=admin["password"])
        try:
            mine = probe.client_id()
            for client in probe.client_list():
                replication = set(client["flags"]) & {"S", "M"}
                if int(client["id"]) != mine and not replication:
                    users.add(client["user"])
        finally:
            probe.close()  # type: ignore[no-untyped-call]
    return users


def test_up_serves_stops_cleanly_and_keeps_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port, valkey_port = free_port(), find_free_base_port()
    base = f"http://127.0.0.1:{port}"

    process, admin_key = _start_up(data_dir, port, valkey_port)
    try:
        assert httpx.get(base + "/readyz").status_code == 200
        assert len(_valkey_servers_under(data_dir)) == 6
        created = httpx.post(base + "/v1/sessions", json={"device_id": device_id_for("p1")})
        assert created.status_code == 201
        player_id = created.json()["player_id"]
        # The gateway and the worker (readyz waits for its heartbeat) log in as `gameserver`.
        assert _users_of_clients(data_dir, valkey_port) == {"gameserver"}
    finally:
        _stop(process)
    assert _valkey_servers_under(data_dir) == []
    credentials = (data_dir / "credentials.json").read_text()

    process, second_key = _start_up(data_dir, port, valkey_port)
    try:
        assert (data_dir / "credentials.json").read_text() == credentials
        # The admin key lasts across restarts, kept where only its owner reads it.
        assert second_key == admin_key
        assert (data_dir / "admin_key").stat().st_mode & 0o777 == 0o600
        view = httpx.get(
            base + f"/admin/v1/players/{player_id}",
            headers={"Authorization": f"Bearer {second_key}"},
        ).json()
        assert view["session"]["session_id"] == created.json()["session_id"]
        # The credential hash key comes from the kept secret: the device finds its account.
        again = httpx.post(base + "/v1/sessions", json={"device_id": device_id_for("p1")})
        assert again.json()["player_id"] == player_id and again.json()["created"] is False
    finally:
        _stop(process)
    assert _valkey_servers_under(data_dir) == []


def _sockets_served_by(port: int) -> dict[int, int]:
    """Open connections on `port`, counted by the process that accepted them."""
    counts: dict[int, int] = {}
    for connection in psutil.net_connections("tcp"):
        served_here = connection.laddr and connection.laddr.port == port
        if served_here and connection.status == "ESTABLISHED" and connection.pid is not None:
            counts[connection.pid] = counts.get(connection.pid, 0) + 1
    return counts


def _listener_of(port: int) -> int | None:
    """The process listening on `port`."""
    for connection in psutil.net_connections("tcp"):
        if connection.laddr and connection.laddr.port == port and connection.status == "LISTEN":
            return connection.pid
    return None


def _two_free_ports() -> int:
    """A port free now, and the next one too, below the ephemeral range (and below the
    embedded clusters' ports): there, an outgoing connection of this busy machine could
    take the second one before `up`'s second gateway binds it (Linux hands connections
    odd ephemeral ports first, and a port next to `free_port()`'s even one is odd)."""
    rng = random.Random()
    for _ in range(200):
        first = rng.randrange(9100, 10900)
        if not ports_in_use("127.0.0.1", (first, first + 1)):
            return first
    raise AssertionError("no two consecutive free ports")


async def _sockets_open(http: httpx.AsyncClient, metrics_port: int) -> float:
    text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    (line,) = [x for x in text.splitlines() if x.startswith("gameserver_sockets_open ")]
    return float(line.split()[1])


async def test_several_gateway_processes_share_the_port_and_stop_together(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    port, valkey_port, metrics = free_port(), find_free_base_port(), _two_free_ports()
    flags = ("--gateways", "2", "--gateway-metrics-port", str(metrics))
    process, _ = _start_up(data_dir, port, valkey_port, *flags)
    gateways: list[int] = []
    try:
        # `up` supervises: it is no gateway itself, both are `serve` children.
        children = psutil.Process(process.pid).children()
        gateways = [c.pid for c in children if "serve" in c.cmdline()]
        assert len(gateways) == 2 and process.pid not in _sockets_served_by(port)
        base = f"http://127.0.0.1:{port}"
        async with contextlib.AsyncExitStack() as clients:
            # Both gateways start listening within moments of the banner.
            for attempt in range(200):
                login = (await device_login(base, device_id_for(f"g{attempt}"))).json()
                client = await clients.enter_async_context(
                    game_client(base, login["player_id"], token=login["token"])
                )
                await client.ok("ping")
                if attempt >= 20 and set(_sockets_served_by(port)) == set(gateways):
                    break
            assert set(_sockets_served_by(port)) == set(gateways)
            # Each gateway has a metrics port of its own: a scrape of one reads that
            # process, not whichever one the kernel hands the shared port's connection.
            own = {_listener_of(metrics): metrics, _listener_of(metrics + 1): metrics + 1}
            assert set(own) == set(gateways)
            served = _sockets_served_by(port)
            async with httpx.AsyncClient() as http:
                for pid, metrics_port in own.items():
                    assert await _sockets_open(http, metrics_port) == served[pid]
                    game = await http.get(f"http://127.0.0.1:{metrics_port}/v1/sessions")
                    assert game.status_code == 404  # probes and metrics only
    finally:
        _stop(process)
    assert not any(psutil.pid_exists(pid) for pid in gateways)
    assert _valkey_servers_under(data_dir) == []
