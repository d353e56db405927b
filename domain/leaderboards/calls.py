"""Sending one round of calls to the shards: one pipeline per primary, all in parallel.

Each call names a key of its slot (`route`); calls to the same primary share one
connection and one round trip. Reads are retried through slot moves and failovers. A
write is retried only when it certainly did not run (a redirect, a refused connection),
or when the caller says it is idempotent; otherwise its outcome is unknown and the
answer is `Unavailable`. A write may carry a WAIT on the same connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valkey.asyncio.cluster import ClusterNode, PipelineCommand, ValkeyCluster
from valkey.exceptions import (
    AskError,
    BusyLoadingError,
    ClusterDownError,
    ConnectionError,
    MovedError,
    ReadOnlyError,
    ResponseError,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)

from domain.errors import Unavailable

log = logging.getLogger(__name__)

LIBRARY_CODE = (Path(__file__).parent / "leaderboards.lua").read_text()
# Errors after which the command certainly did not run: retry on a fresh slot map.
_REDIRECTS = (
    AskError,  # includes MovedError
    TryAgainError,
    ClusterDownError,
    ReadOnlyError,
    BusyLoadingError,
    SlotNotCoveredError,
)
_LINK_ERRORS = (ConnectionError, TimeoutError, OSError)
_MAX_ATTEMPTS = 30
_REFRESH_MIN_INTERVAL_S = 0.1
_UNKNOWN = "the write's outcome is unknown; retry it with a request_id"


@dataclass(frozen=True)
class Call:
    route: str
    args: tuple[Any, ...]


class ShardCaller:
    def __init__(self, cluster: ValkeyCluster, failover_window_s: float = 6.0) -> None:
        self._cluster = cluster
        self._window_s = failover_window_s
        self._refresh_lock = asyncio.Lock()
        self._refreshed_at = 0.0

    async def load_library(self) -> None:
        """Load (or replace) the function library on every primary."""
        await asyncio.gather(*(self._load_on(node) for node in self._cluster.get_primaries()))

    async def _load_on(self, node: ClusterNode) -> None:
        await node.execute_command("FUNCTION", "LOAD", "REPLACE", LIBRARY_CODE)

    async def read(self, calls: Sequence[Call]) -> list[Any]:
        """Run read calls in one parallel round; results in the order of `calls`.

        Function calls bound for the same primary go as one `lb_multi` call; if that
        fails (a sub-board moved off the node), they are retried one by one.
        """
        results: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        asking: dict[int, ClusterNode] = {}
        merge = True
        deadline = time.monotonic() + self._window_s
        for attempt in range(_MAX_ATTEMPTS):
            try:
                groups = self._group(calls, pending, asking)
            except SlotNotCoveredError:
                await self._before_retry(attempt, deadline)
                continue
            asking = {}
            batches = [(n, _batch(calls, idx, merge and not ask), ask) for n, idx, ask in groups]
            outcomes = await asyncio.gather(
                *(self._send(node, [c for c, _ in batch], ask) for node, batch, ask in batches),
                return_exceptions=True,
            )
            retry: list[int] = []
            for (node, batch, _), outcome in zip(batches, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    if not isinstance(outcome, _LINK_ERRORS + _REDIRECTS):
                        raise outcome
                    retry.extend(i for _, idx in batch for i in idx)
                    continue
                for (_, idx), reply in zip(batch, outcome, strict=True):
                    if len(idx) > 1 and isinstance(reply, ResponseError):
                        again, _ = await self._classify(node, reply)
                        merge = merge and again
                        retry.extend(idx)
                        continue
                    for i, result in zip(idx, reply if len(idx) > 1 else [reply], strict=True):
                        again, target = await self._classify(node, result)
                        if again:
                            retry.append(i)
                            if target is not None:
                                asking[i] = target
                        else:
                            results[i] = _raise_if_error(result)
            if not retry:
                return results
            pending = retry
            await self._before_retry(attempt, deadline)
        raise Unavailable("the leaderboard store did not answer")

    async def write(
        self, call: Call, wait_replicas: int, wait_timeout_ms: int, idempotent: bool
    ) -> Any:
        """Run one write, then WAIT on the same connection; the write's reply."""
        commands = [call]
        if wait_replicas > 0:
            commands.append(Call(call.route, ("WAIT", wait_replicas, wait_timeout_ms)))
        ask_node: ClusterNode | None = None
        deadline = time.monotonic() + self._window_s
        for attempt in range(_MAX_ATTEMPTS):
            try:
                ((node, _, ask),) = self._group([call], [0], {0: ask_node} if ask_node else {})
                ask_node = None
                replies = await self._send(node, commands, ask)
            except _REDIRECTS:
                await self._before_retry(attempt, deadline)
                continue
            except _LINK_ERRORS as exc:
                # A refused connection sent nothing; a broken one may have run the write.
                if not idempotent and "connecting" not in str(exc):
                    raise Unavailable(_UNKNOWN) from exc
                await self._before_retry(attempt, deadline)
                continue
            reply = replies[0]
            again, ask_node = await self._classify(node, reply)
            if again and isinstance(reply, _LINK_ERRORS) and not idempotent:
                raise Unavailable(_UNKNOWN)
            if again:
                await self._before_retry(attempt, deadline)
                continue
            _raise_if_error(reply)
            if wait_replicas > 0:
                acked = replies[1]
                if isinstance(acked, BaseException) or int(acked) < wait_replicas:
                    raise Unavailable("no replica confirmed the write in time")
            return reply
        raise Unavailable("the leaderboard store did not answer")

    def _group(
        self, calls: Sequence[Call], pending: Sequence[int], asking: dict[int, ClusterNode]
    ) -> list[tuple[ClusterNode, list[int], bool]]:
        groups: dict[tuple[str, bool], tuple[ClusterNode, list[int], bool]] = {}
        for i in pending:
            node = asking.get(i)
            ask = node is not None
            if node is None:
                node = self._cluster.get_node_from_key(calls[i].route)
            if node is None:
                raise SlotNotCoveredError(f"no node serves {calls[i].route}")
            groups.setdefault((node.name, ask), (node, [], ask))[1].append(i)
        return list(groups.values())

    async def _send(self, node: ClusterNode, calls: Sequence[Call], ask: bool) -> list[Any]:
        commands: list[PipelineCommand] = []
        for position, call in enumerate(calls):
            if ask:
                commands.append(PipelineCommand(-1, "ASKING"))
            commands.append(PipelineCommand(position, *call.args))
        await node.execute_pipeline(commands)
        return [command.result for command in commands if command.position >= 0]

    async def _classify(self, node: ClusterNode, result: Any) -> tuple[bool, ClusterNode | None]:
        """Whether to run a call again, and the node an ASK redirect sends it to."""
        if isinstance(result, AskError) and not isinstance(result, MovedError):
            return True, self._cluster.get_node(host=result.host, port=result.port)
        if isinstance(result, ResponseError) and "function not found" in str(result).lower():
            # A node that joined or was flushed since start-up: load the library there.
            await self._load_on(node)
            return True, None
        return isinstance(result, _REDIRECTS + _LINK_ERRORS), None

    async def _before_retry(self, attempt: int, deadline: float) -> None:
        if time.monotonic() >= deadline:
            raise Unavailable("the leaderboard store is failing over; try again")
        await asyncio.sleep(min(0.02 * 2**attempt, 0.5))
        await self.refresh_slots()

    async def refresh_slots(self) -> None:
        async with self._refresh_lock:
            if time.monotonic() - self._refreshed_at < _REFRESH_MIN_INTERVAL_S:
                return
            try:
                await self._cluster.nodes_manager.initialize()
            except Exception as exc:  # the next attempt tries again
                log.warning("refreshing the cluster slot map failed: %s", exc)
            self._refreshed_at = time.monotonic()


def _batch(calls: Sequence[Call], idx: list[int], merge: bool) -> list[tuple[Call, list[int]]]:
    """The commands for one node: its function calls merged into one when `merge`."""
    functions = [i for i in idx if calls[i].args[0] == "FCALL_RO"]
    if not merge or len(functions) < 2:
        return [(calls[i], [i]) for i in idx]
    args: list[Any] = []
    for i in functions:
        _, name, nkeys, *rest = calls[i].args
        args += [name, nkeys, *rest[:nkeys], len(rest) - nkeys, *rest[nkeys:]]
    merged = Call(calls[functions[0]].route, ("FCALL_RO", "lb_multi", 0, *args))
    return [(merged, functions)] + [(calls[i], [i]) for i in idx if i not in functions]


def _raise_if_error(result: Any) -> Any:
    if isinstance(result, BaseException):
        raise result
    return result
