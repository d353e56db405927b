"""Two releases' function libraries side by side on one cluster, and pruning the one no
process heartbeats any more."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from valkey.asyncio.cluster import ValkeyCluster

from domain.abuse.store import LIBRARY_CODE as ABUSE_LIBRARY
from domain.storage.function_library import FunctionLibrary, libraries_in_use
from domain.storage.library_versions import SEEN_KEY, heartbeat, loaded_libraries, prune
from domain.storage.shard_calls import Call, ShardCaller
from gameserver.settings import Settings
from gameserver.valkey_client import connect_cluster

RELEASE_N = """#!lua name=opsxtest
server.register_function('opsx_version', function(keys, args) return 'N' end)
"""
# Release N+1 changed the function: same plain names, another version.
RELEASE_N1 = RELEASE_N.replace("'N'", "'N+1'")
KEY = "fv:{versions}:k"
IDLE_MS = 600_000


async def version_answer(caller: ShardCaller) -> bytes:
    (answer,) = await caller.read([Call(KEY, ("FCALL", "opsx_version", 1, KEY))])
    assert isinstance(answer, bytes)
    return answer


@contextlib.asynccontextmanager
async def two_releases(
    valkey: ValkeyCluster, settings: Settings, release_n: str, release_n1: str
) -> AsyncIterator[tuple[ShardCaller, ShardCaller, ValkeyCluster]]:
    """Two processes: release N's caller on `valkey`, release N+1's on a client of its
    own (yielded too), both libraries loaded."""
    other = await connect_cluster(settings)
    try:
        caller_n = ShardCaller(valkey, libraries=[release_n])
        caller_n1 = ShardCaller(other, libraries=[release_n1])
        await caller_n.load()
        await caller_n1.load()
        yield caller_n, caller_n1, other
    finally:
        await other.aclose()


async def test_two_releases_call_their_own_functions_and_the_unused_one_is_pruned(
    valkey: ValkeyCluster, settings: Settings
) -> None:
    old_name = FunctionLibrary.from_source(RELEASE_N).name
    new_name = FunctionLibrary.from_source(RELEASE_N1).name
    assert old_name != new_name and old_name.startswith("opsxtest_v")
    async with two_releases(valkey, settings, RELEASE_N, RELEASE_N1) as releases:
        release_n, release_n1, other = releases
        assert await version_answer(release_n) == b"N"
        assert await version_answer(release_n1) == b"N+1"
        assert {old_name, new_name} <= await loaded_libraries(valkey)

        now_ms = 10**13
        # Every other library on the cluster belongs to a live process here.
        live = (await loaded_libraries(valkey)) - {old_name, new_name}
        if live:
            await valkey.zadd(SEEN_KEY, dict.fromkeys(live, now_ms))
        # Release N+1 runs now; the last process of release N stopped long ago.
        assert new_name in await heartbeat(release_n1, now_ms)
        assert old_name in libraries_in_use(valkey)
        await heartbeat(release_n, now_ms - 2 * IDLE_MS)

        assert await prune(valkey, now_ms, IDLE_MS) == [old_name]
        loaded = await loaded_libraries(valkey)  # on every primary
        assert old_name not in loaded and new_name in loaded
        assert await version_answer(release_n1) == b"N+1"
        assert await valkey.zscore(SEEN_KEY, old_name) is None
        assert await prune(valkey, now_ms, IDLE_MS) == []

        # A process wrongly judged gone loads its library again on its next call.
        assert await version_answer(release_n) == b"N"


async def test_the_current_abuse_library_and_a_changed_copy_run_side_by_side(
    valkey: ValkeyCluster, settings: Settings
) -> None:
    # Release N+1 changed what abuse_take answers; N is this code's own library.
    changed = ABUSE_LIBRARY.replace("return {1, 0}", "return {1, 7}")
    assert changed != ABUSE_LIBRARY
    current_name = FunctionLibrary.from_source(ABUSE_LIBRARY).name
    changed_name = FunctionLibrary.from_source(changed).name
    async with two_releases(valkey, settings, ABUSE_LIBRARY, changed) as releases:
        release_n, release_n1, other = releases
        key = "abuse:{login:203.0.113.9}"
        call = Call(key, ("FCALL", "abuse_take", 1, key, 1000, 100))
        assert await release_n.write(call, 0, 0, idempotent=True) == [1, 0]
        assert await release_n1.write(call, 0, 0, idempotent=True) == [1, 7]

        # The rollout of N+1 was rolled back: its processes stopped long ago.
        now_ms = 10**13
        live = (await loaded_libraries(valkey)) - {changed_name}
        await valkey.zadd(SEEN_KEY, dict.fromkeys(live, now_ms))
        await heartbeat(release_n1, now_ms - 2 * IDLE_MS)
        assert await prune(valkey, now_ms, IDLE_MS) == [changed_name]
        loaded = await loaded_libraries(valkey)
        assert current_name in loaded and changed_name not in loaded
        assert await release_n.write(call, 0, 0, idempotent=True) == [1, 0]
