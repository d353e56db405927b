"""What the bench reads from the nodes and the machine: memory, CPU, replication, load."""

from __future__ import annotations

import asyncio
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valkey.asyncio.cluster import ClusterNode, ValkeyCluster

_SYNC_POLL_S = 0.2


@dataclass(frozen=True)
class NodeMemory:
    primaries: dict[str, int]
    replicas: dict[str, int]


async def _info(node: ClusterNode, section: str) -> dict[str, Any]:
    info = await node.execute_command("INFO", section)
    return {str(k): v for k, v in dict(info).items()}


def _nodes(cluster: ValkeyCluster, role: str) -> list[ClusterNode]:
    return sorted((n for n in cluster.get_nodes() if n.server_type == role), key=lambda n: n.name)


async def memory(cluster: ValkeyCluster) -> NodeMemory:
    """used_memory of every primary and every replica."""

    async def used(nodes: list[ClusterNode]) -> dict[str, int]:
        infos = await asyncio.gather(*(_info(n, "memory") for n in nodes))
        return {n.name: int(i["used_memory"]) for n, i in zip(nodes, infos, strict=True)}

    return NodeMemory(
        await used(_nodes(cluster, "primary")), await used(_nodes(cluster, "replica"))
    )


async def cpu_seconds(cluster: ValkeyCluster) -> float:
    """CPU used so far by every node, its AOF-rewrite children included."""
    infos = await asyncio.gather(*(_info(n, "cpu") for n in cluster.get_nodes()))
    fields = ("used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children")
    return sum(float(info.get(f, 0.0)) for info in infos for f in fields)


async def server_version(cluster: ValkeyCluster) -> str:
    info = await _info(_nodes(cluster, "primary")[0], "server")
    return str(info.get("valkey_version") or info.get("redis_version") or "unknown")


async def persistence(cluster: ValkeyCluster) -> dict[str, Any]:
    node = _nodes(cluster, "primary")[0]
    reply = await node.execute_command("CONFIG", "GET", "append*")
    pairs = reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))
    return {_text(k): _text(v) for k, v in pairs.items()}


async def wait_replicas_synced(cluster: ValkeyCluster, timeout_s: float) -> float:
    """Wait until every replica has acknowledged its primary's offset; seconds waited."""
    started = time.monotonic()
    primaries = _nodes(cluster, "primary")
    first = await asyncio.gather(*(_info(n, "replication") for n in primaries))
    targets = {
        n.name: int(info["master_repl_offset"]) for n, info in zip(primaries, first, strict=True)
    }
    while True:
        infos = await asyncio.gather(*(_info(n, "replication") for n in primaries))
        behind = [
            n.name
            for n, info in zip(primaries, infos, strict=True)
            if _min_replica_offset(info) < targets[n.name]
        ]
        if not behind:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise RuntimeError(f"replicas of {behind} not in sync after {timeout_s:.0f} s")
        await asyncio.sleep(_SYNC_POLL_S)


def _min_replica_offset(info: dict[str, Any]) -> int:
    offsets = [
        int(value["offset"])
        for key, value in info.items()
        if key.startswith("slave") and isinstance(value, dict) and "offset" in value
    ]
    if len(offsets) != int(info.get("connected_slaves", 0)) or not offsets:
        return -1
    return min(offsets)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "memory_bytes": _meminfo_total(),
        "cpu": _cpu_model(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _meminfo_total() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
