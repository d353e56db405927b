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


def test_wait_is_zero_while_a_token_is_there() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 3, clock=clock)
    assert bucket.wait_s() == 0.0
    bucket.try_take()
    # 2 tokens left: more than one, still no wait.
    assert bucket.wait_s() == 0.0
    bucket.try_take()
    clock.now += 0.25
    # 1.5 tokens: the next take succeeds now.
    assert bucket.wait_s() == 0.0


def test_wait_is_the_time_the_rate_needs_to_refill_the_next_token() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, 3, clock=clock)
    _taken_at_once(bucket)
    assert bucket.wait_s() == 0.5
    clock.now += 0.25
    # Half a token came back: half the wait is left.
    assert bucket.wait_s() == 0.25
    clock.now += 0.25
    assert bucket.wait_s() == 0.0
    assert bucket.try_take()


def test_asking_for_the_wait_takes_no_token() -> None:
    bucket = TokenBucket(1.0, 3, clock=FakeClock())
    for _ in range(5):
        bucket.wait_s()
    assert _taken_at_once(bucket) == 3


def _refused_every(bucket: TokenBucket, clock: FakeClock, step_s: float, times: int) -> None:
    for _ in range(times):
        clock.now += step_s
        assert not bucket.try_take()


def test_a_fresh_bucket_is_not_flooding() -> None:
    assert TokenBucket(1.0, 3, close_after_s=5.0, clock=FakeClock()).flooding is False


def test_one_refusal_is_not_a_flood() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.001, 1, close_after_s=5.0, clock=clock)
    _taken_at_once(bucket)
    assert bucket.flooding is False


def test_refusals_for_close_after_s_without_a_pause_are_a_flood() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.001, 1, close_after_s=2.0, clock=clock)
    _taken_at_once(bucket)
    _refused_every(bucket, clock, 0.5, 3)
    # 1.5 s of refusals: not yet.
    assert bucket.flooding is False
    _refused_every(bucket, clock, 0.5, 1)
    # Exactly `close_after_s` since the first refusal of the stretch.
    assert bucket.flooding is True


def test_refusals_a_second_apart_are_one_stretch() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.001, 1, close_after_s=2.0, clock=clock)
    _taken_at_once(bucket)
    _refused_every(bucket, clock, 1.0, 2)
    assert bucket.flooding is True


def test_a_pause_of_more_than_a_second_starts_a_new_stretch() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.001, 1, close_after_s=2.0, clock=clock)
    _taken_at_once(bucket)
    _refused_every(bucket, clock, 1.5, 4)
    # 6 s of refusals in all, but never two within a second of each other.
    assert bucket.flooding is False
    _refused_every(bucket, clock, 0.5, 4)
    assert bucket.flooding is True
