"""A backup is the whole cluster at one instant: writes made one after another on
different primaries are never seen out of order in what it restores."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from valkey.asyncio.cluster import ValkeyCluster

from gameserver.embedded import EmbeddedCluster
from gameserver.embedded.backup import backup_embedded
from gameserver.embedded.ports import find_free_base_port
from gameserver.embedded.restore import restore_embedded


def one_key_per_primary(admin: ValkeyCluster) -> list[str]:
    """Keys (outside every feature's prefix: this test runs as admin) on three primaries."""
    keys: dict[str, str] = {}
    for n in range(10_000):
        key = f"bk:{{{n}}}"
        keys.setdefault(admin.get_node_from_key(key).name, key)
        if len(keys) == 3:
            return list(keys.values())
    raise AssertionError("no three primaries")


async def test_a_backup_taken_under_writes_restores_one_instant(
    admin_valkey: ValkeyCluster, embedded_cluster: EmbeddedCluster, tmp_path: Path
) -> None:
    keys = one_key_per_primary(admin_valkey)
    await admin_valkey.delete(*keys)
    stop = asyncio.Event()

    async def write_in_rounds() -> int:
        # Round n sets every key to n, one after the other: at any instant the values,
        # in key order, are n...n, n-1...n-1.
        n = 0
        while not stop.is_set():
            n += 1
            for key in keys:
                await admin_valkey.set(key, n)
        return n

    writer = asyncio.create_task(write_in_rounds())
    try:
        await asyncio.sleep(0.2)
        archive = tmp_path / "b.tar.gz"
        await asyncio.to_thread(
            backup_embedded, embedded_cluster.data_dir, archive, embedded_cluster.base_port
        )
    finally:
        stop.set()
        rounds = await writer
    assert rounds > 1

    restored_dir = tmp_path / "restored"
    port = find_free_base_port()
    await asyncio.to_thread(restore_embedded, archive, restored_dir, port, True)
    restored = EmbeddedCluster(restored_dir, port)
    try:
        admin = restored.credentials.admin
        client = ValkeyCluster(
            host="127.0.0.1", port=port, username=admin.username, password=admin.password
        )
        try:
            values = [int(await client.get(key) or 0) for key in keys]
        finally:
            await client.aclose()
    finally:
        with contextlib.suppress(Exception):
            restored.stop()
    first = values[0]
    assert first > 0
    # Non-increasing in write order, and at most one round apart.
    assert values == sorted(values, reverse=True) and values[-1] >= first - 1, values
