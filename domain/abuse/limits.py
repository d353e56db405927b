"""Abuse limits: how many requests of a kind one address may make, cluster-wide."""

from __future__ import annotations

from dataclasses import dataclass

from domain.abuse.store import AbuseStore
from domain.errors import RateLimited


@dataclass(frozen=True)
class RateLimit:
    """`rate_per_s` on average, with bursts of up to `burst` requests at once."""

    rate_per_s: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0 or self.burst < 1:
            raise ValueError(f"a rate limit needs rate > 0 and burst >= 1, not {self}")


class AddressLimiter:
    """One named limit per kind of request (`login`...), counted per client address."""

    def __init__(self, store: AbuseStore, limits: dict[str, RateLimit]) -> None:
        self._store = store
        self._limits = dict(limits)

    async def ensure_ready(self) -> None:
        await self._store.load_functions()

    async def take(self, kind: str, address: str) -> None:
        """Count one request of `kind` from `address`; `RateLimited` when over its limit."""
        limit = self._limits[kind]
        retry_after_s = await self._store.take(kind, address, limit.rate_per_s, limit.burst)
        if retry_after_s > 0:
            raise RateLimited(
                f"too many {kind} attempts from this address; retry later",
                retry_after_s=retry_after_s,
            )
