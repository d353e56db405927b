"""One matchmaking worker as its own process, for tests that kill it.

    python -m tests.integration.matchmaking.worker_process HOST:PORT[,...] WORKER_ID

Prints "ready" once connected; SIGTERM stops it cleanly, SIGKILL is what the tests use.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Sequence
from typing import Any

from domain.clock import SystemClock
from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.store import MatchmakingStore
from domain.matchmaking.worker import MatchmakingWorker
from domain.storage.shard_calls import ShardCaller
from gameserver.settings import settings_from_env
from gameserver.valkey_client import connect_cluster


class SilentNotifier:
    async def match_found(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        return None

    async def ticket_expired(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        return None


async def main(seeds: str, worker_id: str, lease_s: float, tick_s: float, batch: int) -> None:
    # The login (VALKEY_USERNAME/PASSWORD) comes from the environment, as for `worker`.
    settings = settings_from_env({**os.environ, "VALKEY_NODES": seeds})
    client = await connect_cluster(settings)
    limits = MatchmakingLimits(lease_s=lease_s, tick_s=tick_s, commit_batch=batch)
    worker = MatchmakingWorker(
        MatchmakingStore(ShardCaller(client)),
        SystemClock(),
        SilentNotifier(),
        worker_id,
        limits=limits,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    try:
        await worker.run(stop)
    finally:
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("seeds")
    parser.add_argument("worker_id")
    parser.add_argument("--lease-s", type=float, default=1.0)
    parser.add_argument("--tick-s", type=float, default=0.05)
    parser.add_argument("--commit-batch", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.seeds, args.worker_id, args.lease_s, args.tick_s, args.commit_batch))
