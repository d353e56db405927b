"""The supervisor loop of `gameserver up`: start, watch, restart, stop in order.

`up` is never a gateway itself: it runs the embedded cluster's six nodes, N gateway
processes (`gameserver serve --reuse-port` on one port) and one worker process
(`gameserver worker --metrics-port P`) as its children, and polls them. A child that
dies is started again after a backoff (1 s, doubled at each death in a row, at most
30 s; a child that ran 30 s starts again from 1 s; a Valkey node waits at least twice
the node timeout plus 1 s, so that a failover comes first), logged and counted; the counts go
to `<data dir>/supervisor.json`, which the gateways and the worker show on `/metrics`
as `gameserver_supervisor_restarts_total{process=...}`.

A restarted Valkey node keeps its folder (nodes.conf, AOF): it rejoins the cluster
with its own id, as a replica of its shard (a primary that died and was replaced by
its replica comes back as that one's replica).

Every `prune_functions_s` (an hour) it runs `gameserver cluster prune-functions` on its
cluster as a short-lived child: the function library versions of an earlier release,
which nothing heartbeats any more, are deleted (docs/operations.md "Rolling upgrades").
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gameserver.embedded.cluster import EmbeddedCluster
from gameserver.embedded.node import Node
from gameserver.settings import Settings
from gameserver.supervisor.backoff import Backoff
from gameserver.supervisor.parent_death import (
    PDEATHSIG_ENV,
    WATCHDOG_FD_ENV,
    parent_death_preexec,
)
from gameserver.supervisor.restarts import (
    PROCESS_KINDS,
    STATE_ENV,
    state_path,
    write_restarts,
)

log = logging.getLogger("gameserver.supervisor")

_POLL_S = 0.2
_READY_POLL_S = 0.5
_READY_WARN_S = 90.0
_GATEWAY_STOP_S = 15.0
_WORKER_STOP_S = 10.0


@dataclass
class Child:
    """One supervised process: how to start it and how to tell that it runs."""

    name: str
    kind: str
    start: Callable[[], None]
    running: Callable[[], bool]
    pid: Callable[[], int | None]
    backoff: Backoff
    started_at: float = 0.0
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class PythonProcess:
    """A gateway or the worker: `python -m gameserver ...` with the watchdog pipe."""

    command: list[str]
    env: dict[str, str]
    watchdog_fd: int
    # "both", "signal" or "pipe" (Settings.parent_death).
    parent_death: str
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(self.env)
        preexec = parent_death_preexec() if self.parent_death != "pipe" else None
        env[PDEATHSIG_ENV] = "1" if preexec is not None else "0"
        pipe = self.parent_death != "signal" or preexec is None
        if pipe:
            env[WATCHDOG_FD_ENV] = str(self.watchdog_fd)
        self.process = subprocess.Popen(
            self.command,
            env=env,
            pass_fds=(self.watchdog_fd,) if pipe else (),
            # Its own session: a terminal's Ctrl-C reaches the supervisor alone, which
            # then stops everything in order.
            start_new_session=True,
            preexec_fn=preexec,
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self, timeout_s: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning(
                "pid %d ignored SIGTERM for %.0f s; killing it", self.process.pid, timeout_s
            )
            self.process.kill()
            self.process.wait()


@dataclass
class Supervisor:
    settings: Settings
    cluster: EmbeddedCluster
    # The gateways' and worker's environment (the cluster's login, secret, admin key).
    env: dict[str, str]
    worker_metrics_port: int
    banner: str
    # Gateway i's own /metrics port (`serve --metrics-port`), kept across its restarts.
    gateway_metrics_ports: list[int] = field(default_factory=list)
    gateways: list[PythonProcess] = field(default_factory=list)
    worker: PythonProcess | None = None
    children: list[Child] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PROCESS_KINDS, 0))
    _watchdog: tuple[int, int] | None = None
    _prune: subprocess.Popen[bytes] | None = None
    _next_prune: float = 0.0

    @property
    def state_file(self) -> Path:
        return state_path(self.cluster.data_dir)

    def start(self) -> None:
        """Start the worker and the gateways (the cluster is already up)."""
        write_restarts(self.state_file, self.restarts)
        read_end, write_end = os.pipe()
        self._watchdog = (read_end, write_end)
        env = {**self.env, STATE_ENV: str(self.state_file)}
        for node in self.cluster.nodes:
            self.children.append(self._node_child(node))
        worker_command = [sys.executable, "-m", "gameserver", "worker"]
        worker_command += ["--metrics-port", str(self.worker_metrics_port)]
        self.worker = PythonProcess(worker_command, env, read_end, self.settings.parent_death)
        self.children.append(self._python_child("worker", "worker", self.worker))
        for index in range(1, self.settings.gateways + 1):
            gateway = PythonProcess(
                self._gateway_command(index), env, read_end, self.settings.parent_death
            )
            self.gateways.append(gateway)
            self.children.append(self._python_child(f"gateway-{index}", "gateway", gateway))
        now = time.monotonic()
        for child in self.children:
            if child.kind != "valkey":
                child.start()
            child.started_at = now

    def run(self) -> None:
        """Watch the children until interrupted (KeyboardInterrupt: Ctrl-C or SIGTERM)."""
        announced = False
        started = time.monotonic()
        next_ready_check = 0.0
        warned = False
        while True:
            now = time.monotonic()
            for child in self.children:
                self._watch(child, now)
            if announced:
                self._prune_functions(now)
            if not announced and now >= next_ready_check:
                next_ready_check = now + _READY_POLL_S
                if self._gateway_ready():
                    print(self.banner, flush=True)
                    announced = True
                    # The first prune one period after the gateway is ready: its
                    # libraries' heartbeat has been written by then.
                    self._next_prune = now + self.settings.prune_functions_s
                elif not warned and now - started > _READY_WARN_S:
                    log.warning("the gateway is not ready after %.0f s", _READY_WARN_S)
                    warned = True
            time.sleep(_POLL_S)

    def stop(self) -> None:
        """Gateways first (they drain their sockets with 1001), the worker, then the nodes."""
        for gateway in self.gateways:
            if gateway.process is not None and gateway.process.poll() is None:
                gateway.process.terminate()
        for gateway in self.gateways:
            gateway.stop(_GATEWAY_STOP_S)
        if self.worker is not None:
            self.worker.stop(_WORKER_STOP_S)
        if self._prune is not None and self._prune.poll() is None:
            self._prune.kill()
            self._prune.wait()
        self.cluster.stop()
        if self._watchdog is not None:
            for fd in self._watchdog:
                os.close(fd)
            self._watchdog = None

    def _watch(self, child: Child, now: float) -> None:
        if child.restart_at is None:
            if child.running():
                return
            ran = now - child.started_at
            delay = child.backoff.delay_after_exit(ran)
            child.restart_at = now + delay
            log.warning(
                "%s (pid %s) died after %.1f s; starting it again in %.1f s",
                child.name,
                child.pid(),
                ran,
                delay,
            )
            return
        if now < child.restart_at:
            return
        child.restart_at = None
        child.started_at = now
        try:
            child.start()
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            log.warning("%s did not start again: %s", child.name, exc)
        child.restarts += 1
        self.restarts[child.kind] = self.restarts.get(child.kind, 0) + 1
        write_restarts(self.state_file, self.restarts)
        log.warning(
            "%s started again (pid %s), restart %d", child.name, child.pid(), child.restarts
        )

    def _prune_functions(self, now: float) -> None:
        """Start `cluster prune-functions` when its time has come and none runs."""
        if self.settings.prune_functions_s <= 0:
            return
        if self._prune is not None:
            code = self._prune.poll()
            if code is None:
                return
            if code != 0:
                log.warning("gameserver cluster prune-functions exited with %d", code)
            self._prune = None
        if now < self._next_prune:
            return
        self._next_prune = now + self.settings.prune_functions_s
        # As the embedded cluster's admin (from the data dir): FUNCTION DELETE is not the
        # services' right, so no VALKEY_ login of theirs goes along.
        env = {k: v for k, v in self.env.items() if not k.startswith("VALKEY_")}
        command = [sys.executable, "-m", "gameserver", "cluster", "prune-functions"]
        command += ["--data-dir", str(self.cluster.data_dir)]
        try:
            self._prune = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=parent_death_preexec(),
            )
        except OSError as exc:
            log.warning("gameserver cluster prune-functions did not start: %s", exc)

    def _backoff(self) -> Backoff:
        s = self.settings
        return Backoff(s.restart_backoff_s, s.restart_backoff_max_s, s.restart_stable_s)

    def _python_child(self, name: str, kind: str, process: PythonProcess) -> Child:
        return Child(name, kind, process.start, process.running, process.pid, self._backoff())

    def _node_child(self, node: Node) -> Child:
        cluster = self.cluster

        def running() -> bool:
            process = cluster.processes.get(node.port)
            if process is not None:
                return process.poll() is None
            # A node adopted from an earlier owner is no child of ours: ask its pid file.
            return node.live_pid() is not None

        def pid() -> int | None:
            process = cluster.processes.get(node.port)
            return process.pid if process is not None else node.read_pid()

        # A node waits out a failover before it starts again: a dead primary's replica is
        # promoted first (after the node timeout), and the old primary rejoins as its
        # replica instead of taking its slots back from a possibly shorter AOF.
        s = self.settings
        first = max(s.restart_backoff_s, 2 * s.cluster_node_timeout_ms / 1000 + 1)
        backoff = Backoff(first, max(first, s.restart_backoff_max_s), s.restart_stable_s)
        return Child(
            f"valkey-{node.port}",
            "valkey",
            lambda: cluster.launch_node(node),
            running,
            pid,
            backoff,
        )

    def _gateway_command(self, index: int) -> list[str]:
        s = self.settings
        command = [sys.executable, "-m", "gameserver", "serve", "--reuse-port"]
        command += ["--host", s.host, "--port", str(s.port)]
        if s.admin_port:
            command += ["--admin-port", str(s.admin_port)]
        if index <= len(self.gateway_metrics_ports):
            command += ["--metrics-port", str(self.gateway_metrics_ports[index - 1])]
        if s.certfile and s.keyfile:
            command += ["--certfile", str(s.certfile), "--keyfile", str(s.keyfile)]
        return command

    def _gateway_ready(self) -> bool:
        return probe_ready(self.settings)


def local_address(host: str) -> str:
    """Where this machine reaches a listener bound to `host`."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def probe_ready(settings: Settings) -> bool:
    """True when the gateway's /readyz answers 200 (TLS: our own certificate, unchecked)."""
    scheme = "https" if settings.certfile else "http"
    url = f"{scheme}://{local_address(settings.host)}:{settings.port}/readyz"
    context = ssl._create_unverified_context() if settings.certfile else None  # noqa: S323
    try:
        with urllib.request.urlopen(url, timeout=1.0, context=context) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def free_local_port(host: str) -> int:
    """A port free on `host` now (the worker's health and metrics listener)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
