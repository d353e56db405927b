"""The game socket for Locust: a gevent-friendly WebSocket client that reports every call.

websocket-client is pure Python on the standard `socket` module, which Locust's gevent
monkey-patching makes cooperative: a user waiting for a reply yields to the others, so
hundreds of users in one process each keep their own socket busy at the same time.

Every call is one `request` event (type "WS", name = the op): its response time runs from
the send to the moment the reader greenlet received the reply, and it fails on `ok: false`,
a timeout or a closed socket. Every push is one `request` event of type "PUSH" whose
"response time" is its lag, the server's `ts` to receipt.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: Locust monkey-patches the standard library for gevent
# isort: on

import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import gevent
import orjson
import websocket
from gevent.event import AsyncResult
from locust.event import EventHook

from loadtest.protocol import TICKET_PUSHES, push_lag_ms, push_stat_name

log = logging.getLogger(__name__)

CALL_TYPE = "WS"
PUSH_TYPE = "PUSH"
# Matchmaking as a player lives it: from the ticket to its match.found push.
MATCH_TYPE = "MATCH"
# Ticket pushes that arrive before anyone waits for them are kept, at most this many.
_EARLY_TICKET_PUSHES = 64
# A lost socket is reopened on the next call, but not more often than this.
RECONNECT_INTERVAL_S = 1.0


class CallFailed(Exception):
    """The server answered `ok: false`."""

    def __init__(self, op: str, code: str, message: str) -> None:
        super().__init__(f"{op}: {code}: {message}")
        self.op = op
        self.code = code


class SocketClosed(Exception):
    """The socket was closed (by the server, the network or `close()`)."""


class CallTimeout(Exception):
    """No reply within the call timeout."""


class GameSocket:
    """One player's game socket: calls with ids, replies matched by id, pushes timed."""

    def __init__(
        self,
        request_event: EventHook,
        *,
        timeout_s: float = 5.0,
        context: dict[str, Any] | None = None,
    ) -> None:
        self._request_event = request_event
        self.timeout_s = timeout_s
        self.context = context or {}
        self._ids = itertools.count(1)
        self._waiting: dict[str, AsyncResult] = {}
        self._ticket_waiters: dict[str, AsyncResult] = {}
        self._early_ticket_pushes: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._push_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._ws: websocket.WebSocket | None = None
        self._reader: gevent.Greenlet | None = None
        self.close_code: int | None = None
        # Reopens the socket (a new session and connect) when a call finds it closed.
        self.reconnect: Callable[[], bool] | None = None
        self._next_reconnect = 0.0

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._ws.connected and self.close_code is None

    @property
    def local_port(self) -> int | None:
        """The client-side port of the open socket (each socket has its own)."""
        sock = self._ws.sock if self._ws is not None else None
        return int(sock.getsockname()[1]) if sock is not None else None

    def on_push(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call `listener` (in the reader greenlet; it must not block) with every push."""
        self._push_listeners.append(listener)

    def connect(self, ws_url: str, name: str = "connect") -> bool:
        """Open the socket; reported as `WS connect`. False (and reported) on failure."""
        self.close()
        self.close_code = None
        started = time.perf_counter()
        try:
            # enable_multithread: sends from a task and the reader's pong replies take a lock.
            ws = websocket.create_connection(
                ws_url, timeout=self.timeout_s, enable_multithread=True, skip_utf8_validation=True
            )
        except Exception as exc:  # refused, 4401 close, timeout: all are a failed connect
            self._report(CALL_TYPE, name, started, 0, exc)
            return False
        ws.settimeout(None)
        self._ws = ws
        self._reader = gevent.spawn(self._read_loop, ws)
        self._report(CALL_TYPE, name, started, 0, None)
        return True

    def call(
        self, op: str, *, name: str | None = None, timeout_s: float | None = None, **fields: Any
    ) -> dict[str, Any] | None:
        """Send `op` and return its reply if ok; None when it failed (the failure is reported)."""
        stat_name = name or op
        if not self.connected:
            self._try_reconnect()
        started = time.perf_counter()
        if not self.connected or self._ws is None:
            self._report(CALL_TYPE, stat_name, started, 0, SocketClosed(f"socket closed ({op})"))
            return None
        request_id = f"{next(self._ids)}"
        result = AsyncResult()
        self._waiting[request_id] = result
        try:
            self._ws.send(orjson.dumps({"op": op, "id": request_id, **fields}).decode())
            reply, received, length = result.get(timeout=timeout_s or self.timeout_s)
        except gevent.Timeout:
            self._report(CALL_TYPE, stat_name, started, 0, CallTimeout(f"{op}: no reply"))
            return None
        except Exception as exc:  # a send on a dead socket, or the reader's SocketClosed
            self._report(CALL_TYPE, stat_name, started, 0, exc)
            return None
        finally:
            self._waiting.pop(request_id, None)
        if reply.get("ok") is True:
            self._report(CALL_TYPE, stat_name, started, length, None, ended=received)
            return dict(reply)
        error = reply.get("error") or {}
        failure = CallFailed(op, str(error.get("code")), str(error.get("message")))
        self._report(CALL_TYPE, stat_name, started, length, failure, ended=received)
        return None

    def _try_reconnect(self) -> None:
        now = time.monotonic()
        if self.reconnect is None or now < self._next_reconnect:
            return
        self._next_reconnect = now + RECONNECT_INTERVAL_S
        self.reconnect()

    def probe(self, op: str, timeout_s: float = 5.0, **fields: Any) -> dict[str, Any] | None:
        """Send `op` and return any reply, unreported (for capability checks)."""
        if not self.connected or self._ws is None:
            return None
        request_id = f"probe-{next(self._ids)}"
        result = AsyncResult()
        self._waiting[request_id] = result
        try:
            self._ws.send(orjson.dumps({"op": op, "id": request_id, **fields}).decode())
            reply: dict[str, Any] = result.get(timeout=timeout_s)[0]
            return reply
        except Exception:
            return None
        finally:
            self._waiting.pop(request_id, None)

    def wait_ticket(self, ticket: str, timeout_s: float) -> dict[str, Any] | None:
        """The `match.found` or `match.expired` push of `ticket`, or None after `timeout_s`."""
        early = self._early_ticket_pushes.pop(ticket, None)
        if early is not None:
            return early
        result = AsyncResult()
        self._ticket_waiters[ticket] = result
        try:
            push: dict[str, Any] = result.get(timeout=timeout_s)
            return push
        except gevent.Timeout:
            return None
        finally:
            self._ticket_waiters.pop(ticket, None)

    def report(
        self,
        request_type: str,
        name: str,
        response_time_ms: float,
        exception: BaseException | None = None,
    ) -> None:
        """Report a measurement made outside a call (e.g. the time to a match)."""
        self._request_event.fire(
            request_type=request_type,
            name=name,
            response_time=response_time_ms,
            response_length=0,
            response=None,
            context=self.context,
            exception=exception,
        )

    def close(self) -> None:
        ws, reader = self._ws, self._reader
        self._ws, self._reader = None, None
        if ws is not None:
            try:
                ws.close(timeout=1)
            except Exception:  # already broken: nothing left to close cleanly
                pass
        if reader is not None:
            reader.kill(block=False)
        if ws is not None:
            self.close_code = 1000
            self._fail_waiting(SocketClosed("socket closed"))

    def _read_loop(self, ws: websocket.WebSocket) -> None:
        code = 1006  # no close frame: the connection was lost
        try:
            while True:
                opcode, frame = ws.recv_data_frame()
                received = time.perf_counter()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    data = frame.data or b""
                    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1005
                    break
                if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                    self._dispatch(frame.data, received)
        except Exception as exc:  # the connection ended; replies can no longer arrive
            log.debug("reader of %s ends: %r", self.context.get("player_id"), exc)
        finally:
            # A reader of an older connection must not touch the state of a newer one.
            if self._ws is ws:
                self.close_code = code
                self._fail_waiting(SocketClosed(f"socket closed with code {code}"))

    def _dispatch(self, frame: str | bytes, received: float) -> None:
        message = orjson.loads(frame)
        if not isinstance(message, dict):
            return
        if "event" in message:
            self._on_push(message)
            return
        waiter = self._waiting.get(str(message.get("id")))
        if waiter is not None:
            waiter.set((message, received, len(frame)))

    def _on_push(self, push: dict[str, Any]) -> None:
        lag = push_lag_ms(push, time.time() * 1000)
        self.report(PUSH_TYPE, push_stat_name(push), lag or 0.0)
        if push.get("event") in TICKET_PUSHES and isinstance(push.get("ticket"), str):
            waiter = self._ticket_waiters.get(push["ticket"])
            if waiter is not None:
                waiter.set(push)
            else:
                self._early_ticket_pushes[push["ticket"]] = push
                while len(self._early_ticket_pushes) > _EARLY_TICKET_PUSHES:
                    self._early_ticket_pushes.popitem(last=False)
        for listener in self._push_listeners:
            listener(push)

    def _fail_waiting(self, exc: Exception) -> None:
        for waiter in list(self._waiting.values()):
            if not waiter.ready():
                waiter.set_exception(exc)

    def _report(
        self,
        request_type: str,
        name: str,
        started: float,
        length: int,
        exception: BaseException | None,
        ended: float | None = None,
    ) -> None:
        now = time.perf_counter()
        elapsed_ms = ((ended or now) - started) * 1000
        self._request_event.fire(
            request_type=request_type,
            name=name,
            response_time=elapsed_ms,
            response_length=length,
            response=None,
            context=self.context,
            exception=exception,
            # Wall-clock time of the send, as Locust's own clients report it.
            start_time=time.time() - (now - started),
        )
