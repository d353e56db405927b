"""Socket capacity: N idle game sockets on one gateway process, and what each one costs.

The gateway's resident memory is read before the sockets open (sessions already made) and
again once they are all open and settled; the difference over N is the cost per socket.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from loadtest.bench.admin import wait_for_no_sockets
from loadtest.bench.compare import Target
from loadtest.bench.gateway_clients import close_all, create_sessions, open_sockets
from loadtest.bench.http_client import HttpPool
from loadtest.bench.processes import fd_headroom, own_fd_headroom, total_rss

# File descriptors kept free on either side for everything else a process opens (the
# gateway's Valkey pools grow with concurrent calls).
FD_RESERVE = 1_000
SETTLE_S = 3.0
# Sockets checked with a ping once all are open.
PING_SAMPLE = 200
# Players logged in, then connected, at a time.
CHUNK = 2_000
# Handshakes that may fail before the run stops opening sockets.
MAX_CONNECT_FAILURES = 20


@dataclass
class CapacityResult:
    requested: int
    # Sockets still open once all were opened and had settled.
    sockets: int = 0
    limited_by: str | None = None
    sessions_per_s: float = 0.0
    connects_per_s: float = 0.0
    gateway_rss_before_mib: float | None = None
    gateway_rss_after_mib: float | None = None
    rss_per_socket_kib: float | None = None
    connect_failures: int = 0
    first_failure: str | None = None
    # Sockets the server closed before the measurement, by close code.
    close_codes: dict[str, int] = field(default_factory=dict)
    pings_ok: int = 0
    pings_sent: int = 0
    unavailable: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def socket_budget(requested: int, gateway_pid: int | None) -> tuple[int, str | None]:
    """How many sockets both processes' file-descriptor limits allow, and which one binds."""
    count, limited_by = requested, None
    client = own_fd_headroom()
    if client - FD_RESERVE < count:
        count = client - FD_RESERVE
        limited_by = f"client's open-file limit ({client} free, {FD_RESERVE} kept)"
    if gateway_pid is not None:
        headroom = fd_headroom(gateway_pid)
        if headroom is not None and headroom - FD_RESERVE < count:
            count = headroom - FD_RESERVE
            limited_by = f"gateway's open-file limit ({headroom} free, {FD_RESERVE} kept)"
    return max(count, 0), limited_by


async def run_capacity(target: Target, requested: int, run_tag: str) -> CapacityResult:
    gateway_pid = target.gateway_pids[0] if target.gateway_pids else None
    count, limited_by = socket_budget(requested, gateway_pid)
    result = CapacityResult(requested=requested, limited_by=limited_by)
    # Every gateway process's memory: with several, the kernel spreads the sockets.
    before = total_rss(target.gateway_pids)
    sockets: list[ClientConnection] = []
    session_time = connect_time = 0.0
    try:
        # In chunks: a session lives `expires_in` (60 s) until its socket opens, and
        # 20,000 logins then 20,000 connects would outlast that.
        for start in range(0, count, CHUNK):
            ids = [f"idle-{run_tag}-{i}" for i in range(start, min(start + CHUNK, count))]
            began = time.perf_counter()
            tokens = await create_sessions(
                target.url, ids, client_key=target.client_key, admin_key=target.admin_key
            )
            session_time += time.perf_counter() - began
            began = time.perf_counter()
            opened, failures = await open_sockets(
                target.url, tokens, concurrency=200, max_failures=MAX_CONNECT_FAILURES
            )
            sockets += opened
            connect_time += time.perf_counter() - began
            result.connect_failures += len(failures)
            if failures:
                result.first_failure = result.first_failure or failures[0]
                if len(failures) > MAX_CONNECT_FAILURES:
                    break
            open_now = sum(1 for socket in sockets if socket.close_code is None)
            print(f"  {open_now} of {len(sockets)} sockets open", flush=True)
        logged_in = min(count, len(sockets) + result.connect_failures)
        result.sessions_per_s = round(logged_in / session_time, 1) if session_time else 0.0
        result.connects_per_s = round(len(sockets) / connect_time, 1) if connect_time else 0.0
        await asyncio.sleep(SETTLE_S)
        after = total_rss(target.gateway_pids)
        alive = [socket for socket in sockets if socket.close_code is None]
        result.sockets = len(alive)
        closed = Counter(str(s.close_code) for s in sockets if s.close_code is not None)
        result.close_codes = dict(closed)
        if before is not None and after is not None and alive:
            result.gateway_rss_before_mib = round(before / 2**20, 1)
            result.gateway_rss_after_mib = round(after / 2**20, 1)
            result.rss_per_socket_kib = round((after - before) / len(alive) / 1024, 2)
        sample = random.sample(alive, min(PING_SAMPLE, len(alive)))
        result.pings_sent = len(sample)
        for index, socket in enumerate(sample):
            result.pings_ok += await _ping(socket, index)
    finally:
        await close_all(sockets)
        async with HttpPool(target.url, 1) as http:
            await wait_for_no_sockets(http)
    return result


async def _ping(socket: ClientConnection, request_id: int) -> bool:
    try:
        await socket.send(orjson.dumps({"op": "ping", "id": request_id}).decode())
        reply = orjson.loads(await asyncio.wait_for(socket.recv(), 10))
    except (ConnectionClosed, TimeoutError):
        return False
    return bool(reply.get("ok"))
