"""Reads of many keys in one round (one batch per primary)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from domain.storage.shard_calls import Call, ShardCaller


async def which_exist(
    storage: ShardCaller, ids: Iterable[str], key_of: Callable[[str], str]
) -> set[str]:
    """The ids among `ids` whose key (`key_of(id)`) exists."""
    unique = list(dict.fromkeys(ids))
    if not unique:
        return set()
    keys = [key_of(item) for item in unique]
    found = await storage.read([Call(key, ("EXISTS", key)) for key in keys])
    return {item for item, count in zip(unique, found, strict=True) if count}
