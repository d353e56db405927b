"""How leaderboards use the shared shard caller: their function library and `lb_multi`.

The reads of one round bound for one primary go as a single `lb_multi` call, which runs
each sub-board's read function in turn (see leaderboards.lua). The calls themselves are
the typed requests of functions.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from valkey.asyncio.cluster import ValkeyCluster

from domain.storage.shard_calls import Call, ReadMerge, ShardCaller

LIBRARY_CODE = (Path(__file__).parent / "leaderboards.lua").read_text()


def _is_function_read(call: Call) -> bool:
    return bool(call.args[0] == "FCALL_RO")


def _combine(calls: Sequence[Call]) -> Call:
    args: list[Any] = []
    for call in calls:
        _, name, nkeys, *rest = call.args
        args += [name, nkeys, *rest[:nkeys], len(rest) - nkeys, *rest[nkeys:]]
    return Call(calls[0].route, ("FCALL_RO", "lb_multi", 0, *args))


FUNCTION_READS = ReadMerge(accepts=_is_function_read, combine=_combine)


def leaderboard_caller(cluster: ValkeyCluster, failover_window_s: float = 6.0) -> ShardCaller:
    """A shard caller that keeps the leaderboards library loaded and merges its reads."""
    return ShardCaller(cluster, failover_window_s, libraries=[LIBRARY_CODE], merge=FUNCTION_READS)
