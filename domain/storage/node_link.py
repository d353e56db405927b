"""One connection to one Valkey node that carries many batches in flight at once.

valkey-py's pipeline takes a pooled connection, writes, then awaits each reply in turn
(an `await`, a timeout context and a parse per reply): ~25 us of CPU per command under
load, the gateway's largest cost. Here replies are parsed as bytes arrive, by the same
libvalkey parser valkey-py uses, and handed to the batch they answer in order: Valkey
answers a connection's commands in the order it sent them, so a FIFO of batches in
flight is all the bookkeeping needed.

Failure rules (domain/storage/shard_calls.py relies on them):
- a batch that was never written (the connection could not be made, or the link was
  closed first) fails with `NotSent`, a `ConnectionError`: it certainly did not run;
- a batch in flight when the connection drops fails with a `ConnectionError`, and one
  that gets no reply within its time limit with a `TimeoutError`: either may have run;
- an error reply fails only its own command (the reply is the exception instance).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import libvalkey
from valkey.asyncio.cluster import ClusterParser
from valkey.exceptions import ConnectionError as LinkError
from valkey.exceptions import InvalidResponse
from valkey.exceptions import TimeoutError as ReplyTimeout

from domain.storage.resp import pack_command

_NOT_ENOUGH_DATA = object()


class NotSent(LinkError):
    """The batch never left this process: none of its commands ran."""


Callbacks = Mapping[str, Callable[..., Any]]


@dataclass(eq=False)
class _Batch:
    names: list[Any]  # each command's name, for valkey-py's response callbacks
    future: asyncio.Future[list[Any]]
    timeout_s: float
    deadline: float = 0.0
    replies: list[Any] = field(default_factory=list)


class NodeLink(asyncio.Protocol):
    """Send batches of commands to one node; each batch's future gets its replies."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        connect_timeout_s: float = 2.0,
        callbacks: Callbacks | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._auth: tuple[Any, ...] | None = None
        if password is not None:
            self._auth = ("AUTH", username, password) if username else ("AUTH", password)
        self._connect_timeout_s = connect_timeout_s
        self._callbacks: Callbacks = callbacks or {}
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._unsent: list[tuple[bytes, _Batch]] = []
        self._inflight: deque[_Batch] = deque()
        self._reader = self._new_reader()
        self._timer: asyncio.TimerHandle | None = None
        self._abort_reason: Exception | None = None
        self._closed = False

    def send(
        self, commands: Sequence[Sequence[Any]], timeout_s: float
    ) -> asyncio.Future[list[Any]]:
        """Queue `commands` to go out together; the future gets one reply per command.

        `timeout_s` bounds the wait for the batch's last reply once it is written.
        """
        future: asyncio.Future[list[Any]] = self._loop.create_future()
        if self._closed:
            future.set_exception(NotSent(f"link to {self.host}:{self.port} is closed"))
            return future
        data = b"".join(pack_command(args) for args in commands)
        batch = _Batch([args[0] for args in commands], future, timeout_s)
        if self._transport is not None:
            self._write(data, batch)
        else:
            self._unsent.append((data, batch))
            if self._connecting is None:
                self._connecting = self._loop.create_task(self._connect())
        return future

    def close(self) -> None:
        """Close the connection; batches not yet answered fail."""
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
        self._fail_unsent(NotSent(f"link to {self.host}:{self.port} is closed"))
        if self._transport is not None:
            self._transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        self._reader = self._new_reader()
        self._abort_reason = None

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        inflight = self._inflight
        while True:
            try:
                reply = self._reader.gets()
            except InvalidResponse as exc:
                self._abort(LinkError(f"protocol error from {self.host}:{self.port}: {exc}"))
                return
            if reply is _NOT_ENOUGH_DATA:
                return
            if not inflight:
                self._abort(LinkError(f"unexpected reply from {self.host}:{self.port}"))
                return
            batch = inflight[0]
            batch.replies.append(reply)
            if len(batch.replies) == len(batch.names):
                inflight.popleft()
                self._resolve(batch)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        reason = self._abort_reason or LinkError(
            f"connection to {self.host}:{self.port} lost" + (f": {exc}" if exc else "")
        )
        inflight, self._inflight = self._inflight, deque()
        for batch in inflight:
            if not batch.future.done():
                batch.future.set_exception(reason)
        if self._unsent and not self._closed and self._connecting is None:
            self._connecting = self._loop.create_task(self._connect())

    # internals

    def _new_reader(self) -> Any:
        return libvalkey.Reader(
            protocolError=InvalidResponse,
            # Error replies become valkey-py's exception classes, MOVED and ASK included.
            replyError=ClusterParser.parse_error,
            notEnoughData=_NOT_ENOUGH_DATA,
            convertSetsToLists=True,
        )

    async def _connect(self) -> None:
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                await self._loop.create_connection(lambda: self, self.host, self.port)
                if self._auth is not None:
                    auth = _Batch(["AUTH"], self._loop.create_future(), self._connect_timeout_s)
                    self._write(pack_command(self._auth), auth)
                    (reply,) = await auth.future
                    if isinstance(reply, Exception):
                        raise reply
        except BaseException as exc:
            self._connecting = None
            if self._transport is not None:
                self._transport.abort()
            self._fail_unsent(NotSent(f"Error connecting to {self.host}:{self.port}: {exc!r}"))
            if not isinstance(exc, OSError | TimeoutError | LinkError | ReplyTimeout):
                raise
            return
        self._connecting = None
        unsent, self._unsent = self._unsent, []
        for data, batch in unsent:
            self._write(data, batch)

    def _write(self, data: bytes, batch: _Batch) -> None:
        assert self._transport is not None
        self._transport.write(data)
        batch.deadline = self._loop.time() + batch.timeout_s
        self._inflight.append(batch)
        if self._timer is None:
            self._timer = self._loop.call_at(self._inflight[0].deadline, self._check_deadline)

    def _check_deadline(self) -> None:
        self._timer = None
        if not self._inflight:
            return
        head = self._inflight[0]
        if self._loop.time() >= head.deadline:
            self._abort(ReplyTimeout(f"Timeout reading from {self.host}:{self.port}"))
        else:
            self._timer = self._loop.call_at(head.deadline, self._check_deadline)

    def _abort(self, reason: Exception) -> None:
        self._abort_reason = reason
        if self._transport is not None:
            self._transport.abort()

    def _resolve(self, batch: _Batch) -> None:
        replies = batch.replies
        callbacks = self._callbacks
        for i, name in enumerate(batch.names):
            callback = callbacks.get(name)
            if callback is not None and not isinstance(replies[i], Exception):
                try:
                    replies[i] = callback(replies[i])
                except Exception as exc:  # a reply the callback cannot read fails alone
                    replies[i] = exc
        if not batch.future.done():
            batch.future.set_result(replies)
        if self._timer is not None and not self._inflight:
            self._timer.cancel()
            self._timer = None

    def _fail_unsent(self, error: Exception) -> None:
        unsent, self._unsent = self._unsent, []
        for _, batch in unsent:
            if not batch.future.done():
                batch.future.set_exception(error)
