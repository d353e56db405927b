"""Running real gateways for tests: in this process (uvicorn task) or as `gameserver serve`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from gameserver.runner import listening_sockets, uvicorn_config
from gameserver.services import Services
from gameserver.settings import Settings
from tests.cluster_helpers import login_env, service_login, stop_process

ADMIN_KEY = "test-admin-key"
SECRET = b"test-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Gateway:
    settings: Settings
    base_url: str
    server: uvicorn.Server | None = None
    # The process of a `gameserver serve` gateway (`gateway_process`), for tests that kill it.
    pid: int | None = None

    @property
    def services(self) -> Services:
        assert self.server is not None, "only in-process gateways expose their services"
        services: Services = self.server.config.app.state.services
        return services

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )


def gateway_settings(
    seeds: tuple[tuple[str, int], ...], gateway_id: str, **extra: object
) -> Settings:
    return Settings(
        valkey_nodes=seeds,
        admin_key=ADMIN_KEY,
        secret=SECRET,
        gateway_id=gateway_id,
        port=free_port(),
        # Tests log many players in and open many sockets from 127.0.0.1: the abuse
        # limits are off unless a test sets them (tests/e2e/test_abuse_limits.py).
        login_rate_per_s=1e9,
        login_burst=10**9,
        max_sockets_per_address=0,
        **service_login(seeds),
    ).with_overrides(**extra)


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    # The production configuration (TLS, admin listener, timeouts), on this test's loop.
    server = uvicorn.Server(uvicorn_config(settings))
    sockets = listening_sockets(settings)

    async def serve() -> None:
        # A start-up that fails (its lifespan raised) ends uvicorn with SystemExit, which
        # would escape the task into the test's loop: told below as a gateway not started.
        with contextlib.suppress(SystemExit):
            await server.serve(sockets=sockets)

    task = asyncio.create_task(serve())
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    if not server.started:
        server.should_exit = True
        await task
        for listening in sockets:
            listening.close()
        raise RuntimeError("the test gateway did not start")
    try:
        scheme = "https" if settings.certfile else "http"
        yield Gateway(settings, f"{scheme}://127.0.0.1:{settings.port}", server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


def up_command(data_dir: Path, port: int, valkey_port: int, *extra: str) -> list[str]:
    """The `gameserver up` command line of a test: its own ports and data dir."""
    ports = ["--port", str(port), "--valkey-port", str(valkey_port)]
    return [sys.executable, "-m", "gameserver", "up", *ports, "--data-dir", str(data_dir), *extra]


def env_without_settings(**extra: str) -> dict[str, str]:
    """This process's environment without its GAMESERVER_ and VALKEY_ variables, plus
    `extra`: a command started with it sees only the settings the test gives it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAMESERVER_", "VALKEY_"))}
    return {**env, **extra}


def read_banner(process: subprocess.Popen[str], last: str, timeout_s: float) -> list[str]:
    """The lines a starting `gameserver up` prints, up to the first that starts with
    `last`; fewer when it stops printing or `timeout_s` runs out first."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(last):
            break
    return lines


@contextlib.contextmanager
def running_up(
    command: list[str], env: dict[str, str], ready_line: str, timeout_s: float = 60.0
) -> Iterator[subprocess.Popen[str]]:
    """`command` (a `gameserver up`) started and ready: its banner printed down to the line
    starting with `ready_line`. Stopped as an operator would, SIGTERM, when the block ends."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    drain: threading.Thread | None = None
    try:
        lines = read_banner(process, ready_line, timeout_s)
        assert lines and lines[-1].startswith(ready_line), (
            "gameserver up did not start:\n" + "".join(lines)
        )
        # Keep reading what it prints once ready, so a full pipe never stalls it.
        drain = threading.Thread(target=process.stdout.read, daemon=True)
        drain.start()
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if drain is not None:
            drain.join(10)
        process.stdout.close()


def serve_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `gameserver serve` or `worker` process run as `settings`: its
    login, secrets and abuse limits (the tests' own, see `gateway_settings`), plus `extra`."""
    return {
        **os.environ,
        **login_env(settings),
        "GAMESERVER_SECRET": settings.secret.decode(),
        "GAMESERVER_ADMIN_KEY": settings.admin_key,
        "GAMESERVER_LOGIN_RATE_PER_S": str(settings.login_rate_per_s),
        "GAMESERVER_LOGIN_BURST": str(settings.login_burst),
        "GAMESERVER_MAX_SOCKETS_PER_ADDRESS": str(settings.max_sockets_per_address),
        **extra,
    }


def wait_until_serving(
    process: subprocess.Popen[bytes], base_url: str, verify: ssl.SSLContext | bool = True
) -> None:
    """Wait until the gateway `process` answers /healthz on `base_url`: listening, so
    started (/readyz would also ask for a matchmaking worker)."""
    for _ in range(300):
        if process.poll() is not None:
            output = process.stderr.read().decode()[-2000:] if process.stderr else ""
            raise RuntimeError(f"gateway exited: {output}")
        try:
            if httpx.get(base_url + "/healthz", timeout=1, verify=verify).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gateway process did not become ready")


@contextlib.contextmanager
def gateway_process(settings: Settings, verify: ssl.SSLContext | bool = True) -> Iterator[Gateway]:
    """A real `gameserver serve` process, stopped by its pid at the end.

    Its certificate and admin port are the settings' own; `verify` is what the readiness
    check trusts (the test's own certificate).
    """
    command = [sys.executable, "-m", "gameserver", "serve", "--port", str(settings.port)]
    if settings.admin_port:
        command += ["--admin-port", str(settings.admin_port)]
    if settings.certfile and settings.keyfile:
        command += ["--certfile", str(settings.certfile), "--keyfile", str(settings.keyfile)]
    process = subprocess.Popen(
        command,
        env=serve_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"{'https' if settings.certfile else 'http'}://127.0.0.1:{settings.port}"
    try:
        wait_until_serving(process, base_url, verify)
        yield Gateway(settings, base_url, pid=process.pid)
    finally:
        stop_process(process, 15)
        if process.stderr is not None:
            process.stderr.close()


def start_worker(seeds: tuple[tuple[str, int], ...], **env_vars: str) -> subprocess.Popen[bytes]:
    """A `gameserver worker` logging in as the services do, with `env_vars` on top."""
    return subprocess.Popen(
        [sys.executable, "-m", "gameserver", "worker"],
        env=serve_env(gateway_settings(seeds, "worker"), **env_vars),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def worker_process(
    seeds: tuple[tuple[str, int], ...], **env_vars: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A `gameserver worker` (see `start_worker`), stopped by its pid at the end."""
    process = start_worker(seeds, **env_vars)
    try:
        yield process
    finally:
        stop_process(process, 15)
