"""Helpers for tests that run against a Valkey cluster."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from valkey.asyncio.cluster import ValkeyCluster
from valkey.exceptions import ValkeyError

from gameserver.embedded import EmbeddedCluster
from gameserver.embedded.cluster import recorded_base_port
from gameserver.embedded.free_ports import start_on_free_ports

log = logging.getLogger(__name__)

# Session clusters live in folders with this prefix, outside pytest's rotated basetemp,
# so that the nodes of a session that died without teardown can still be found.
SESSION_CLUSTER_PREFIX = "gameserver-test-cluster-"
_FLUSH_ATTEMPTS = 3
_WAIT_TIMEOUT_MS = 2000


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
        except (ValkeyError, OSError):
            # A failover test may have left the slot map stale: refresh it and go again.
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


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float, interval_s: float = 0.05
) -> None:
    """Poll `check` until it returns True; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(interval_s)
