"""Running the processes: `up` (cluster, gateway, workers), `serve` and `worker`."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import uvicorn
import uvloop

from gameserver.app import create_app
from gameserver.gateway.socket_protocol import GameSocketProtocol
from gameserver.gc_policy import freeze_startup_objects, tune_collector
from gameserver.http.header_timeout import header_timeout_protocol
from gameserver.secrets_store import SECRET_FILE, load_or_create_secret
from gameserver.settings import Settings
from gameserver.supervisor.parent_death import watch_supervisor

log = logging.getLogger("gameserver")

# The admin key `up` made, under its data dir (when GAMESERVER_ADMIN_KEY is unset).
ADMIN_KEY_FILE = "admin_key"


def _run(main: Coroutine[Any, Any, None]) -> None:
    # uvicorn's `loop="uvloop"` only applies to `uvicorn.run`; `Server.serve()` runs on
    # whatever loop it is given, so the process picks uvloop itself.
    tune_collector()
    uvloop.run(main)


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    # docs/baselines.md: websockets-sansio + uvloop + httptools is the fastest stack here, and
    # permessage-deflate costs 3.5x memory per socket and half the throughput.
    return uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=header_timeout_protocol(settings.header_timeout_s),
        ws=GameSocketProtocol,  # websockets-sansio, with 1013 for unanswered pings
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_ping_timeout_s,
        lifespan="on",
        log_level="warning",
        access_log=False,
        # The client's address is decided by the app (GAMESERVER_TRUSTED_PROXIES);
        # uvicorn's own reading of X-Forwarded-For trusts 127.0.0.1 by default.
        proxy_headers=False,
        timeout_keep_alive=settings.idle_timeout_s,
        ssl_certfile=str(settings.certfile) if settings.certfile else None,
        ssl_keyfile=str(settings.keyfile) if settings.keyfile else None,
        backlog=4096,
    )


def shared_port_socket(host: str, port: int, reuse_port: bool = True) -> socket.socket:
    """A socket bound to `host:port` that other gateway processes may bind too.

    With SO_REUSEPORT every process has its own accept queue and the kernel spreads new
    connections over them. It is bound, not listening: uvicorn starts listening only
    once the app's start-up is done, so no connection waits on a gateway still starting.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # protocol says TCP. With 0, a response written in two parts waits ~40 ms for an ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock


def listening_sockets(settings: Settings, reuse_port: bool = False) -> list[socket.socket]:
    """The game listener, then the admin listener where `admin_port` asks for one, then
    this process's own metrics listener where `metrics_port` does (never shared)."""
    ports = [settings.port, *([settings.admin_port] if settings.admin_port else [])]
    sockets: list[socket.socket] = []
    try:
        for port in ports:
            sockets.append(shared_port_socket(settings.host, port, reuse_port))
        if settings.metrics_port:
            sockets.append(shared_port_socket(settings.host, settings.metrics_port, False))
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def check_ports_free(settings: Settings) -> None:
    """Exit with one clear line if a port the gateway needs is taken."""
    ports = (
        ("--port", settings.port),
        ("--admin-port", settings.admin_port),
        ("--metrics-port", settings.metrics_port),
    )
    for flag, port in ports:
        if port is None:
            continue
        try:
            shared_port_socket(settings.host, port, reuse_port=False).close()
        except OSError as exc:
            raise SystemExit(
                f"gameserver: {settings.host}:{port} ({flag}) is not free: {exc.strerror}"
            ) from None


def check_tls_files(settings: Settings) -> None:
    if (settings.certfile is None) != (settings.keyfile is None):
        raise SystemExit("gameserver: --certfile and --keyfile go together")
    for path in (settings.certfile, settings.keyfile):
        if path is not None and not path.is_file():
            raise SystemExit(f"gameserver: {path} is not a readable file")


def listening_banner(settings: Settings, lead: str = "gameserver is up at") -> str:
    secure = settings.certfile is not None
    http, ws = ("https", "wss") if secure else ("http", "ws")
    lines = [
        f"{lead} {http}://{settings.host}:{settings.port} "
        f"(game socket {ws}://{settings.host}:{settings.port}/v1/ws)"
    ]
    if settings.admin_port:
        lines.append(
            f"admin API and metrics only at {http}://{settings.host}:{settings.admin_port}"
        )
    if settings.metrics_port:
        lines.append(
            f"this gateway's own health and metrics at {http}://{settings.host}:"
            f"{settings.metrics_port} (/healthz /readyz /metrics)"
        )
    return "\n".join(lines)


