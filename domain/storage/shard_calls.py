"""Sending calls to the shards: one pipeline per primary, writes confirmed by WAIT.

Each call names a key of its slot (`route`); calls to the same primary share one
connection and one round trip. Reads are retried through slot moves and failovers. A
write is retried only when it certainly did not run (a redirect, a refused connection,
a script or function the node did not have), or when the caller says it is idempotent;
otherwise its outcome is unknown and the answer is `Unconfirmed`. A write may carry a
WAIT on the same connection: fewer replicas than asked is `Unconfirmed` too, never ok.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from valkey.asyncio.cluster import ClusterNode, ValkeyCluster
from valkey.crc import key_slot
from valkey.exceptions import (
    AskError,
    BusyLoadingError,
    ClusterDownError,
    ConnectionError,
    MovedError,
    NoScriptError,
    ReadOnlyError,
    ResponseError,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)

from domain.errors import Unavailable, Unconfirmed
from domain.storage.auto_pipeline import Wait, auto_pipeline_for
from domain.storage.function_library import FunctionLibrary, function_names, mark_in_use
from domain.storage.node_link import NotSent

log = logging.getLogger(__name__)

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
_FUNCTION_CALLS = frozenset({"FCALL", "FCALL_RO"})
_UNKNOWN = "the write's outcome is unknown; retry it with a request_id where it takes one"
_SHORT = "no replica confirmed the write in time"  # or no fsync, for the fsync class
_NO_ANSWER = "the store did not answer in time; try again"


@dataclass(frozen=True)
class WritePolicy:
    """How a store confirms an acknowledged write (its durability class).

    WAIT for `wait_replicas` replicas (0 turns WAIT off) for at most `wait_timeout_ms`;
    with `fsync`, WAITAOF instead: the write is fsynced to the primary's AOF and to
    `wait_replicas` replicas' AOFs. Retries through slot moves and failovers give up after
    `failover_window_s`.
    """

    wait_replicas: int = 1
    wait_timeout_ms: int = 1000
    failover_window_s: float = 6.0
    fsync: bool = False

    @property
    def wait(self) -> Wait:
        return (self.wait_replicas, self.wait_timeout_ms, self.fsync)


# The durability classes (docs/durability.md): no wait, one replica has it, or it is
# fsynced to the AOF of the primary and of one replica.
DURABILITY_CLASSES = ("fast", "replicated", "fsync")


def durability_policy(
    name: str, replicas: int, timeout_ms: int, failover_window_s: float
) -> WritePolicy:
    """The write policy of a durability class; `replicas` is what `replicated` waits for."""
    if name == "fast":
        return WritePolicy(0, timeout_ms, failover_window_s)
    if name == "replicated":
        return WritePolicy(replicas, timeout_ms, failover_window_s)
    if name == "fsync":
        # appendfsync everysec: the next fsync may be up to a second away.
        return WritePolicy(replicas, timeout_ms + 1000, failover_window_s, fsync=True)
    raise ValueError(f"durability class {name!r} is not one of {', '.join(DURABILITY_CLASSES)}")


DEFAULT_WRITES = WritePolicy()


@dataclass(frozen=True)
class Call:
    route: str  # a key of the slot the call goes to
    args: tuple[Any, ...]


@dataclass(frozen=True)
class ReadMerge:
    """How several reads bound for one node fold into one call answering a list.

    `combine` gets at least two calls that `accepts` took; its call's reply holds one
    reply per call, in order. If it fails as a whole (a key moved off the node), the
    calls are sent one by one from then on.
    """

    accepts: Callable[[Call], bool]
    combine: Callable[[Sequence[Call]], Call]


def script_sha(body: str) -> str:
    """The SHA1 that EVALSHA names a script by."""
    return hashlib.sha1(body.encode()).hexdigest()


class ShardCaller:
    """Runs calls on the primaries that serve their slots.

    `libraries` (Valkey Function libraries) and `scripts` (Lua scripts for EVALSHA) are
    loaded on every primary by `load()`, and again on a node that turns out to lack
    them (a promoted replica has an empty script cache; a new node has neither).
    Libraries load under names that carry a hash of their code, and an FCALL of one of
    their functions is sent under that name (see domain/storage/function_library.py).
    """

    def __init__(
        self,
        cluster: ValkeyCluster,
        failover_window_s: float = 6.0,
        *,
        libraries: Iterable[str] = (),
        scripts: Iterable[str] = (),
        merge: ReadMerge | None = None,
    ) -> None:
        self._cluster = cluster
        self._window_s = failover_window_s
        self._libraries = [FunctionLibrary.from_source(code) for code in libraries]
        self._functions = function_names(self._libraries)
        mark_in_use(cluster, self._libraries)
        self._scripts = {script_sha(body): body for body in scripts}
        self._merge = merge
        self._pipeline = auto_pipeline_for(cluster)
        self._refresh_lock = asyncio.Lock()
        self._refreshed_at = 0.0

    async def load(self) -> None:
        """Load (or replace) the libraries and scripts on every primary."""
        await asyncio.gather(*(self._load_on(node) for node in self._cluster.get_primaries()))

    async def _load_on(self, node: ClusterNode) -> None:
        for library in self._libraries:
            await node.execute_command("FUNCTION", "LOAD", "REPLACE", library.code)
        for body in self._scripts.values():
            await node.execute_command("SCRIPT", "LOAD", body)

    async def read(self, calls: Sequence[Call]) -> list[Any]:
        """Run read calls in one parallel round; results in the order of `calls`."""
        results: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        asking: dict[int, ClusterNode] = {}
        merging = self._merge is not None
        deadline = time.monotonic() + self._window_s
        for attempt in range(_MAX_ATTEMPTS):
            try:
                groups = self._group(calls, pending, asking)
            except SlotNotCoveredError:
                if not await self._pause(attempt, deadline):
                    break
                continue
            asking = {}
            batches = [
                (node, _batch(calls, idx, self._merge if merging and not ask else None), ask)
                for node, idx, ask in groups
            ]
            # Every node's batch is queued before the first await: one round, no tasks.
            sent = [self._send(node, [c for c, _ in batch], ask) for node, batch, ask in batches]
            outcomes: list[Any] = []
            for future, (_, _, ask) in zip(sent, batches, strict=True):
                try:
                    outcomes.append(_without_asking(await future, ask))
                except Exception as exc:  # judged per node below
                    outcomes.append(exc)
            retry: list[int] = []
            for (node, batch, _), outcome in zip(batches, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    if not isinstance(outcome, _LINK_ERRORS + _REDIRECTS):
                        raise outcome
                    retry.extend(i for _, idx in batch for i in idx)
                    continue
                for (call, idx), reply in zip(batch, outcome, strict=True):
                    if len(idx) > 1 and isinstance(reply, ResponseError):
                        again, _ = await self._classify(node, call, reply)
                        merging = merging and again
                        retry.extend(idx)
                        continue
                    for i, result in zip(idx, reply if len(idx) > 1 else [reply], strict=True):
                        if not isinstance(result, BaseException):
                            results[i] = result
                            continue
                        again, target = await self._classify(node, calls[i], result)
                        if again:
                            retry.append(i)
                            if target is not None:
                                asking[i] = target
                        else:
                            results[i] = _raise_if_error(result)
            if not retry:
                return results
            pending = retry
            if not await self._pause(attempt, deadline):
                break
        raise Unavailable(_NO_ANSWER)

    async def write(
        self,
        call: Call,
        wait_replicas: int,
        wait_timeout_ms: int,
        fsync: bool = False,
        *,
        idempotent: bool,
    ) -> Any:
        """Run one write, then WAIT (WAITAOF with `fsync`) on the same connection; the
        write's reply.

        WAIT counts the replicas that acknowledged everything this connection wrote,
        so the write must write (a no-op reply confirms nothing): scripts that answer
        from state an earlier call wrote re-write a field of it. `wait_replicas` 0
        without `fsync` sends no WAIT.
        """
        waits = wait_replicas > 0 or fsync
        wait = (wait_replicas, wait_timeout_ms, fsync) if waits else None
        ask_node: ClusterNode | None = None
        # Set once an attempt may have run: failing after that is `Unconfirmed`.
        maybe_ran = False
        deadline = time.monotonic() + self._window_s
        for attempt in range(_MAX_ATTEMPTS):
            try:
                ((node, _, ask),) = self._group([call], [0], {0: ask_node} if ask_node else {})
                ask_node = None
                replies = _without_asking(
                    await self._send(node, [call], ask, write=True, wait=wait), ask
                )
            except _REDIRECTS:
                if not await self._pause(attempt, deadline):
                    break
                continue
            except _LINK_ERRORS as exc:
                if not _refused(exc):
                    if not idempotent:
                        raise Unconfirmed(_UNKNOWN) from exc
                    maybe_ran = True
                if not await self._pause(attempt, deadline):
                    break
                continue
            reply = replies[0]
            again, ask_node = await self._classify(node, call, reply)
            if again and isinstance(reply, _LINK_ERRORS):
                # The command was sent: it may have run even though its reply is lost.
                if not idempotent:
                    raise Unconfirmed(_UNKNOWN) from reply
                maybe_ran = True
            if again:
                if not await self._pause(attempt, deadline):
                    break
                continue
            _raise_if_error(reply)
            if waits and not _confirmed(replies[1], wait_replicas, fsync):
                raise Unconfirmed(_SHORT)
            return reply
        raise (Unconfirmed(_UNKNOWN) if maybe_ran else Unavailable(_NO_ANSWER))

    def colocated(self, route: str, keys: Sequence[str]) -> list[bool]:
        """Whether the slot map places each key on the primary that serves `route`.

        A guess from the cached map: a function that reads such keys must expect a
        refusal ("non local key") if the map is out of date.
        """
        slots = self._cluster.nodes_manager.slots_cache
        owners = slots.get(_slot_of(route))
        if not owners:
            return [False] * len(keys)
        home = owners[0].name
        placed = []
        for key in keys:
            others = slots.get(_slot_of(key))
            placed.append(others is not None and len(others) > 0 and others[0].name == home)
        return placed

    def _group(
        self, calls: Sequence[Call], pending: Sequence[int], asking: dict[int, ClusterNode]
    ) -> list[tuple[ClusterNode, list[int], bool]]:
        groups: dict[tuple[str, bool], tuple[ClusterNode, list[int], bool]] = {}
        for i in pending:
            node = asking.get(i)
            ask = node is not None
            if node is None:
                owners = self._cluster.nodes_manager.slots_cache.get(_slot_of(calls[i].route))
                if not owners:
                    raise SlotNotCoveredError(f"no node serves {calls[i].route}")
                node = owners[0]  # the primary
            groups.setdefault((node.name, ask), (node, [], ask))[1].append(i)
        return list(groups.values())

    def _send(
        self,
        node: ClusterNode,
        calls: Sequence[Call],
        ask: bool,
        *,
        write: bool = False,
        wait: Wait | None = None,
    ) -> asyncio.Future[list[Any]]:
        """Queue the calls for `node`, each after ASKING if `ask`, on its read or write
        lane; the future gets their replies (ASKING's too), then the WAIT's if `wait`."""
        if ask:
            commands = [part for call in calls for part in (("ASKING",), self._loaded(call))]
        else:
            commands = [self._loaded(call) for call in calls]
        return self._pipeline.submit(node, commands, write=write, wait=wait)

    def _loaded(self, call: Call) -> tuple[Any, ...]:
        """The call's command, an FCALL naming its function as this release loaded it."""
        args = call.args
        if args[0] in _FUNCTION_CALLS:
            loaded = self._functions.get(args[1])
            if loaded is not None:
                return (args[0], loaded, *args[2:])
        return args

    async def _classify(
        self, node: ClusterNode, call: Call, result: Any
    ) -> tuple[bool, ClusterNode | None]:
        """Whether to run a call again, and the node an ASK redirect sends it to."""
        if isinstance(result, AskError) and not isinstance(result, MovedError):
            return True, self._cluster.get_node(host=result.host, port=result.port)
        if isinstance(result, NoScriptError) and self._script_of(call) is not None:
            # A promoted replica or a new node has an empty script cache; the script
            # did not run, so loading it and running it again is always safe.
            return await self._reload(node), None
        if isinstance(result, ResponseError) and "function not found" in str(result).lower():
            if self._libraries:
                return await self._reload(node), None
        return isinstance(result, _REDIRECTS + _LINK_ERRORS), None

    def _script_of(self, call: Call) -> str | None:
        if str(call.args[0]).upper() not in ("EVALSHA", "EVALSHA_RO"):
            return None
        return self._scripts.get(str(call.args[1]))

    async def _reload(self, node: ClusterNode) -> bool:
        try:
            await self._load_on(node)
        except _LINK_ERRORS + _REDIRECTS as exc:  # the node is going away: retry elsewhere
            log.warning("loading scripts on %s failed: %s", node.name, exc)
        return True

    async def _pause(self, attempt: int, deadline: float) -> bool:
        """Wait before the next attempt on a fresh slot map; False once out of time."""
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(min(0.02 * 2**attempt, 0.5))
        await self.refresh_slots()
        return True

    async def refresh_slots(self) -> None:
        async with self._refresh_lock:
            if time.monotonic() - self._refreshed_at < _REFRESH_MIN_INTERVAL_S:
                return
            try:
                await self._cluster.nodes_manager.initialize()
            except Exception as exc:  # the next attempt tries again
                log.warning("refreshing the cluster slot map failed: %s", exc)
            self._refreshed_at = time.monotonic()


@lru_cache(maxsize=1 << 16)
def _slot_of(key: str) -> int:
    # A pure function of the key; the same few board and queue keys recur on every call.
    return key_slot(key.encode())


def _confirmed(acked: Any, replicas: int, fsync: bool) -> bool:
    """Whether a WAIT's reply (replicas) or a WAITAOF's ([local, replicas]) is enough.
    A batch mixing classes sends WAITAOF, which also answers a plain WAIT's question."""
    if isinstance(acked, BaseException):
        return False
    if isinstance(acked, list):
        return (int(acked[0]) >= 1 or not fsync) and int(acked[1]) >= replicas
    return not fsync and int(acked) >= replicas


def _refused(exc: BaseException) -> bool:
    """Whether the write certainly was not sent: a node link says so by its type,
    valkey-py's pipeline (the TLS path) by its message ("Error ... connecting")."""
    return isinstance(exc, NotSent) or "connecting" in str(exc)


def _batch(
    calls: Sequence[Call], idx: list[int], merge: ReadMerge | None
) -> list[tuple[Call, list[int]]]:
    """The commands for one node: the calls `merge` accepts folded into one."""
    if merge is None:
        return [(calls[i], [i]) for i in idx]
    merged = [i for i in idx if merge.accepts(calls[i])]
    if len(merged) < 2:
        return [(calls[i], [i]) for i in idx]
    combined = merge.combine([calls[i] for i in merged])
    return [(combined, merged)] + [(calls[i], [i]) for i in idx if i not in merged]


def _without_asking(replies: list[Any], ask: bool) -> list[Any]:
    """The calls' replies without those of the ASKING sent before each one (pairs of
    ASKING and call, then possibly a WAIT's reply, which stays)."""
    if not ask:
        return replies
    paired = len(replies) - len(replies) % 2
    return replies[1:paired:2] + replies[paired:]


def _raise_if_error(result: Any) -> Any:
    if isinstance(result, BaseException):
        raise result
    return result
