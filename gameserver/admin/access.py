"""Around every admin call: wrong keys throttled per address, and one access-log line."""

from __future__ import annotations

import logging
import math
import time

from cachetools import TTLCache
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gameserver.gateway.rate_limit import TokenBucket
from gameserver.http.client_address import ClientAddresses
from gameserver.http.json import send_error
from gameserver.metrics import count_refusal

# Its own logger, so operators can route the access log apart (never carries the key).
access_log = logging.getLogger("gameserver.access")

# `require_admin` marks a request whose key was wrong here, in the request's state.
KEY_REFUSED = "admin_key_refused"
# Addresses with recent wrong keys kept per process; the oldest are forgotten first.
_TRACKED_ADDRESSES = 100_000


class AdminAccess:
    """ASGI middleware over `/admin/`: throttles wrong keys and logs every call.

    Each address may send `burst` wrong keys, then `per_min` a minute; beyond that each
    admin call from it is 429 `rate_limited` (with `Retry-After`) without looking at the
    key. Counted per gateway process: the key itself (192 bits from `up`) is the defence,
    the throttle only keeps guessing loud and slow.
    """

    def __init__(
        self, app: ASGIApp, addresses: ClientAddresses, per_min: float, burst: int
    ) -> None:
        self.app = app
        self._addresses = addresses
        self._rate_per_s = per_min / 60
        self._burst = burst
        # A bucket refills in burst / rate seconds; after that it is as good as new.
        self._failures: TTLCache[str, TokenBucket] = TTLCache(
            _TRACKED_ADDRESSES, ttl=max(1.0, burst / self._rate_per_s)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The admin socket (/admin/v1/ws) too: its key comes in a frame, not a header.
        if scope["type"] not in ("http", "websocket") or not scope["path"].startswith("/admin/"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        address = self._addresses.of(scope)
        limited_as = self._addresses.limited_as(scope)
        status = 0

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
            elif message["type"] == "websocket.accept":
                status = 101
            await send(message)

        bucket = self._failures.get(limited_as)
        wait_s = bucket.wait_s() if bucket is not None else 0.0
        if wait_s > 0:
            count_refusal(scope, "admin_key_throttle")
            if scope["type"] == "websocket":
                await _too_many_for_socket(scope, receive, recording_send, wait_s)
            else:
                await _too_many(recording_send, wait_s)
        else:
            await self.app(scope, receive, recording_send)
            if scope.get("state", {}).get(KEY_REFUSED):
                if bucket is None:
                    bucket = TokenBucket(self._rate_per_s, self._burst)
                    self._failures[limited_as] = bucket
                bucket.try_take()
        access_log.info(
            "admin %s %s %d from %s in %.1f ms",
            scope.get("method", "WS"),
            scope["path"],
            status,
            address,
            (time.perf_counter() - started) * 1000,
        )


async def _too_many(send: Send, wait_s: float) -> None:
    message = "too many wrong admin keys from this address; retry later"
    retry_after = (b"retry-after", str(max(1, math.ceil(wait_s))).encode())
    await send_error(send, 429, "rate_limited", message, (retry_after,))


async def _too_many_for_socket(scope: Scope, receive: Receive, send: Send, wait_s: float) -> None:
    """Refuse the upgrade: a 429 where the server can send one, else close 1008."""
    if (await receive())["type"] != "websocket.connect":
        return
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008, "reason": "rate_limited"})
        return
    await _too_many(_as_socket_response(send), wait_s)


def _as_socket_response(send: Send) -> Send:
    async def socket_send(message: Message) -> None:
        await send({**message, "type": message["type"].replace("http.", "websocket.http.", 1)})

    return socket_send
