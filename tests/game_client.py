"""A small game client for end-to-end tests: HTTP login, then calls and pushes on the socket."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.gateway_harness import ADMIN_KEY

DEFAULT_TIMEOUT_S = 10.0


class GameClient:
    def __init__(self, socket: ClientConnection, player_id: str, token: str) -> None:
        self.socket = socket
        self.player_id = player_id
        self.token = token
        self._ids = itertools.count(1)
        self._replies: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.orphan_replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.socket:
                message = orjson.loads(frame)
                if "event" in message:
                    await self.events.put(message)
                elif message.get("id") in self._replies:
                    self._replies.pop(message["id"]).set_result(message)
                else:
                    await self.orphan_replies.put(message)
        except ConnectionClosed:
            pass
        finally:
            code = self.socket.close_code
            if not self.closed.done():
                self.closed.set_result(code)

    async def send_raw(self, frame: str | bytes) -> None:
        await self.socket.send(frame)

    async def call(
        self, op: str, timeout: float = DEFAULT_TIMEOUT_S, **fields: Any
    ) -> dict[str, Any]:
        """Send `op` and return the whole reply (check `reply["ok"]` yourself)."""
        request_id = f"r{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = future
        await self.socket.send(orjson.dumps({"op": op, "id": request_id, **fields}).decode())
        return await asyncio.wait_for(future, timeout)

    async def ok(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send `op` and return its reply, failing the test if it is not ok."""
        reply = await self.call(op, **fields)
        assert reply["ok"] is True, reply
        return reply

    async def next_event(self, name: str, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        """The next push named `name`, skipping others."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if event["event"] == name:
                    return event

    async def wait_closed(self, timeout: float = DEFAULT_TIMEOUT_S) -> int | None:
        return await asyncio.wait_for(asyncio.shield(self.closed), timeout)

    async def aclose(self) -> None:
        await self.socket.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def create_session(
    base_url: str,
    player_id: str,
    region: str | None = None,
    client_key: str | None = None,
    tls: ssl.SSLContext | None = None,
) -> dict[str, Any]:
    """Log `player_id` in and return the login reply.

    A named player logs in the way a trusted game server logs in its players
    (`POST /admin/v1/sessions` with the test admin key), since a client cannot name
    itself. With `client_key`, the login goes through `POST /v1/sessions` as a game
    client's does, with a device credential derived from `player_id`: the reply then
    names the server-chosen player id of that device's account.
    """
    body: dict[str, Any] = {}
    if region is not None:
        body["region"] = region
    async with httpx.AsyncClient(base_url=base_url, verify=tls or True) as http:
        if client_key is None:
            response = await http.post(
                "/admin/v1/sessions",
                json={"player_id": player_id, **body},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
        else:
            response = await http.post(
                "/v1/sessions",
                json={"device_id": device_id_for(player_id), **body},
                headers={"Authorization": f"Bearer {client_key}"},
            )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def device_id_for(name: str) -> str:
    """A stable test device id (16..128 characters) named after `name`."""
    return f"test-device.{name}".ljust(16, "0")


async def device_login(base_url: str, device_id: str, **fields: Any) -> httpx.Response:
    """`POST /v1/sessions` with a device credential, as a game client logs in."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        return await http.post("/v1/sessions", json={"device_id": device_id, **fields})


@contextlib.asynccontextmanager
async def game_client(
    base_url: str, player_id: str, token: str | None = None
) -> AsyncIterator[GameClient]:
    """Log `player_id` in (unless a token is given) and open its game socket."""
    if token is None:
        token = (await create_session(base_url, player_id))["token"]
    ws_url = base_url.replace("http://", "ws://") + f"/v1/ws?token={token}"
    socket = await connect(ws_url, compression=None, max_size=2**20)
    client = GameClient(socket, player_id, token)
    try:
        yield client
    finally:
        await client.aclose()


async def game_clients(
    stack: contextlib.AsyncExitStack, base_url: str, player_ids: Iterable[str]
) -> dict[str, GameClient]:
    """A logged-in game socket per player, each closed when `stack` closes."""
    return {
        player_id: await stack.enter_async_context(game_client(base_url, player_id))
        for player_id in player_ids
    }
