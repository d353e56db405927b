"""Players of the gateway for the bench: sessions over HTTP, one `websockets` socket each."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake

from loadtest.bench.http_client import HttpPool
from loadtest.bench.loops import Operation

Fields = Callable[[], dict[str, Any]]


@dataclass
class Player:
    player_id: str
    socket: ClientConnection
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # Pushes that arrived while the player waited for a reply.
    pushes: int = 0

    async def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send `op` and return its reply (pushes in between are counted and skipped)."""
        request_id = next(self.ids)
        await self.socket.send(orjson.dumps({"op": op, "id": request_id, **fields}).decode())
        while True:
            message = orjson.loads(await self.socket.recv())
            if message.get("id") == request_id:
                reply: dict[str, Any] = message
                return reply
            self.pushes += 1

    def operation(self, op: str, fields: Fields) -> Operation:
        async def run() -> str | None:
            reply = await self.call(op, **fields())
            if reply.get("ok") is True:
                return None
            return str((reply.get("error") or {}).get("code", "error"))

        return run


def op_fields(op: str, board: str) -> Callable[[], Fields]:
    """A factory of per-player field makers (scores rise, so `best` stores every submit)."""

    def per_player() -> Fields:
        scores = itertools.count(2_000_000)
        if op == "score.submit":
            return lambda: {"board": board, "score": next(scores)}
        if op == "board.top":
            return lambda: {"board": board, "limit": 100}
        if op == "board.around":
            return lambda: {"board": board, "radius": 5}
        if op == "board.rank":
            return lambda: {"board": board}
        return dict

    return per_player


def login_operation(http: HttpPool, device_id: str) -> Operation:
    """A game client's device login (`POST /v1/sessions`), again and again: the first
    creates the account, every later one finds it, as a returning player does."""

    async def run() -> str | None:
        response = await http.post("/v1/sessions", {"device_id": device_id})
        return None if response.status == 201 else f"http {response.status}"

    return run


async def create_sessions(
    base_url: str,
    player_ids: Sequence[str],
    *,
    concurrency: int = 64,
    client_key: str | None = None,
    admin_key: str | None = None,
) -> list[str]:
    """Log every player in over HTTP; returns their tokens in order.

    With `admin_key`, each player logs in under its given id the way a trusted game
    server logs its players in (`POST /admin/v1/sessions`); without, as a game client
    does, with a device credential named after the id (the server then picks the id).
    """
    if admin_key:
        headers, path = {"Authorization": f"Bearer {admin_key}"}, "/admin/v1/sessions"
    else:
        headers, path = {"Authorization": f"Bearer {client_key}"} if client_key else {}, ""
    tokens: list[str] = [""] * len(player_ids)
    next_index = itertools.count()

    async with HttpPool(base_url, concurrency, headers) as http:

        async def worker() -> None:
            while (index := next(next_index)) < len(player_ids):
                if path:
                    body = {"player_id": player_ids[index]}
                else:
                    body = {"device_id": device_id_for(player_ids[index])}
                response = await http.post(path or "/v1/sessions", body)
                if response.status != 201:
                    raise RuntimeError(f"login: {response.status} {response.text}")
                tokens[index] = response.json()["token"]

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tokens


def device_id_for(player_id: str) -> str:
    """A device credential (16..128 of [A-Za-z0-9_.:-]) named after a bench player id."""
    return f"bench.{player_id}".ljust(16, "0")


def ws_url(base_url: str, token: str) -> str:
    return base_url.replace("http", "ws", 1).rstrip("/") + f"/v1/ws?token={token}"


async def open_sockets(
    base_url: str, tokens: Sequence[str], *, concurrency: int = 100, max_failures: int = 0
) -> tuple[list[ClientConnection], list[str]]:
    """One socket per token, `concurrency` handshakes at a time; no client-side pings.

    Returns the sockets opened and why others failed; more than `max_failures` failures
    stop it early (a server out of file descriptors would only time out from there on).
    """
    sockets: list[ClientConnection | None] = [None] * len(tokens)
    failures: list[str] = []
    next_index = itertools.count()

    async def worker() -> None:
        while len(failures) <= max_failures and (index := next(next_index)) < len(tokens):
            try:
                sockets[index] = await connect(
                    ws_url(base_url, tokens[index]),
                    compression=None,
                    max_size=2**20,
                    ping_interval=None,
                    open_timeout=30,
                )
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(tokens)))))
    return [s for s in sockets if s is not None], failures


async def open_players(
    base_url: str,
    player_ids: Sequence[str],
    *,
    client_key: str | None = None,
    admin_key: str | None = None,
) -> list[Player]:
    """Players logged in under the given ids (`admin_key` is needed for that) with a
    socket each."""
    tokens = await create_sessions(base_url, player_ids, client_key=client_key, admin_key=admin_key)
    sockets, failures = await open_sockets(base_url, tokens)
    if failures:
        await close_all(sockets)
        raise RuntimeError(f"{len(failures)} sockets failed to open: {failures[0]}")
    return [Player(pid, sock) for pid, sock in zip(player_ids, sockets, strict=True)]


async def close_all(sockets: Sequence[ClientConnection], *, concurrency: int = 500) -> None:
    next_index = itertools.count()

    async def worker() -> None:
        while (index := next(next_index)) < len(sockets):
            try:
                await asyncio.wait_for(sockets[index].close(), 5)
            except (TimeoutError, OSError):
                pass

    await asyncio.gather(*(worker() for _ in range(min(concurrency, max(len(sockets), 1)))))
