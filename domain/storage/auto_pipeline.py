"""Auto-pipelining: the commands that concurrent requests send to one node within one
event-loop turn travel together, as one batch on one connection.

Under load, dozens of requests each send a few commands to the same primary; one batch
per node and turn cuts the per-round-trip costs to one write and one wake-up. Each
node has two lanes, each its own connection:
- reads, never held up by a WAIT;
- writes, where one WAIT closes every batch that asks for it: WAIT waits for every
  earlier write of its connection, so one covers all the writes of the batch (and of
  earlier batches), and durability is unchanged.

Group commit: a write lane keeps at most one batch ending in a WAIT in flight. Writes
that arrive meanwhile wait for it and then travel together, closed by one WAIT, instead
of each turn's batch bringing its own (Valkey would run them only after the WAIT in
flight anyway: a WAIT blocks its connection). A write is acknowledged only by the WAIT
that followed it on its connection.

The transport is a `NodeLink` (domain/storage/node_link.py); a node reached over TLS, a
Unix socket or with a credential provider goes through valkey-py's own pipeline instead.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from valkey.asyncio.cluster import ClusterNode, PipelineCommand, ValkeyCluster
from valkey.asyncio.connection import Connection

from domain.storage.node_link import NodeLink

# A batch stops growing here, so one slow batch never holds too many requests.
MAX_BATCH_COMMANDS = 512
# How long a read or write may wait for its reply before the link is reset, when the
# cluster client names no socket timeout.
_DEFAULT_TIMEOUT_S = 5.0

# (replicas, timeout ms, fsync): WAIT, or with fsync WAITAOF 1 <replicas> <timeout>.
Wait = tuple[int, int, bool]


@dataclass
class NodeCounts:
    """Round trips to one node and how many failed, as plain integers: the metrics
    read them at scrape time, so the hot path only adds one."""

    round_trips: int = 0
    errors: int = 0


class _Transport(Protocol):
    def send(
        self, commands: Sequence[Sequence[Any]], timeout_s: float
    ) -> asyncio.Future[list[Any]]: ...

    def close(self) -> None: ...


class _LibraryPipeline:
    """valkey-py's pipeline on a pooled connection: for what NodeLink does not speak."""

    def __init__(self, node: ClusterNode) -> None:
        self._node = node
        self._tasks: set[asyncio.Task[None]] = set()

    def send(
        self, commands: Sequence[Sequence[Any]], timeout_s: float
    ) -> asyncio.Future[list[Any]]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        task = asyncio.get_running_loop().create_task(self._run(commands, future))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return future

    async def _run(
        self, commands: Sequence[Sequence[Any]], future: asyncio.Future[list[Any]]
    ) -> None:
        pipeline = [PipelineCommand(i, *args) for i, args in enumerate(commands)]
        try:
            await self._node.execute_pipeline(pipeline)
        except Exception as exc:  # the whole batch shares the connection's fate
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result([command.result for command in pipeline])

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()


def _transport_for(node: ClusterNode) -> _Transport:
    kwargs = node.connection_kwargs
    if node.connection_class is not Connection or kwargs.get("credential_provider"):
        return _LibraryPipeline(node)
    return NodeLink(
        node.host,
        int(node.port),
        username=kwargs.get("username"),
        password=kwargs.get("password"),
        connect_timeout_s=kwargs.get("socket_connect_timeout") or _DEFAULT_TIMEOUT_S,
        callbacks=node.response_callbacks,
    )


@dataclass(eq=False)
class _Request:
    commands: Sequence[Sequence[Any]]
    future: asyncio.Future[list[Any]]
    wait: Wait | None


class _Lane:
    def __init__(
        self, transport: _Transport, timeout_s: float, stats: PipelineStats, counts: NodeCounts
    ) -> None:
        self.transport = transport
        self._timeout_s = timeout_s
        self._stats = stats
        self._counts = counts
        self._pending: list[_Request] = []
        self._size = 0
        self._scheduled = False
        # A batch ending in WAIT is in flight: the next one waits for it (group commit).
        self._waiting = False

    def submit(self, request: _Request) -> None:
        self._pending.append(request)
        self._size += len(request.commands)
        if self._size >= MAX_BATCH_COMMANDS:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._pending or self._waiting:
            # While a WAIT is in flight, what arrives joins the batch sent after it.
            return
        requests, self._pending, self._size = self._pending, [], 0
        commands = [args for request in requests for args in request.commands]
        waits = [request.wait for request in requests if request.wait is not None]
        timeout_s = self._timeout_s
        if waits:
            replicas, wait_ms = max(w[0] for w in waits), max(w[1] for w in waits)
            if any(w[2] for w in waits):
                # Stronger than WAIT: the writes are in the AOF, fsynced here and on
                # `replicas` replicas. Its reply is [local, replicas].
                commands.append(("WAITAOF", 1, replicas, wait_ms))
            else:
                commands.append(("WAIT", replicas, wait_ms))
            timeout_s += wait_ms / 1000
            self._stats.waits += 1
        self._stats.batches += 1
        self._stats.requests += len(requests)
        counts = self._counts
        counts.round_trips += 1
        sent = self.transport.send(commands, timeout_s)
        sent.add_done_callback(lambda done: _hand_out(done, requests, counts))
        if waits:
            self._waiting = True
            sent.add_done_callback(self._wait_returned)

    def _wait_returned(self, _: asyncio.Future[list[Any]]) -> None:
        """The WAIT in flight answered (or its batch failed): send what gathered meanwhile."""
        self._waiting = False
        self._flush()


