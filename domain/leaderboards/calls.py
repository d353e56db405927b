"""How leaderboards use the shared shard caller: their function library and `lb_multi`
(`LeaderboardStore` registers both on the process's one caller).

The reads of one round bound for one primary go as a single `lb_multi` call, which runs
each sub-board's read function in turn (see leaderboards.lua). The calls themselves are
the typed requests of functions.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from domain.storage.shard_calls import Call, ReadMerge

LIBRARY_CODE = (Path(__file__).parent / "leaderboards.lua").read_text()


def _is_function_read(call: Call) -> bool:
    """A read of this library's functions: the caller is shared with other features."""
    return call.args[0] == "FCALL_RO" and str(call.args[1]).startswith("lb_")


def _combine(calls: Sequence[Call]) -> Call:
    args: list[Any] = []
    for call in calls:
        _, name, nkeys, *rest = call.args
        args += [name, nkeys, *rest[:nkeys], len(rest) - nkeys, *rest[nkeys:]]
    return Call(calls[0].route, ("FCALL_RO", "lb_multi", 0, *args))


FUNCTION_READS = ReadMerge(accepts=_is_function_read, combine=_combine)
