"""Helpers for tests that run against a Valkey cluster."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valkey.asyncio.cluster import ValkeyCluster
from valkey.exceptions import ValkeyClusterException, ValkeyError

from gameserver.embedded import EmbeddedCluster
from gameserver.embedded.cluster import recorded_base_port
from gameserver.embedded.credentials import Credential
from gameserver.embedded.free_ports import start_on_free_ports
from gameserver.settings import Settings

log = logging.getLogger(__name__)

# Session clusters live in folders with this prefix, outside pytest's rotated basetemp,
# so that the nodes of a session that died without teardown can still be found.
SESSION_CLUSTER_PREFIX = "gameserver-test-cluster-"
_FLUSH_ATTEMPTS = 3
_WAIT_TIMEOUT_MS = 2000

Seeds = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ClusterLogins:
    """How tests log in to one cluster: services as `gameserver`, test set-up as `admin`."""

    gameserver: Credential | None
    admin: Credential | None


# The logins of the clusters this run started or was pointed at, by their seeds.
_LOGINS: dict[Seeds, ClusterLogins] = {}


def register_logins(seeds: Seeds, logins: ClusterLogins) -> None:
    _LOGINS[tuple(seeds)] = logins


def logins_for(seeds: Seeds) -> ClusterLogins:
    try:
        return _LOGINS[tuple(seeds)]
    except KeyError:
        raise RuntimeError(f"no login registered for the cluster at {seeds}") from None


def service_login(seeds: Seeds) -> dict[str, Any]:
    """`Settings` fields that make a service log in as the least-privileged user."""
    login = logins_for(seeds).gameserver
    if login is None:
        return {}
    return {"valkey_username": login.username, "valkey_password": login.password}


def admin_settings(settings: Settings) -> Settings:
    """`settings` logging in as the admin user instead (flushing, fault injection)."""
    login = logins_for(settings.valkey_nodes).admin
    if login is None:
        return settings
    return settings.with_overrides(valkey_username=login.username, valkey_password=login.password)


def login_env(settings: Settings) -> dict[str, str]:
    """The environment a `gameserver serve`/`worker` process needs to log in as `settings`."""
    env = {
        "VALKEY_NODES": ",".join(f"{h}:{p}" for h, p in settings.valkey_nodes),
        "VALKEY_USERNAME": settings.valkey_username or "",
        "VALKEY_PASSWORD": settings.valkey_password or "",
        "VALKEY_TLS": "1" if settings.valkey_tls else "0",
    }
    tls_files = {
        "VALKEY_TLS_CA": settings.valkey_tls_ca,
        "VALKEY_TLS_CERT": settings.valkey_tls_cert,
        "VALKEY_TLS_KEY": settings.valkey_tls_key,
    }
    env.update({name: str(path) for name, path in tls_files.items() if path is not None})
    return env


def start_embedded_cluster(parent: Path, node_timeout_ms: int = 2000) -> EmbeddedCluster:
    """An embedded cluster on free ports under `parent`, started."""
    return start_on_free_ports(parent, node_timeout_ms)


def new_session_cluster_folder() -> Path:
    """A folder named after this process, so other runs can tell whose cluster it is."""
    return Path(tempfile.mkdtemp(prefix=f"{SESSION_CLUSTER_PREFIX}{os.getpid()}-"))


def owner_pid(folder: Path) -> int | None:
    """The pid of the test run that made `folder`, or None for a name without one."""
    pid, _, _ = folder.name.removeprefix(SESSION_CLUSTER_PREFIX).partition("-")
    return int(pid) if pid.isdigit() else None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def orphaned_session_cluster_folders(root: Path) -> list[Path]:
    """Session cluster folders under `root` that this run may clean up: its own, and
    those whose owning run is gone. Another live run's cluster is never among them, even
    in the instant before its nodes take their lock."""
    mine = os.getpid()
    found: list[Path] = []
    for folder in root.glob(f"{SESSION_CLUSTER_PREFIX}*"):
        pid = owner_pid(folder)
        if pid is None or (pid != mine and process_alive(pid)):
            continue
        found.append(folder)
    return found


def stop_orphaned_session_clusters() -> None:
    """Stop the session clusters of test runs that ended without their teardown.

    Only folders of this process or of a process that no longer exists are touched; and
    a live owner still holds the lock of its cluster folder, so `stop()` refuses it.
    """
    for folder in orphaned_session_cluster_folders(Path(tempfile.gettempdir())):
        try:
            data_dirs = list(folder.iterdir())
        except OSError:
            continue  # removed meanwhile by the session that owned it
        for data_dir in data_dirs:
            base_port = recorded_base_port(data_dir)
            if base_port is None:
                continue
            try:
                EmbeddedCluster(data_dir, base_port).stop(timeout_s=5)
            except (RuntimeError, OSError):
                continue  # a live session owns it, or it went away meanwhile
            log.info("removed the orphaned test cluster in %s", data_dir)
            shutil.rmtree(data_dir, ignore_errors=True)


async def flush_cluster(client: ValkeyCluster) -> None:
    """FLUSHALL on every primary, then WAIT until its replicas have applied it."""
    for attempt in range(1, _FLUSH_ATTEMPTS + 1):
        try:
            await _flush_primaries(client)
            return
        # A node that went away fails the first try; a pipeline's own retry then forgets
        # the target node and refuses a keyless FLUSHALL (ValkeyClusterException).
        except (ValkeyError, ValkeyClusterException, OSError):
            # A failover test may have left the slot map stale: refresh it and go again.
            if attempt == _FLUSH_ATTEMPTS:
                raise
            await client.nodes_manager.initialize()


async def refresh_links(client: ValkeyCluster) -> None:
    """PING every primary as `flush_cluster` does, so that a failover test's dead
    connections and stale slot map fail, and are replaced, here rather than in the next
    test."""
    for attempt in range(1, _FLUSH_ATTEMPTS + 1):
        pipe = client.pipeline()
        for primary in client.get_primaries():
            pipe.execute_command("PING", target_nodes=primary)
        try:
            await pipe.execute()
            return
        except (ValkeyError, ValkeyClusterException, OSError):
            if attempt == _FLUSH_ATTEMPTS:
                raise
            await client.nodes_manager.initialize()


async def _flush_primaries(client: ValkeyCluster) -> None:
    replicas: dict[str, int] = {}
    for nodes in client.nodes_manager.slots_cache.values():
        replicas[nodes[0].name] = len(nodes) - 1
    pipe = client.pipeline()
    for primary in client.get_primaries():
        # One pipeline per node shares one connection, which WAIT needs: it waits for
        # the writes of its own connection.
        pipe.execute_command("FLUSHALL", target_nodes=primary)
        pipe.execute_command(
            "WAIT", replicas.get(primary.name, 0), _WAIT_TIMEOUT_MS, target_nodes=primary
        )
    await pipe.execute()


def stop_process(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM, then SIGKILL whatever is still running after `timeout_s`."""
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float, interval_s: float = 0.05
) -> None:
    """Poll `check` until it returns True; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)


async def until(predicate: Callable[[], object], what: str, bound_s: float = 20.0) -> None:
    """Poll `predicate` (a real process is at work) until it holds; fail naming `what`
    after `bound_s`."""
    deadline = time.monotonic() + bound_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def spublish(cluster: ValkeyCluster, channel: bytes | str, data: bytes | str) -> int:
    """Publish on a shard channel as a feature's store does; the subscriber count of the
    node that took it (right after a failover a stale slot map may pick a replica: 0)."""
    return int(await cluster.execute_command("SPUBLISH", channel, data))
