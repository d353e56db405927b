"""The per-socket token bucket: a burst at once, then the rate, never more than the burst."""

from __future__ import annotations

from gameserver.gateway.rate_limit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _taken_at_once(bucket: TokenBucket) -> int:
    taken = 0
    while bucket.try_take():
        taken += 1
        assert taken < 10_000, "the bucket never ran dry"
    return taken


def test_a_fresh_bucket_allows_its_burst_and_no_more() -> None:
    assert _taken_at_once(TokenBucket(1.0, 3, clock=FakeClock())) == 3


def test_tokens_come_back_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 3, clock=clock)
    _taken_at_once(bucket)
    clock.now += 1.0
    assert _taken_at_once(bucket) == 2


def test_a_long_idle_refills_only_up_to_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 3, clock=clock)
    _taken_at_once(bucket)
    clock.now += 60.0
    assert _taken_at_once(bucket) == 3
