"""Reads of many keys in one pipelined round (one pipeline per primary)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from valkey.asyncio.cluster import ValkeyCluster


async def which_exist(
    cluster: ValkeyCluster, ids: Iterable[str], key_of: Callable[[str], str]
) -> set[str]:
    """The ids among `ids` whose key (`key_of(id)`) exists."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        return set()
    pipe = cluster.pipeline(transaction=False)
    for item in unique:
        pipe.exists(key_of(item))
    found = await pipe.execute()
    return {item for item, count in zip(unique, found, strict=True) if count}
