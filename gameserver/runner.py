"""Running the processes: `up` (cluster, gateway, workers), `serve` and `worker`."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

import uvicorn
import uvloop

from gameserver.app import create_app
from gameserver.gc_policy import freeze_startup_objects, tune_collector
from gameserver.secrets_store import load_or_create_secret
from gameserver.settings import Settings

log = logging.getLogger("gameserver")

_WORKER_STOP_TIMEOUT_S = 10.0


def _run(main: Coroutine[Any, Any, None]) -> None:
    # uvicorn's `loop="uvloop"` only applies to `uvicorn.run`; `Server.serve()` runs on
    # whatever loop it is given, so the process picks uvloop itself.
    tune_collector()
    uvloop.run(main)


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    # BASELINES.md: websockets-sansio + uvloop + httptools is the fastest stack here, and
    # permessage-deflate costs 3.5x memory per socket and half the throughput.
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        lifespan="on",
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


def shared_port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` that other gateway processes may bind too.

    With SO_REUSEPORT every process has its own accept queue and the kernel spreads new
    connections over them. It is bound, not listening: uvicorn starts listening only
    once the app's start-up is done, so no connection waits on a gateway still starting.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(False)
    return sock


async def _serve(settings: Settings, banner: str | None, reuse_port: bool = False) -> None:
    server = uvicorn.Server(uvicorn_config(settings))
    sockets = [shared_port_socket(settings.host, settings.port)] if reuse_port else None

    async def announce() -> None:
        # A bounded wait: the banner is printed only once the socket is listening.
        for _ in range(600):
            if server.started or server.should_exit:
                break
            await asyncio.sleep(0.05)
        if server.started:
            # Start-up is done: what it built lives as long as the process.
            freeze_startup_objects()
        if server.started and banner:
            print(banner, flush=True)

    announcer = asyncio.create_task(announce())
    await server.serve(sockets=sockets)
    announcer.cancel()
    if not server.started:
        raise SystemExit("the gateway failed to start (see the log above)")


def run_serve(settings: Settings, reuse_port: bool = False) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not settings.valkey_nodes:
        raise SystemExit("gameserver serve needs VALKEY_NODES (host:port,...)")
    if not settings.secret:
        raise SystemExit("gameserver serve needs GAMESERVER_SECRET")
    if not settings.admin_key:
        log.warning("GAMESERVER_ADMIN_KEY is unset: every admin call will be refused")
    banner = f"gateway listening on http://{settings.host}:{settings.port}"
    _run(_serve(settings, banner, reuse_port))
    return 0


def run_worker(settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not settings.valkey_nodes:
        raise SystemExit("gameserver worker needs VALKEY_NODES (host:port,...)")
    from gameserver.workers.process import run_workers

    _run(run_workers(settings))
    return 0


def _worker_env(settings: Settings) -> dict[str, str]:
    # The embedded cluster's own login, never TLS settings meant for an external one.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VALKEY_")}
    env["VALKEY_NODES"] = ",".join(f"{h}:{p}" for h, p in settings.valkey_nodes)
    env["VALKEY_USERNAME"] = settings.valkey_username or ""
    env["VALKEY_PASSWORD"] = settings.valkey_password or ""
    env["GAMESERVER_SECRET"] = settings.secret.decode()
    env["GAMESERVER_ADMIN_KEY"] = settings.admin_key
    return env


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_up(settings: Settings) -> int:
    """The embedded default: a local cluster, the workers, then the gateway."""
    from gameserver.embedded.cluster import EmbeddedCluster

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    data_dir = settings.data_dir.resolve()
    secret = settings.secret or load_or_create_secret(data_dir, "secret").encode()
    # Hex, not URL-safe base64: a key starting with "-" reads as an option on command lines.
    admin_key = settings.admin_key or secrets.token_hex(24)
    cluster = EmbeddedCluster(
        data_dir, base_port=settings.valkey_port, node_timeout_ms=settings.cluster_node_timeout_ms
    )
    # SIGTERM takes the same clean path as Ctrl-C (uvicorn re-raises it after its shutdown).
    signal.signal(signal.SIGTERM, _interrupt)
    if settings.gateways < 1:
        raise SystemExit("--gateways must be at least 1")
    worker: subprocess.Popen[bytes] | None = None
    gateways: list[subprocess.Popen[bytes]] = []
    try:
        seeds = cluster.start()
        # The gateways and workers log in as the least-privileged user.
        login = cluster.credentials.gameserver
        settings = replace(
            settings,
            valkey_nodes=tuple(seeds),
            valkey_username=login.username,
            valkey_password=login.password,
            valkey_tls=False,
            secret=secret,
            admin_key=admin_key,
            data_dir=data_dir,
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "gameserver", "worker"], env=_worker_env(settings)
        )
        # This process is one gateway; the others are `gameserver serve` on the same port.
        for _ in range(settings.gateways - 1):
            command = [sys.executable, "-m", "gameserver", "serve", "--reuse-port"]
            command += ["--host", settings.host, "--port", str(settings.port)]
            gateways.append(subprocess.Popen(command, env=_worker_env(settings)))
        url = f"http://{settings.host}:{settings.port}"
        banner = (
            f"gameserver is up at {url} (game socket ws://{settings.host}:{settings.port}/v1/ws)\n"
            f"Valkey cluster: {','.join(f'{h}:{p}' for h, p in seeds)} (data in {data_dir})\n"
            f"admin key: {admin_key}\n"
            "Ctrl-C stops everything."
        )
        _run(_serve(settings, banner, reuse_port=settings.gateways > 1))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        children = [*gateways, *([worker] if worker is not None else [])]
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(_WORKER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        cluster.stop()
        print("gameserver stopped", flush=True)
    return 0