def _hand_out(
    done: asyncio.Future[list[Any]], requests: list[_Request], counts: NodeCounts
) -> None:
    """Each request gets its commands' replies, then the WAIT's reply if it asked for one."""
    if done.cancelled():
        error: BaseException = asyncio.CancelledError()
    else:
        error_or_none = done.exception()
        if error_or_none is None:
            replies = done.result()
            start = 0
            for request in requests:
                end = start + len(request.commands)
                if not request.future.done():
                    mine = replies[start:end]
                    if request.wait is not None:
                        mine.append(replies[-1])
                    request.future.set_result(mine)
                start = end
            return
        error = error_or_none
        counts.errors += 1
    for request in requests:
        if not request.future.done():
            request.future.set_exception(error)


@dataclass
class PipelineStats:
    """How many batches went out, carrying how many requests' commands, and how many
    WAITs closed them."""

    batches: int = 0
    requests: int = 0
    waits: int = 0


class AutoPipeline:
    """A read lane and a write lane per node of one cluster client."""

    def __init__(self) -> None:
        self._lanes: dict[tuple[str, bool], tuple[ClusterNode, _Lane]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = PipelineStats()
        # By node address ("host:port"); kept when lanes are replaced.
        self.node_counts: dict[str, NodeCounts] = {}

    def submit(
        self,
        node: ClusterNode,
        commands: Sequence[Sequence[Any]],
        *,
        write: bool = False,
        wait: Wait | None = None,
    ) -> asyncio.Future[list[Any]]:
        """Send `commands` to `node` with others of this turn; the future gets their
        replies (an error reply as its exception instance), then, with `wait`, the
        reply of the WAIT that followed them on their connection."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Links belong to the loop that opened them (tests may run several loops).
            self._lanes.clear()
            self._loop = loop
        lane = self._lane(node, write or wait is not None)
        future: asyncio.Future[list[Any]] = loop.create_future()
        lane.submit(_Request(commands, future, wait))
        return future

    def close(self) -> None:
        """Close every connection; requests in flight fail."""
        for _, lane in self._lanes.values():
            lane.transport.close()
        self._lanes.clear()

    def _lane(self, node: ClusterNode, write: bool) -> _Lane:
        found = self._lanes.get((node.name, write))
        if found is not None and (found[0] is node or isinstance(found[1].transport, NodeLink)):
            # A refreshed slot map brings new node objects for the same addresses; a link
            # to the address stays good (and its batches in flight stay answered).
            return found[1]
        if found is not None:
            # valkey-py disconnects the old node object's pool: follow the new one.
            found[1].transport.close()
        timeout_s = node.connection_kwargs.get("socket_timeout") or _DEFAULT_TIMEOUT_S
        counts = self.node_counts.get(node.name)
        if counts is None:
            counts = self.node_counts[node.name] = NodeCounts()
        lane = _Lane(_transport_for(node), timeout_s, self.stats, counts)
        self._lanes[(node.name, write)] = (node, lane)
        return lane


_BY_CLUSTER: weakref.WeakKeyDictionary[ValkeyCluster, AutoPipeline] = weakref.WeakKeyDictionary()


def auto_pipeline_for(cluster: ValkeyCluster) -> AutoPipeline:
    """The one auto-pipeline of `cluster`, shared by every store that uses it."""
    found = _BY_CLUSTER.get(cluster)
    if found is None:
        found = _BY_CLUSTER[cluster] = AutoPipeline()
    return found


def close_auto_pipeline(cluster: ValkeyCluster) -> None:
    """Close the connections the auto-pipeline of `cluster` opened (with the client)."""
    found = _BY_CLUSTER.pop(cluster, None)
    if found is not None:
        found.close()
