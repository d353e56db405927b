"""The game client: one login, one game socket that comes back by itself, typed ops."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from gameserver_client.auth import (
    Credential,
    DeviceCredential,
    ProviderCredential,
    TokenSource,
    create_session,
)
from gameserver_client.errors import (
    BadRequest,
    ClientClosed,
    ConnectionLost,
    Forbidden,
    NotFound,
    RateLimited,
    RequestTimeout,
    ServerError,
    Unauthorized,
    error_from_wire,
)
from gameserver_client.event_hub import Callback, EventHub, EventStream
from gameserver_client.events import (
    Closed,
    Disconnected,
    MatchExpired,
    MatchFound,
    RankChanged,
    Reconnected,
    Reconnecting,
    event_from_wire,
)
from gameserver_client.models import (
    Session,
)
from gameserver_client.ops import GameOps
from gameserver_client.reconnect import ReconnectPolicy
from gameserver_client.storage import Storage

log = logging.getLogger("gameserver_client")

E = TypeVar("E")

# Close codes of the game socket.
CLOSE_NORMAL = 1000
CLOSE_UNAUTHORIZED = 4401  # the token opens nothing: the session is gone
CLOSE_KICKED = 4403  # an operator ended the session (kick, ban, erasure)
CLOSE_REPLACED = 4409  # a newer login of the same player took over
_FINAL_CLOSES = {CLOSE_KICKED: "kicked by an operator", CLOSE_REPLACED: "replaced by a newer login"}

# Login refusals that another try would not change.
_FATAL_LOGIN_ERRORS = (BadRequest, Unauthorized, Forbidden, NotFound)


class GameClient(GameOps):
    """A player's connection to gameserver.

    Log in with `login_device` or `login_provider` (that also opens the game socket), then
    call the ops (`score_submit`, `board_top`, `match_join`, ...: one method per op of
    the contract, named after it) and read pushes with `events()` or `on()`. If the
    socket drops, the client reconnects with backoff; when its session is gone (close
    4401) it logs in again with the same credential, and it subscribes its boards again.
    It stops for good after `close()`, `session_logout()`, a kick (4403) or a newer login
    of the same player (4409): a `Closed` event tells which.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        client_key: str | None = None,
        reconnect: ReconnectPolicy | None = None,
        keepalive_s: float | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.reconnect_policy = reconnect or ReconnectPolicy()
        self._client_key = client_key
        self._keepalive_s = keepalive_s
        self._http = http
        self._owns_http = http is None
        self._credential: Credential | None = None
        self._login_fields: dict[str, str] = {}
        self.session: Session | None = None
        self._ws: ClientConnection | None = None
        # The socket once it has answered and its boards are subscribed again: calls use it.
        self._live: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._subscriptions: dict[str, int] = {}
        # The rank last told per watched board (subscribe reply, `rank.changed`).
        self._ranks: dict[str, int | None] = {}
        self._tickets: set[str] = set()
        # Tickets whose match was told from `match.status`: their late push is dropped.
        self._told_tickets: set[str] = set()
        self._hub = EventHub()
        self._state_changed = asyncio.Event()
        self._closed: Closed | None = None
        self._stopping = False
        self._supervisor: asyncio.Task[None] | None = None

    # -- state --------------------------------------------------------------------------

    @property
    def player_id(self) -> str:
        if self.session is None:
            raise RuntimeError("not logged in: call login_device() or login_provider() first")
        return self.session.player_id

    @property
    def connected(self) -> bool:
        return self._live is not None and self._closed is None

    @property
    def closed(self) -> Closed | None:
        """Why the client stopped for good, or None while it runs."""
        return self._closed

    async def wait_closed(self) -> Closed:
        """Wait until the client stops for good, and say why."""
        while self._closed is None:
            await self._state_changed.wait()
        return self._closed

    @property
    def subscriptions(self) -> dict[str, int]:
        """Boards this client watches (board -> `top`), subscribed again on reconnect."""
        return dict(self._subscriptions)

    async def __aenter__(self) -> GameClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- logging in and out -------------------------------------------------------------

    async def login_device(
        self, storage: Storage, *, display_name: str | None = None, region: str | None = None
    ) -> Session:
        """Log in with this device's id (made once and kept in `storage`), open the socket."""
        return await self._login(DeviceCredential(storage), display_name, region)

    async def login_provider(
        self,
        provider: str,
        id_token: TokenSource,
        *,
        display_name: str | None = None,
        region: str | None = None,
    ) -> Session:
        """Log in with an identity token of `provider`, open the socket.

        `id_token` may be a coroutine function returning a fresh token: the client calls
        it again when it must log in again after its session is gone."""
        return await self._login(ProviderCredential(provider, id_token), display_name, region)

    async def connect_session(self, session: Session) -> None:
        """Open the socket with a session got elsewhere (e.g. a trusted server's login).

        Without a credential the client cannot log in again: a gone session ends it."""
        self._check_fresh()
        self.session = session
        await self._start()

    async def _login(
        self, credential: Credential, display_name: str | None, region: str | None
    ) -> Session:
        self._check_fresh()
        self._credential = credential
        self._login_fields = {}
        if display_name is not None:
            self._login_fields["display_name"] = display_name
        if region is not None:
            self._login_fields["region"] = region
        self.session = await self._create_session()
        await self._start()
        return self.session

    def _check_fresh(self) -> None:
        if self._closed is not None:
            raise ClientClosed(f"the client is closed: {self._closed.reason}")
        if self._supervisor is not None:
            raise RuntimeError("already connected: make a new client for another login")

    async def _create_session(self) -> Session:
        assert self._credential is not None
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout)
        return await create_session(
            self._http,
            self.base_url,
            self._credential,
            display_name=self._login_fields.get("display_name"),
            region=self._login_fields.get("region"),
            client_key=self._client_key,
        )

    async def _start(self) -> None:
        try:
            ws = await self._open_socket()
        except TimeoutError:
            raise RequestTimeout("the game socket did not open in time") from None
        except (OSError, InvalidHandshake) as exc:
            raise ConnectionLost(f"the game socket did not open: {exc}") from exc
        self._supervisor = asyncio.create_task(self._supervise(ws))
        # The first connection is up once it answers (or a close is known).
        try:
            async with asyncio.timeout(self.timeout):
                await self._wait_connected_or_closed()
        except TimeoutError:
            await self._shutdown(CLOSE_NORMAL, "the game socket did not answer")
            raise RequestTimeout("the game socket did not answer in time") from None

    async def session_logout(self, *, timeout: float | None = None) -> None:
        """End the session on the server (its token is refused from then on) and stop."""
        self._stopping = True
        try:
            await self._call("session.logout", {}, timeout)
        finally:
            await self._shutdown(CLOSE_NORMAL, "logged out")

    async def close(self) -> None:
        """Close the socket and stop; the session idles out on the server."""
        await self._shutdown(CLOSE_NORMAL, "closed by the client")

    async def _shutdown(self, code: int, reason: str) -> None:
        self._stopping = True
        self._finish(code, reason)
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._supervisor is not None and self._supervisor is not asyncio.current_task():
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    def _finish(self, code: int | None, reason: str) -> None:
        if self._closed is not None:
            return
        self._closed = Closed(code, reason)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ClientClosed(reason, close_code=code))
        self._pending.clear()
        self._notify()
        self._hub.emit(self._closed)

    # -- events -------------------------------------------------------------------------

    def events(self, *kinds: type[E], max_queued: int = 1000) -> EventStream[E]:
        """A stream of the events of `kinds` (all events when none is named) from now on."""
        stream: EventStream[E] = EventStream(self._hub, kinds, max_queued)
        if self._closed is not None:
            stream._offer(self._closed)
        else:
            self._hub.streams.add(stream)
        return stream

    def on(self, kind: type[E], callback: Callable[[E], Any]) -> Callable[[], None]:
        """Call `callback` (a function or coroutine function) for every event of `kind`.

        Returns a function that removes the callback."""
        return self._hub.add_callback((kind,), cast(Callback, callback))

    # -- the socket ---------------------------------------------------------------------

    def _socket_url(self) -> str:
        assert self.session is not None
        if self.base_url.startswith("https://"):
            root = "wss://" + self.base_url[len("https://") :]
        elif self.base_url.startswith("http://"):
            root = "ws://" + self.base_url[len("http://") :]
        else:
            root = self.base_url
        return f"{root}/v1/ws?token={self.session.token}"

    async def _open_socket(self) -> ClientConnection:
        return await connect(
            self._socket_url(),
            compression=None,
            open_timeout=self.timeout,
            close_timeout=2,
            # The client's own `ping` op keeps the session and the connection checked.
            ping_interval=None,
            max_size=2**20,
            proxy=None,
        )

    async def _supervise(self, ws: ClientConnection | None) -> None:
        relogged = False
        first = True
        try:
            while ws is not None:
                code, reason, established = await self._run_connection(ws, first, relogged)
                if self._closed is not None or self._stopping:
                    return
                if code in _FINAL_CLOSES:
                    self._finish(code, _FINAL_CLOSES[code])
                    return
                if not self.reconnect_policy.enabled:
                    self._finish(code, f"disconnected ({code} {reason})")
                    return
                if established:
                    first = False
                    self._hub.emit(Disconnected(code, reason))
                log.info("game socket closed (%s %s); reconnecting", code, reason)
                # `relogged` tells the next `Reconnected` whether this outage needed a login.
                carried = relogged and not established
                ws, relogged = await self._reconnect(code == CLOSE_UNAUTHORIZED, carried)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must not leave callers waiting forever
            log.exception("the client's connection loop failed")
            self._finish(None, f"client error: {exc!r}")

    async def _run_connection(
        self, ws: ClientConnection, first: bool, relogged: bool
    ) -> tuple[int | None, str, bool]:
        """Serve one socket until it closes: (close code, reason, whether it was up)."""
        self._ws = ws
        reader = asyncio.create_task(self._read(ws))
        keepalive: asyncio.Task[None] | None = None
        established = False
        try:
            try:
                # A socket whose token is refused closes before answering anything.
                async with asyncio.timeout(self.timeout):
                    await self._request(ws, "ping", {})
                await self._resubscribe(ws)
                if not first:
                    await self._recheck_tickets(ws)
                established = True
            except (ConnectionLost, TimeoutError):
                pass
            if established:
                self._live = ws
                self._notify()
                if not first:
                    assert self.session is not None
                    self._hub.emit(Reconnected(self.session.player_id, relogged))
                keepalive = asyncio.create_task(self._keepalive(ws))
            else:
                await ws.close()
            await reader
        finally:
            if keepalive is not None:
                keepalive.cancel()
            self._ws = None
            self._live = None
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionLost("the game socket closed"))
            self._pending.clear()
            self._notify()
        return ws.close_code, ws.close_reason or "", established

    async def _resubscribe(self, ws: ClientConnection) -> None:
        for board, top in list(self._subscriptions.items()):
            told = self._ranks.get(board)
            try:
                async with asyncio.timeout(self.timeout):
                    reply = await self._request(ws, "board.subscribe", {"board": board, "top": top})
            except NotFound:
                log.warning("board %s is gone: its subscription ends", board)
                self._subscriptions.pop(board, None)
                self._ranks.pop(board, None)
                continue
            except ServerError as exc:
                log.warning("could not subscribe %s again: %s", board, exc)
                continue
            rank: int | None = reply.get("rank")
            # The pushes of the outage are lost: tell the rank that holds now, unless a
            # push that followed the reply has told a newer one already.
            if self._ranks.get(board) == told and rank != told:
                self._ranks[board] = rank
                self._hub.emit(RankChanged(board, rank, told, None))

    async def _recheck_tickets(self, ws: ClientConnection) -> None:
        """A `match.found` or `match.expired` pushed while the socket was down is lost: ask
        each ticket still searching here for its state, and tell what happened."""
        for ticket in list(self._tickets):
            try:
                async with asyncio.timeout(self.timeout):
                    reply = await self._request(ws, "match.status", {"ticket": ticket})
            except ServerError as exc:
                log.warning("ticket %s: %s; no longer watched", ticket, exc)
                self._tickets.discard(ticket)
                continue
            if ticket not in self._tickets:
                continue  # its push came first
            state = reply.get("state")
            if state == "searching":
                continue
            self._tickets.discard(ticket)
            if state == "matched" and "match_id" in reply:
                self._told_tickets.add(ticket)
                teams = [list(team) for team in reply["teams"]]
                server = reply.get("server")
                self._hub.emit(MatchFound(reply["match_id"], reply["queue"], teams, ticket, server))
            elif state == "expired":
                self._hub.emit(MatchExpired(ticket))

    async def _reconnect(
        self, session_gone: bool, relogged: bool
    ) -> tuple[ClientConnection | None, bool]:
        policy = self.reconnect_policy
        attempt = 0
        while self._closed is None:
            if policy.max_attempts is not None and attempt >= policy.max_attempts:
                self._finish(None, f"gave up after {attempt} reconnect attempts")
                return None, relogged
            delay = policy.delay(attempt)
            attempt += 1
            self._hub.emit(Reconnecting(attempt, delay))
            await asyncio.sleep(delay)
            if session_gone:
                if self._credential is None:
                    self._finish(CLOSE_UNAUTHORIZED, "the session is gone; no credential to log in")
                    return None, relogged
                try:
                    self.session = await self._create_session()
                except _FATAL_LOGIN_ERRORS as exc:
                    self._finish(CLOSE_UNAUTHORIZED, f"login refused: {exc}")
                    return None, relogged
                except RateLimited as exc:
                    await asyncio.sleep(exc.retry_after or 0)
                    continue
                except (ServerError, ConnectionLost, RequestTimeout) as exc:
                    log.info("login failed (%s); trying again", exc)
                    continue
                session_gone = False
                relogged = True
            try:
                return await self._open_socket(), relogged
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                log.info("reconnect attempt %d failed: %s", attempt, exc)
        return None, relogged

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                try:
                    message = json.loads(frame)
                except ValueError:
                    log.warning("unparsable frame from the server")
                    continue
                if not isinstance(message, dict):
                    continue
                if "event" in message:
                    event = event_from_wire(message)
                    if isinstance(event, RankChanged):
                        self._ranks[event.board] = event.rank
                    elif isinstance(event, MatchFound | MatchExpired):
                        self._tickets.discard(event.ticket)
                        if event.ticket in self._told_tickets:
                            self._told_tickets.discard(event.ticket)
                            continue  # told already, from match.status
                    self._hub.emit(event)
                    continue
                future = self._pending.pop(str(message.get("id")), None)
                if future is not None and not future.done():
                    future.set_result(message)
                elif "id" not in message:
                    log.warning("error reply without id: %s", message.get("error"))
        except ConnectionClosed:
            pass

    async def _keepalive(self, ws: ClientConnection) -> None:
        assert self.session is not None
        interval = self._keepalive_s or max(1.0, self.session.expires_in / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(min(self.timeout, interval * 2)):
                    await self._request(ws, "ping", {})
            except TimeoutError:
                # No answer: the connection is dead without having said so. Drop it.
                log.info("ping unanswered; dropping the connection")
                ws.transport.abort()
                return
            except ConnectionLost:
                return
            except ServerError as exc:
                log.warning("ping refused: %s", exc)

    def _notify(self) -> None:
        self._state_changed.set()
        self._state_changed = asyncio.Event()

    async def _wait_connected_or_closed(self) -> ClientConnection:
        while self._closed is None and self._live is None:
            await self._state_changed.wait()
        if self._closed is not None:
            raise ClientClosed(self._closed.reason, close_code=self._closed.code)
        assert self._live is not None
        return self._live

    # -- requests -----------------------------------------------------------------------

    async def _request(
        self, ws: ClientConnection, op: str, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        request_id = str(next(self._ids))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            try:
                await ws.send(json.dumps({**fields, "op": op, "id": request_id}))
            except ConnectionClosed as exc:
                raise ConnectionLost("the game socket closed") from exc
            reply = await future
        finally:
            self._pending.pop(request_id, None)
        if reply.get("ok") is True:
            return {k: v for k, v in reply.items() if k not in ("id", "ok")}
        raise error_from_wire(reply.get("error"))

    async def _call(
        self, op: str, fields: Mapping[str, Any], timeout: float | None
    ) -> dict[str, Any]:
        limit = self.timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                # While reconnecting, a call waits for the socket (within its timeout).
                ws = await self._wait_connected_or_closed()
                return await self._request(ws, op, fields)
        except TimeoutError:
            raise RequestTimeout(f"{op}: no reply within {limit} s") from None

    async def call(
        self, op: str, fields: Mapping[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send any op and return its reply's fields (for ops this client has no method for).

        Raises the error class of the reply's code, `RequestTimeout` after `timeout`
        seconds (default: the client's), `ConnectionLost` if the socket closed first."""
        return await self._call(op, fields or {}, timeout)
