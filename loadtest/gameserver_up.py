"""Running `gameserver up` as a child process for a load test or a benchmark, and stopping it.

The child's output goes to `<data dir>/up.log` (a file, so no pipe can fill up and stall
it); its banner there tells the URL, the Valkey seeds and the admin key.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_URL = re.compile(r"gameserver is up at (http://\S+)")
_SEEDS = re.compile(r"Valkey cluster: (\S+)")
_ADMIN_KEY = re.compile(r"admin key: (\S+)")
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunningGameserver:
    url: str
    admin_key: str
    valkey_nodes: tuple[tuple[str, int], ...]
    # The `gameserver up` process, which is also the gateway's process.
    pid: int
    data_dir: Path
    log_path: Path

    @property
    def valkey_admin_login(self) -> tuple[str, str] | None:
        """The admin user of the embedded cluster (credentials.json), for raw clients."""
        return admin_login(self.data_dir)

    @property
    def valkey_nodes_env(self) -> str:
        return ",".join(f"{host}:{port}" for host, port in self.valkey_nodes)


def admin_login(data_dir: Path) -> tuple[str, str] | None:
    try:
        admin = json.loads((Path(data_dir) / "credentials.json").read_text())["admin"]
    except FileNotFoundError:
        return None
    return str(admin["username"]), str(admin["password"])


def env_login() -> tuple[str, str] | None:
    """VALKEY_USERNAME/VALKEY_PASSWORD of the environment, if a password is set."""
    password = os.environ.get("VALKEY_PASSWORD")
    return (os.environ.get("VALKEY_USERNAME") or "default", password) if password else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_valkey_base_port() -> int:
    from gameserver.embedded.ports import find_free_base_port

    return find_free_base_port()


def parse_banner(text: str, pid: int, data_dir: Path, log_path: Path) -> RunningGameserver | None:
    """The running server the banner in `text` describes; None until it is complete."""
    url, seeds, key = _URL.search(text), _SEEDS.search(text), _ADMIN_KEY.search(text)
    if not (url and seeds and key):
        return None
    nodes = tuple(
        (host, int(port)) for host, _, port in (s.rpartition(":") for s in seeds[1].split(","))
    )
    return RunningGameserver(url[1], key[1], nodes, pid, data_dir, log_path)


# Every simulated player connects from 127.0.0.1: the per-address abuse limits would
# measure themselves. The operator's own admin key is left out so `up` prints one.
LOAD_TEST_ENV = {
    "GAMESERVER_LOGIN_RATE_PER_S": "1000000",
    "GAMESERVER_LOGIN_BURST": "1000000",
    "GAMESERVER_MAX_SOCKETS_PER_ADDRESS": "0",
}


def start_gameserver(
    data_dir: Path,
    *,
    port: int | None = None,
    valkey_port: int | None = None,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 60.0,
    gateways: int = 1,
) -> tuple[subprocess.Popen[bytes], RunningGameserver]:
    """Start `gameserver up` and wait for its banner; stop it again if it never comes."""
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "up.log"
    command = [
        sys.executable, "-m", "gameserver", "up",
        "--host", "127.0.0.1",
        "--port", str(port or free_port()),
        "--valkey-port", str(valkey_port or free_valkey_base_port()),
        "--data-dir", str(data_dir),
        "--gateways", str(gateways),
    ]  # fmt: skip
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            env={
                **{k: v for k, v in os.environ.items() if k != "GAMESERVER_ADMIN_KEY"},
                **LOAD_TEST_ENV,
                **(env or {}),
            },
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = parse_banner(
            log_path.read_text(errors="replace"), process.pid, data_dir, log_path
        )
        if running is not None:
            return process, running
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop_gameserver(process)
    tail = log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"gameserver up did not print its banner in {timeout_s:.0f} s:\n{tail}")


def stop_gameserver(process: subprocess.Popen[bytes], timeout_s: float = STOP_TIMEOUT_S) -> int:
    """SIGTERM (the same clean path as Ctrl-C), then SIGKILL after `timeout_s`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextmanager
def gameserver_up(
    data_dir: Path,
    *,
    port: int | None = None,
    valkey_port: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[RunningGameserver]:
    process, running = start_gameserver(data_dir, port=port, valkey_port=valkey_port, env=env)
    try:
        yield running
    finally:
        stop_gameserver(process)


def valkey_servers_of(data_dir: Path) -> list[int]:
    """Pids of running valkey-server processes whose working folder is inside `data_dir`."""
    root = Path(data_dir).resolve()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cwd = Path(os.readlink(entry / "cwd"))
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if b"valkey-server" in cmdline and state != "Z" and cwd.is_relative_to(root):
            found.append(int(entry.name))
    return found


def gateway_pids(up_pid: int) -> tuple[int, ...]:
    """The gateway processes of a `gameserver up`: its `serve` children, and `up` itself
    (the supervisor, which serves nothing: its little CPU counts with the gateways')."""
    import psutil  # a [test] extra; the commands that reach here check for it first

    try:
        children = psutil.Process(up_pid).children()
    except psutil.Error:
        return (up_pid,)
    serving = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if "serve" in child.cmdline():
                serving.append(child.pid)
    return (up_pid, *serving)


def worker_pids(up_pid: int) -> tuple[int, ...]:
    """The `gameserver worker` processes a `gameserver up` runs."""
    import psutil  # a [test] extra; the commands that reach here check for it first

    try:
        children = psutil.Process(up_pid).children()
    except psutil.Error:
        return ()
    found = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if "worker" in child.cmdline():
                found.append(child.pid)
    return tuple(found)


def valkey_port_of(pid: int) -> str:
    """The port a valkey-server process listens on (its process title names it), else its pid."""
    import psutil  # a [test] extra; the commands that reach here check for it first

    try:
        title = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return str(pid)
    match = re.search(r":(\d+)", title)
    return match[1] if match else str(pid)
