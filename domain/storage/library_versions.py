"""Which versions of the Valkey Function libraries running processes use, and pruning
the versions none of them uses any more.

Every library is loaded under a name carrying a hash of its code
(domain/storage/function_library.py), so during a rolling upgrade the gateways and
workers of releases N and N+1 each call their own functions on one cluster. Each process
heartbeats the names it uses into one sorted set (name -> last heartbeat, ms) every
`HEARTBEAT_S`; `prune` deletes, on every primary, the versioned libraries nobody has
named for `idle_ms`.

Pruning runs as an administrator (`gameserver cluster prune-functions`): FUNCTION DELETE
is not granted to the services' user, so a compromised gateway cannot delete another
release's code. A wrong prune is not an outage either: a caller whose function is gone
gets "function not found", loads its own library again and retries (shard_calls.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from valkey.asyncio.cluster import ValkeyCluster
from valkey.exceptions import ResponseError

from domain.storage.resp import text
from domain.storage.shard_calls import Call, ShardCaller

log = logging.getLogger(__name__)

SEEN_KEY = "fn:{libraries}:seen"
HEARTBEAT_S = 60.0
# Ten missed heartbeats: a process that stopped beating that long ago has stopped.
DEFAULT_IDLE_S = 600.0
# Only names this scheme made are ever pruned: `<library>_v<12 hex digits>`.
_VERSIONED = re.compile(r"\A[A-Za-z0-9_]+_v[0-9a-f]{12}\Z")


async def heartbeat(storage: ShardCaller, now_ms: int) -> frozenset[str]:
    """Record that this process uses its libraries now (every library a caller of the
    process uses on `storage`'s cluster), through the process's own caller; the names
    recorded."""
    names = storage.libraries_in_use()
    if names:
        args: list[Any] = ["ZADD", SEEN_KEY]
        for name in sorted(names):
            args += [now_ms, name]
        # No WAIT: a heartbeat lost in a failover is repeated a minute later.
        await storage.write(Call(SEEN_KEY, tuple(args)), 0, 0, idempotent=True)
    return names


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


async def run_heartbeats(
    storage: ShardCaller,
    stop: asyncio.Event,
    now_ms: Callable[[], int] = wall_clock_ms,
    interval_s: float = HEARTBEAT_S,
) -> None:
    """Heartbeat at once, then every `interval_s` until `stop` is set (wall-clock time,
    whatever clock the game runs on: `prune` compares it with the cluster's)."""
    while not stop.is_set():
        try:
            await heartbeat(storage, now_ms())
        except Exception as exc:  # the next beat tries again
            log.warning("function library heartbeat failed: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)


async def last_seen(cluster: ValkeyCluster) -> dict[str, int]:
    """Library name -> its last heartbeat (ms)."""
    reply = await cluster.zrange(SEEN_KEY, 0, -1, withscores=True)
    return {text(name): int(score) for name, score in reply}


async def loaded_libraries(admin: ValkeyCluster) -> set[str]:
    """The names of the libraries loaded on any primary."""
    names: set[str] = set()
    for node in admin.get_primaries():
        reply = await admin.execute_command("FUNCTION", "LIST", target_nodes=node)
        names |= _library_names(reply)
    return names


async def prune(admin: ValkeyCluster, now_ms: int, idle_ms: int) -> list[str]:
    """Delete, on every primary, the versioned libraries not heartbeated within `idle_ms`
    (run as an administrator); the names deleted."""
    seen = await last_seen(admin)
    cutoff = now_ms - idle_ms
    stale = sorted(
        name
        for name in await loaded_libraries(admin)
        if _VERSIONED.match(name) and seen.get(name, 0) < cutoff
    )
    for node in admin.get_primaries():
        for name in stale:
            with contextlib.suppress(ResponseError):  # not on this node
                await admin.execute_command("FUNCTION", "DELETE", name, target_nodes=node)
    forgotten = [name for name, at in seen.items() if at < cutoff]
    if forgotten:
        await admin.zrem(SEEN_KEY, *forgotten)
    return stale


def _library_names(reply: Any) -> set[str]:
    """Library names from FUNCTION LIST (a list of maps, or of flat field lists)."""
    names: set[str] = set()
    for library in reply or []:
        if isinstance(library, dict):
            fields = {text(k): v for k, v in library.items()}
        else:
            fields = {text(library[i]): library[i + 1] for i in range(0, len(library) - 1, 2)}
        if "library_name" in fields:
            names.add(text(fields["library_name"]))
    return names
