"""The one road to Valkey: every store's reads, writes, function calls and batches.

One `ShardCaller` per process, built in the composition root, is handed to every
feature's store; a store spells its keys and commands, the caller sends them. Each call
names a key of its slot (`route`); calls to the same primary share one connection and
one round trip (domain/storage/auto_pipeline.py). Four kinds of call:

- `read(calls)`: a batch of reads in one parallel round (`read_one` for one);
- `write(call, replicas, timeout_ms, fsync, idempotent=...)`: one write, then the WAIT
  (WAITAOF with `fsync`) of the store's write policy on the same connection: fewer
  replicas than asked is `Unconfirmed`, never ok (`WritePolicy.wait` spells the three);
- a function call is a read or a write whose command is FCALL / FCALL_RO of a library
  the caller keeps loaded (`use_library`): sent under its versioned name;
- a batch of writes is writes gathered in one turn: they travel together, closed by one
  WAIT (group commit).

Errors follow one model (domain/storage/errors.py): a call that certainly did not run
(a redirect, a refused connection, a function the node lacked) is sent again on a fresh
slot map; a lost answer is sent again for a read or an idempotent write, and is
`Unconfirmed` for any other write; a node over its memory limit is `Unavailable` at
once; anything else is raised as is. Past the failover window the answer is `Unavailable`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from valkey.asyncio.cluster import ClusterNode, ValkeyCluster
from valkey.crc import key_slot
from valkey.exceptions import AskError, ResponseError, SlotNotCoveredError

from domain.errors import Unavailable, Unconfirmed
from domain.storage.auto_pipeline import Wait, auto_pipeline_for
from domain.storage.errors import NOT_RUN, OUTCOME_UNKNOWN, Failure, classify
from domain.storage.function_library import (
    FunctionLibrary,
    function_names,
    libraries_in_use,
    mark_in_use,
)

log = logging.getLogger(__name__)

_MAX_ATTEMPTS = 30
_REFRESH_MIN_INTERVAL_S = 0.1
_FUNCTION_CALLS = frozenset({"FCALL", "FCALL_RO"})
_UNKNOWN = "the write's outcome is unknown; retry it with a request_id where it takes one"
_SHORT = "no replica confirmed the write in time"  # or no fsync, for the fsync class
_NO_ANSWER = "the store did not answer in time; try again"
_FULL = "the store is full and refuses writes (Valkey maxmemory); try again later"
_NO_DISK = "the store cannot write to its disk and refuses writes; try again later"


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


class ShardCaller:
    """Runs calls on the primaries that serve their slots.

    The Valkey Function libraries it uses (`libraries`, and each `use_library`) are
    loaded on every primary by `load()`, and again on a node that turns out to lack
    them (a promoted replica or a new node). Libraries load under names that carry a
    hash of their code, and an FCALL of one of their functions is sent under that name
    (see domain/storage/function_library.py).
    """

    def __init__(
        self,
        cluster: ValkeyCluster,
        failover_window_s: float = 6.0,
        *,
        libraries: Iterable[str] = (),
    ) -> None:
        self._cluster = cluster
        self._window_s = failover_window_s
        self._libraries: list[FunctionLibrary] = []
        self._functions: dict[str, str] = {}
        # How each library that wants it folds its reads bound for one node into one call.
        self._merges: list[ReadMerge] = []
        for code in libraries:
            self.use_library(code)
        self._pipeline = auto_pipeline_for(cluster)
        self._refresh_lock = asyncio.Lock()
        self._refreshed_at = 0.0

    def use_library(self, code: str, merge: ReadMerge | None = None) -> FunctionLibrary:
        """Keep the library of `code` loaded from now on and send its functions' calls
        under their loaded names; its loaded form (see `load`). `merge` folds the reads
        of its functions bound for one node into one call (it must accept only those)."""
        library = FunctionLibrary.from_source(code)
        for known in self._libraries:
            if known.name == library.name:
                return known
        self._functions = function_names([*self._libraries, library])
        self._libraries.append(library)
        if merge is not None:
            self._merges.append(merge)
        mark_in_use(self._cluster, [library])
        return library

    def libraries_in_use(self) -> frozenset[str]:
        """The loaded names of every library this process's callers use on this caller's
        cluster (the library heartbeat's names, domain/storage/library_versions.py)."""
        return libraries_in_use(self._cluster)

    async def load(self, *libraries: FunctionLibrary) -> None:
        """Load (or replace) `libraries`, or every library in use, on every primary."""
        chosen = list(libraries) or list(self._libraries)
        await asyncio.gather(
            *(self._load_on(node, chosen) for node in self._cluster.get_primaries())
        )

    async def _load_on(self, node: ClusterNode, libraries: Sequence[FunctionLibrary]) -> None:
        for library in libraries:
            await node.execute_command("FUNCTION", "LOAD", "REPLACE", library.code)

    async def read_one(self, route: str, *args: Any) -> Any:
        """One read (`args` is the command), retried like every read."""
        (reply,) = await self.read([Call(route, args)])
        return reply

    async def publish(self, channel: str, message: bytes) -> int:
        """SPUBLISH on the primary of the channel's slot; the number of receivers.

        No WAIT: a message is not stored. A lost answer sends it again, so a message
        may arrive twice; receivers take that.
        """
        call = Call(channel, ("SPUBLISH", channel, message))
        return int(await self.write(call, 0, 0, idempotent=True))

    async def read(self, calls: Sequence[Call]) -> list[Any]:
        """Run read calls in one parallel round; results in the order of `calls`."""
        results: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        asking: dict[int, ClusterNode] = {}
        merges: Sequence[ReadMerge] = self._merges
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
                (node, _batch(calls, idx, () if ask else merges), ask) for node, idx, ask in groups
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
                    if not _worth_retrying(classify(outcome)):
                        raise _refused(outcome)
                    retry.extend(i for _, idx in batch for i in idx)
                    continue
                for (_, idx), reply in zip(batch, outcome, strict=True):
                    if len(idx) > 1 and isinstance(reply, ResponseError):
                        kind, _ = await self._judge(node, reply)
                        if not _worth_retrying(kind):
                            merges = ()  # one by one from now on: each gets its own answer
                        retry.extend(idx)
                        continue
                    for i, result in zip(idx, reply if len(idx) > 1 else [reply], strict=True):
                        if not isinstance(result, BaseException):
                            results[i] = result
                            continue
                        kind, target = await self._judge(node, result)
                        if not _worth_retrying(kind):
                            raise _refused(result)
                        retry.append(i)
                        if target is not None:
                            asking[i] = target
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
        so the write must write (a no-op reply confirms nothing): functions that answer
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
            except Exception as exc:  # the whole batch failed: judged below
                error: BaseException = exc
                failure = classify(exc)
            else:
                reply = replies[0]
                if not isinstance(reply, BaseException):
                    if waits and not _confirmed(replies[1], wait_replicas, fsync):
                        raise Unconfirmed(_SHORT)
                    return reply
                error = reply
                failure, ask_node = await self._judge(node, reply)
            if failure in OUTCOME_UNKNOWN:
                # The command was sent: it may have run even though its reply is lost.
                if not idempotent:
                    raise Unconfirmed(_UNKNOWN) from error
                maybe_ran = True
            elif failure not in NOT_RUN:
                raise _refused(error)
            if not await self._pause(attempt, deadline):
                break
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

    async def _judge(
        self, node: ClusterNode, error: BaseException
    ) -> tuple[Failure, ClusterNode | None]:
        """The kind of a call's error reply from `node`, once what it asks for is done:
        the node an ASK redirect names, or the libraries loaded again where missing."""
        failure = classify(error)
        if failure is Failure.ASK:
            assert isinstance(error, AskError)
            return failure, self._cluster.get_node(host=error.host, port=error.port)
        if failure is Failure.NO_FUNCTION:
            if not self._libraries:
                return Failure.REFUSED, None  # not a library of ours: nothing to load
            # A promoted replica or a new node lacks the library; the call did not run,
            # so loading it and running the call again is always safe.
            try:
                await self._load_on(node, self._libraries)
            except Exception as exc:  # the node is going away: the retry goes elsewhere
                if not _worth_retrying(classify(exc)):
                    raise
                log.warning("loading function libraries on %s failed: %s", node.name, exc)
        return failure, None

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


def _refused(error: BaseException) -> BaseException:
    """What a call that failed so raises: `Unavailable` for a node over its memory limit
    or unable to write its disk (a state of the deployment, not a bug), else the error."""
    if classify(error) is Failure.FULL:
        unavailable = Unavailable(_NO_DISK if str(error).startswith("MISCONF") else _FULL)
        unavailable.__cause__ = error
        return unavailable
    return error


def _worth_retrying(failure: Failure) -> bool:
    """Whether a read that failed so is sent again (a read may run twice)."""
    return failure in NOT_RUN or failure in OUTCOME_UNKNOWN


def _batch(
    calls: Sequence[Call], idx: list[int], merges: Sequence[ReadMerge]
) -> list[tuple[Call, list[int]]]:
    """The commands for one node: for each merge, the calls it accepts folded into one."""
    batch: list[tuple[Call, list[int]]] = []
    rest = idx
    for merge in merges:
        merged = [i for i in rest if merge.accepts(calls[i])]
        if len(merged) >= 2:
            batch.append((merge.combine([calls[i] for i in merged]), merged))
            rest = [i for i in rest if i not in merged]
    return batch + [(calls[i], [i]) for i in rest]


def _without_asking(replies: list[Any], ask: bool) -> list[Any]:
    """The calls' replies without those of the ASKING sent before each one (pairs of
    ASKING and call, then possibly a WAIT's reply, which stays)."""
    if not ask:
        return replies
    paired = len(replies) - len(replies) % 2
    return replies[1:paired:2] + replies[paired:]
