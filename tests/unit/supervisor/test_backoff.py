"""When `gameserver up` starts a dead process again."""

from __future__ import annotations

from gameserver.supervisor.backoff import Backoff


def test_deaths_in_a_row_double_the_delay_up_to_the_cap() -> None:
    backoff = Backoff(base_s=1.0, cap_s=5.0, stable_s=30.0)
    delays = [backoff.delay_after_exit(ran_s=0.5) for _ in range(5)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_process_that_ran_a_stable_period_starts_again_from_the_first_delay() -> None:
    backoff = Backoff(base_s=1.0, cap_s=30.0, stable_s=10.0)
    for _ in range(3):
        backoff.delay_after_exit(ran_s=1.0)
    assert backoff.delay_after_exit(ran_s=10.0) == 1.0
    assert backoff.delay_after_exit(ran_s=1.0) == 2.0
