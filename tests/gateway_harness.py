"""Running real gateways for tests: in this process (uvicorn task) or as `gameserver serve`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import uvicorn

from gameserver.app import create_app
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

    @property
    def services(self) -> Services:
        assert self.server is not None, "only in-process gateways expose their services"
        services: Services = self.server.config.loaded_app.app.state.services  # type: ignore[attr-defined]
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
        **service_login(seeds),
    ).with_overrides(**extra)


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=settings.port,
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        lifespan="on",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    if not server.started:
        server.should_exit = True
        await task
        raise RuntimeError("the test gateway did not start")
    try:
        yield Gateway(settings, f"http://127.0.0.1:{settings.port}", server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@contextlib.contextmanager
def gateway_process(settings: Settings) -> Iterator[Gateway]:
    """A real `gameserver serve` process, stopped by its pid at the end."""
    env = dict(os.environ)
    env.update(login_env(settings))
    env.update(
        GAMESERVER_SECRET=settings.secret.decode(),
        GAMESERVER_ADMIN_KEY=settings.admin_key,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gameserver", "serve", "--port", str(settings.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{settings.port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"gateway exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(base_url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("gateway process did not become ready")
        yield Gateway(settings, base_url)
    finally:
        stop_process(process, 15)
        if process.stderr is not None:
            process.stderr.close()
