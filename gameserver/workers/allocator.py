"""The matchmaking worker's allocator client: one POST per match to a queue's URL."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

# The server goes into every player's `match.found`: a reply larger than this is refused.
MAX_REPLY_BYTES = 16 * 1024


class AllocatorFailed(Exception):
    """The allocator answered something other than a 2xx JSON object."""


class HttpAllocator:
    """ServerAllocator over HTTP: the match as JSON in, the server as a JSON object out.

    Sends `Idempotency-Key: <match id>`; the worker may ask again for a match after a
    crash (docs/matchmaking.md), and an allocator can use the key to answer the same.
    """

    def __init__(self) -> None:
        # No redirects (the configured URL is the one asked), no proxies from the
        # environment, no cookies kept between matches.
        self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)

    async def allocate(
        self, url: str, request: dict[str, Any], idempotency_key: str, timeout_s: float
    ) -> dict[str, Any]:
        response = await self._client.post(
            url,
            content=orjson.dumps(request),
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
            timeout=timeout_s,
        )
        if not 200 <= response.status_code < 300:
            raise AllocatorFailed(f"allocator answered {response.status_code}")
        if len(response.content) > MAX_REPLY_BYTES:
            raise AllocatorFailed(f"allocator answered more than {MAX_REPLY_BYTES} bytes")
        try:
            server = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise AllocatorFailed("allocator answered no JSON") from exc
        if not isinstance(server, dict):
            raise AllocatorFailed("allocator answered JSON that is no object")
        return server

    async def aclose(self) -> None:
        await self._client.aclose()
