"""The memory floor of an idle socket on the gateway's server stack, without the gateway.

`python -m loadtest.bench.socket_floor --sockets 5000` runs uvicorn exactly as the gateway
does (uvloop, httptools, websockets-sansio, no permessage-deflate) with a bare ASGI app
that accepts each WebSocket and waits, opens N idle sockets to it, and reports the
server's resident memory per socket. Whatever the gateway costs per socket beyond this
figure is its own (docs/benchmarks.md, section C); below it, no gateway on this stack can
go.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
from collections.abc import Sequence

import httpx
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect

from loadtest.extras import require_test_extras
from loadtest.gameserver_up import free_port

_SETTLE_S = 2.0
_BATCH = 200


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept a WebSocket and wait for its end; answer HTTP with 200 (the ready check)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


def _serve(port: int) -> None:
    import uvicorn

    uvicorn.run(
        "loadtest.bench.socket_floor:bare_app",
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


async def _measure(pid: int, port: int, count: int) -> float:
    from loadtest.bench.processes import rss_bytes  # psutil: a [test] extra, checked in main()

    before = rss_bytes(pid) or 0
    sockets: list[ClientConnection] = []
    try:
        for start in range(0, count, _BATCH):
            batch = min(_BATCH, count - start)
            sockets += await asyncio.gather(
                *(connect(f"ws://127.0.0.1:{port}/", compression=None) for _ in range(batch))
            )
        await asyncio.sleep(_SETTLE_S)
        after = rss_bytes(pid) or 0
    finally:
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    return (after - before) / count / 1024


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.bench.socket_floor")
    require_test_extras("python -m loadtest.bench.socket_floor", ("psutil",))
    parser.add_argument("--sockets", type=int, default=5_000)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the server child
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve)
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    count = min(args.sockets, hard - 1_000)
    port = free_port()
    command = [sys.executable, "-m", "loadtest.bench.socket_floor", "--serve", str(port)]
    server = subprocess.Popen(command)
    try:
        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        per_socket = asyncio.run(_measure(server.pid, port, count))
    finally:
        server.terminate()
        server.wait(10)
    print(
        f"bare uvicorn (the gateway's server stack, no gateway): {count} idle sockets, "
        f"{per_socket:.1f} KiB per socket"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
