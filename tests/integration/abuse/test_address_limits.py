"""The cluster-wide per-address limit (GCRA in a Valkey Function), against real Valkey."""

from __future__ import annotations

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.abuse.limits import AddressLimiter, RateLimit
from domain.abuse.store import AbuseStore, limit_key
from domain.errors import RateLimited
from domain.storage.shard_calls import ShardCaller


async def _limiter(valkey: ValkeyCluster, rate: float, burst: int) -> AddressLimiter:
    limiter = AddressLimiter(AbuseStore(ShardCaller(valkey)), {"login": RateLimit(rate, burst)})
    await limiter.ensure_ready()
    return limiter


async def test_a_burst_is_allowed_then_refused_with_the_wait(valkey: ValkeyCluster) -> None:
    limiter = await _limiter(valkey, rate=0.5, burst=3)
    for _ in range(3):
        await limiter.take("login", "1.2.3.4")
    with pytest.raises(RateLimited) as refused:
        await limiter.take("login", "1.2.3.4")
    assert refused.value.retry_after_s is not None and 0 < refused.value.retry_after_s <= 2.0


async def test_addresses_are_limited_apart(valkey: ValkeyCluster) -> None:
    limiter = await _limiter(valkey, rate=0.5, burst=1)
    await limiter.take("login", "1.2.3.4")
    await limiter.take("login", "5.6.7.8")
    with pytest.raises(RateLimited):
        await limiter.take("login", "1.2.3.4")


async def test_the_key_expires_once_the_bucket_is_full_again(
    valkey: ValkeyCluster, admin_valkey: ValkeyCluster
) -> None:
    limiter = await _limiter(valkey, rate=1000.0, burst=2)
    for _ in range(2):
        await limiter.take("login", "::1")
    ttl_ms = await admin_valkey.pttl(limit_key("login", "::1"))
    assert 0 < ttl_ms <= 2  # a full bucket again within two intervals: the key goes


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (1.0, 0), (-1.0, 5)])
def test_a_limit_needs_a_positive_rate_and_burst(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimit(rate, burst)
