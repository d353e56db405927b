"""Auto-pipelining: the commands that concurrent requests send to one node within one
event-loop turn travel together, as one pipeline on one connection.

valkey-py spends most of a round trip's CPU per pipeline (packing, one write, one read
loop); under load, dozens of requests each send their own small pipeline to the same
primary. Coalescing them cuts those costs, and a write's WAIT then covers the whole batch
(WAIT waits for every earlier write of its connection), so durability is unchanged.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

from valkey.asyncio.cluster import ClusterNode, PipelineCommand, ValkeyCluster

# A batch stops growing here, so one slow batch never holds too many requests.
MAX_BATCH_COMMANDS = 512


class _NodeQueue:
    def __init__(self, node: ClusterNode, stats: PipelineStats) -> None:
        self.node = node
        self._stats = stats
        self._pending: list[tuple[Sequence[PipelineCommand], asyncio.Future[None]]] = []
        self._size = 0
        self._scheduled = False

    def submit(self, commands: Sequence[PipelineCommand]) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((commands, done))
        self._size += len(commands)
        if self._size >= MAX_BATCH_COMMANDS:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return done

    def _flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        batch, self._pending, self._size = self._pending, [], 0
        asyncio.get_running_loop().create_task(self._send(batch))

    async def _send(
        self, batch: list[tuple[Sequence[PipelineCommand], asyncio.Future[None]]]
    ) -> None:
        commands = [command for part, _ in batch for command in part]
        self._stats.batches += 1
        self._stats.requests += len(batch)
        try:
            await self.node.execute_pipeline(commands)
        except BaseException as exc:  # every request of the batch shares the link's fate
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for _, done in batch:
            if not done.done():
                done.set_result(None)


@dataclass
class PipelineStats:
    """How many pipelines went out, carrying how many requests' commands."""

    batches: int = 0
    requests: int = 0


class AutoPipeline:
    """One queue per node of one cluster client."""

    def __init__(self) -> None:
        self._queues: dict[str, _NodeQueue] = {}
        self.stats = PipelineStats()

    async def execute(self, node: ClusterNode, commands: Sequence[PipelineCommand]) -> None:
        """Run `commands` on `node` (setting each one's `result`), batched with others."""
        queue = self._queues.get(node.name)
        if queue is None or queue.node is not node:
            # A refreshed slot map brings new node objects (with their own connections).
            queue = self._queues[node.name] = _NodeQueue(node, self.stats)
        await queue.submit(commands)


_BY_CLUSTER: weakref.WeakKeyDictionary[ValkeyCluster, AutoPipeline] = weakref.WeakKeyDictionary()


def auto_pipeline_for(cluster: ValkeyCluster) -> AutoPipeline:
    """The one auto-pipeline of `cluster`, shared by every store that uses it."""
    found = _BY_CLUSTER.get(cluster)
    if found is None:
        found = _BY_CLUSTER[cluster] = AutoPipeline()
    return found