async def _serve(settings: Settings, banner: str | None, reuse_port: bool = False) -> None:
    server = uvicorn.Server(uvicorn_config(settings))
    sockets = listening_sockets(settings, reuse_port)

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


def _show_access_log() -> None:
    # One line per admin call, whatever level the rest of the log runs at.
    logging.getLogger("gameserver.access").setLevel(logging.INFO)


def run_serve(settings: Settings, reuse_port: bool = False) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not settings.valkey_nodes:
        raise SystemExit("gameserver serve needs VALKEY_NODES (host:port,...)")
    if not settings.secret:
        raise SystemExit("gameserver serve needs GAMESERVER_SECRET")
    if not settings.admin_key:
        log.warning("GAMESERVER_ADMIN_KEY is unset: every admin call will be refused")
    check_tls_files(settings)
    if not reuse_port:
        check_ports_free(settings)
    _show_access_log()
    watch_supervisor()
    _run(_serve(settings, listening_banner(settings, "gateway listening on"), reuse_port))
    return 0


def run_worker(settings: Settings, metrics_port: int | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not settings.valkey_nodes:
        raise SystemExit("gameserver worker needs VALKEY_NODES (host:port,...)")
    from gameserver.workers.process import run_workers

    watch_supervisor()
    _run(run_workers(settings, metrics_port))
    return 0


def _child_env(settings: Settings) -> dict[str, str]:
    # The embedded cluster's own login, never TLS settings meant for an external one.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VALKEY_")}
    env["VALKEY_NODES"] = ",".join(f"{h}:{p}" for h, p in settings.valkey_nodes)
    env["VALKEY_USERNAME"] = settings.valkey_username or ""
    env["VALKEY_PASSWORD"] = settings.valkey_password or ""
    env["GAMESERVER_SECRET"] = settings.secret.decode()
    env["GAMESERVER_ADMIN_KEY"] = settings.admin_key
    env["GAMESERVER_DATA_DIR"] = str(settings.data_dir)
    if settings.demo:
        env["GAMESERVER_DEMO"] = "1"
    return env


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_up(
    settings: Settings,
    worker_metrics_port: int | None = None,
    gateway_metrics_port: int | None = None,
) -> int:
    """The embedded default: a supervisor of the local cluster, the worker and gateways.

    This process serves nothing itself (gameserver/supervisor/supervisor.py).
    """
    from gameserver.embedded.cluster import EmbeddedCluster
    from gameserver.supervisor.supervisor import Supervisor, free_local_port

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if settings.gateways < 1:
        raise SystemExit("--gateways must be at least 1")
    check_tls_files(settings)
    # Before the cluster starts: a taken port is one line, not a traceback a minute later.
    check_ports_free(settings)
    metrics_port = worker_metrics_port or free_local_port(settings.host)
    check_worker_port_free(settings.host, metrics_port)
    # Each gateway's own /metrics: the game and admin ports are shared by all of them, so a
    # scrape there reads whichever process the kernel picks.
    gateway_ports = gateway_metrics_ports(settings, gateway_metrics_port, {metrics_port})
    data_dir = settings.data_dir.resolve()
    check_secret_unchanged(data_dir, settings.secret)
    secret = settings.secret or load_or_create_secret(data_dir, SECRET_FILE).encode()
    # Kept beside the signing secret, so scripts and trusted servers keep working across
    # restarts; deleting the file makes a new one. Hex, not URL-safe base64: a key starting
    # with "-" reads as an option on command lines.
    admin_key = settings.admin_key or load_or_create_secret(
        data_dir, ADMIN_KEY_FILE, lambda: secrets.token_hex(24)
    )
    # A key the operator set is theirs to know: only one `up` made is printed.
    key_line = (
        f"admin key: {admin_key}\n(kept in {data_dir / ADMIN_KEY_FILE}; delete it for a new one)"
        if not settings.admin_key
        else "admin key from GAMESERVER_ADMIN_KEY (not printed)"
    )
    cluster = EmbeddedCluster(
        data_dir,
        base_port=settings.valkey_port,
        node_timeout_ms=settings.cluster_node_timeout_ms,
        supervised=True,
    )
    # SIGTERM takes the same clean path as Ctrl-C; and Ctrl-C (SIGINT) takes it even where
    # `up` started with SIGINT ignored, as a shell does for a job it runs in the background.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        seeds = cluster.start()
    except (RuntimeError, ValueError, OSError) as exc:
        # A busy data dir or Valkey port: cluster.start() already stopped what it started.
        raise SystemExit(f"gameserver: the Valkey cluster did not start: {exc}") from None
    except KeyboardInterrupt:
        print("gameserver stopped", flush=True)
        return 0
    supervisor: Supervisor | None = None
    try:
        # The gateways and workers log in as the least-privileged user.
        login = cluster.credentials.gameserver
        settings = settings.with_overrides(
            valkey_nodes=tuple(seeds),
            valkey_username=login.username,
            valkey_password=login.password,
            valkey_tls=False,
            secret=secret,
            admin_key=admin_key,
            data_dir=data_dir,
        )
        scheme = "https" if settings.certfile is not None else "http"
        own = ", ".join(f"{scheme}://{settings.host}:{p}" for p in gateway_ports)
        banner = (
            f"{listening_banner(settings)}\n"
            f"Valkey cluster: {','.join(f'{h}:{p}' for h, p in seeds)} (data in {data_dir})\n"
            f"worker health and metrics at http://{settings.host}:"
            f"{metrics_port} (/healthz /readyz /metrics)\n"
            + (
                f"each gateway's own health and metrics at {own} "
                "(/healthz /readyz /metrics; scrape every one)\n"
                if gateway_ports
                else ""
            )
            + f"{key_line}\n"
            "Ctrl-C stops everything."
        )
        supervisor = Supervisor(
            settings, cluster, _child_env(settings), metrics_port, banner, gateway_ports
        )
        supervisor.start()
        supervisor.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if supervisor is not None:
            supervisor.stop()
        else:
            cluster.stop()
        print("gameserver stopped", flush=True)
    return 0


def check_secret_unchanged(data_dir: Path, secret: bytes) -> None:
    """Refuse a GAMESERVER_SECRET other than the one earlier starts kept in the data dir:
    credentials are hashed under it, so every device would silently get a new account."""
    kept = data_dir / SECRET_FILE
    if not secret or not kept.is_file():
        return
    if kept.read_bytes().strip() != secret.strip():
        raise SystemExit(
            f"gameserver: GAMESERVER_SECRET is not the signing secret earlier starts kept in "
            f"{kept}: with it every token is refused and every device login makes a new "
            "account (docs/accounts.md); unset it, or delete that file to change the secret"
        )


def check_worker_port_free(host: str, port: int, flag: str = "--worker-metrics-port") -> None:
    try:
        shared_port_socket(host, port, reuse_port=False).close()
    except OSError as exc:
        raise SystemExit(
            f"gameserver: {host}:{port} ({flag}) is not free: {exc.strerror}"
        ) from None


def gateway_metrics_ports(settings: Settings, first: int | None, taken: set[int]) -> list[int]:
    """One metrics port per gateway process: `first` onwards, else free ones (distinct);
    none for a single gateway unless asked (its shared ports are its own then)."""
    from gameserver.supervisor.supervisor import free_local_port

    if first is None and settings.gateways == 1:
        return []
    if first is not None:
        ports = [first + i for i in range(settings.gateways)]
        for port in ports:
            check_worker_port_free(settings.host, port, "--gateway-metrics-port")
        return ports
    ports = []
    for _ in range(settings.gateways * 20):
        if len(ports) == settings.gateways:
            break
        port = free_local_port(settings.host)
        if port not in taken | set(ports) | {settings.port, settings.admin_port}:
            ports.append(port)
    if len(ports) < settings.gateways:
        raise SystemExit("gameserver: found no free ports for the gateways' metrics")
    return ports
