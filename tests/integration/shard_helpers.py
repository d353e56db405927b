"""Finding the nodes behind a key, freezing a node for a moment, waiting for a failover.

A node is frozen with SIGSTOP for well under the cluster node timeout (2 s), so the
cluster never notices; `frozen` always sends SIGCONT on the way out.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from valkey.asyncio.cluster import ClusterNode, ValkeyCluster

from gameserver.embedded import EmbeddedCluster
from gameserver.embedded.formation import probe

_POLL_S = 0.1


async def shard_of(valkey: ValkeyCluster, key: str) -> tuple[ClusterNode, ClusterNode]:
    """The primary serving `key`'s slot and its replica, from a fresh slot map."""
    await valkey.nodes_manager.initialize()
    nodes = valkey.nodes_manager.slots_cache[valkey.keyslot(key)]
    if len(nodes) < 2:
        raise AssertionError(f"the shard of {key} has no replica: {nodes}")
    return nodes[0], nodes[1]


def node_pid(cluster: EmbeddedCluster, port: int) -> int:
    for node in cluster.nodes:
        if node.port == port:
            pid = node.live_pid()
            if pid is None:
                raise AssertionError(f"node {port} is not running")
            return pid
    raise AssertionError(f"no node on port {port}")


@asynccontextmanager
async def frozen(cluster: EmbeddedCluster, port: int) -> AsyncIterator[None]:
    """The node on `port` stopped (SIGSTOP) inside the block; it resumes after."""
    pid = node_pid(cluster, port)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def wait_promoted(cluster: EmbeddedCluster, port: int, timeout_s: float = 15.0) -> None:
    """Wait until the node on `port` is a primary and sees the cluster whole again."""
    node = next(n for n in cluster.nodes if n.port == port)
    deadline = time.monotonic() + timeout_s
    while True:
        view = await asyncio.to_thread(probe, node)
        if view is not None and view.role == "primary" and view.cluster_state == "ok":
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"node {port} was not promoted within {timeout_s} s: {view}")
        await asyncio.sleep(_POLL_S)
