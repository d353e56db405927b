"""One phase's callers, in this process or split over client processes (--client-procs).

A phase is described by a `Share` per client process: what to call (a gateway op over
WebSockets, a raw valkey-py command, a device login over HTTP), as whom, and when to
start (a wall-clock instant all processes share, so their measured windows line up). Each
process runs its share as a closed (or paced) loop and hands back its latency samples;
the parent measures CPU over the same window, so the client's cores count every process.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context

from loadtest.bench.gateway_clients import (
    Player,
    close_all,
    login_operation,
    op_fields,
    open_sockets,
)
from loadtest.bench.http_client import HttpPool
from loadtest.bench.latency import Samples
from loadtest.bench.loops import Operation, closed_loop, paced_loop
from loadtest.bench.raw_clients import DurableWriter, connect_cluster, raw_operations

GATEWAY_KIND, RAW_KIND, LOGIN_KIND = "gateway", "raw", "login"


@dataclass(frozen=True)
class Share:
    """What one client process does in one phase (picklable: it crosses processes)."""

    kind: str  # GATEWAY_KIND, RAW_KIND or LOGIN_KIND
    operation: str  # a gateway op, a raw command name, or "device.login"
    url: str
    # Gateway: session tokens and their player ids; raw: board members; login: device ids.
    tokens: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    board: str = ""
    valkey_nodes: tuple[tuple[str, int], ...] = ()
    valkey_login: tuple[str, str] | None = None
    client_key: str | None = None
    warmup_s: float = 1.0
    duration_s: float = 5.0
    start_at: float = 0.0  # time.time() when the loop starts
    rate_per_s: float | None = None  # paced instead of closed


def split(share: Share, parts: int) -> list[Share]:
    """The callers of `share` dealt round robin over `parts` processes (none left empty)."""
    parts = max(1, min(parts, len(share.members)))
    return [
        replace(
            share,
            tokens=share.tokens[i::parts],
            members=share.members[i::parts],
            rate_per_s=None if share.rate_per_s is None else share.rate_per_s / parts,
        )
        for i in range(parts)
        if share.members[i::parts]
    ]


def run_share_blocking(share: Share) -> Samples:
    """A client process's entry point."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(run_share(share))
    return uvloop.run(run_share(share))


async def _loop(share: Share, operations: Sequence[Operation]) -> Samples:
    if share.rate_per_s is not None:
        samples, _ = await paced_loop(
            operations,
            rate_per_s=share.rate_per_s,
            warmup_s=share.warmup_s,
            duration_s=share.duration_s,
            start_at=share.start_at,
        )
    else:
        samples, _ = await closed_loop(
            operations,
            warmup_s=share.warmup_s,
            duration_s=share.duration_s,
            start_at=share.start_at,
        )
    return samples


async def run_share(share: Share) -> Samples:
    """Run one share here: connect, loop from `start_at`, disconnect."""
    if share.kind == GATEWAY_KIND:
        sockets, failures = await open_sockets(share.url, share.tokens)
        try:
            if failures:
                raise RuntimeError(f"{len(failures)} sockets failed to open: {failures[0]}")
            players = [Player(p, s) for p, s in zip(share.members, sockets, strict=True)]
            fields = op_fields(share.operation, share.board)
            return await _loop(share, [p.operation(share.operation, fields()) for p in players])
        finally:
            await close_all(sockets)
    if share.kind == RAW_KIND:
        cluster = connect_cluster(share.valkey_nodes, share.valkey_login)
        writers: list[DurableWriter] = []
        try:
            await cluster.initialize()
            operations: list[Operation]
            if share.operation == "ZADD+WAIT":
                writers = [DurableWriter(cluster, member) for member in share.members]
                operations = list(writers)
            else:
                operations = raw_operations(cluster, share.operation, share.members)
            return await _loop(share, operations)
        finally:
            for writer in writers:
                await writer.aclose()
            await cluster.aclose()
    if share.kind == LOGIN_KIND:
        headers = {"Authorization": f"Bearer {share.client_key}"} if share.client_key else {}
        async with HttpPool(share.url, len(share.members), headers) as http:
            return await _loop(share, [login_operation(http, d) for d in share.members])
    raise ValueError(f"unknown kind {share.kind!r}")


def _hello(delay_s: float) -> int:
    time.sleep(delay_s)
    return os.getpid()


class ClientProcesses:
    """`count` spawned client processes, kept for the whole run (count 1: this process)."""

    def __init__(self, count: int) -> None:
        self.count = max(1, count)
        self._pool: ProcessPoolExecutor | None = None
        self.pids: tuple[int, ...] = ()

    async def __aenter__(self) -> ClientProcesses:
        if self.count > 1:
            self._pool = ProcessPoolExecutor(self.count, mp_context=get_context("spawn"))
            loop = asyncio.get_running_loop()
            # Tasks that overlap make the pool start every process now, not mid-phase.
            pids = await asyncio.gather(
                *(loop.run_in_executor(self._pool, _hello, 0.5) for _ in range(self.count))
            )
            self.pids = tuple(sorted(set(pids)))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    @property
    def lead_s(self) -> float:
        """How long before its start a phase is handed out (time to connect)."""
        return 3.0 if self._pool is not None else 1.0

    async def run(self, share: Share) -> Samples:
        """Run `share`, split over the processes; the merged samples."""
        if self._pool is None:
            return await run_share(share)
        loop = asyncio.get_running_loop()
        pool = self._pool
        results = await asyncio.gather(
            *(
                loop.run_in_executor(pool, run_share_blocking, part)
                for part in split(share, self.count)
            )
        )
        total = Samples()
        for samples in results:
            total.merge(samples)
        return total
