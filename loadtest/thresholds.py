"""Pass or fail a run: failure ratio and p95 thresholds decide the exit code.

Without any `--gs-max-*` option Locust's own rule holds (any failure exits 1). With one,
the thresholds decide alone: a run that stays within them exits 0 even with a few failures.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: Locust monkey-patches the standard library for gevent
# isort: on

import logging
from typing import Any

from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import RequestStats, StatsEntry

from loadtest.game_socket import MATCH_TYPE, PUSH_TYPE
from loadtest.settings import LoadSettings

log = logging.getLogger(__name__)


def _merged(stats: RequestStats, name: str, keep: Any) -> StatsEntry:
    merged = StatsEntry(stats, name, "", use_response_times_cache=False)
    for entry in stats.entries.values():
        if keep(entry):
            merged.extend(entry)
    return merged


def verdict(stats: RequestStats, settings: LoadSettings) -> list[str]:
    """The thresholds a run broke, as sentences; empty when it passed."""
    broken: list[str] = []
    # Failures count everything but pushes; p95 is of calls only (a match takes seconds).
    tried = _merged(stats, "tried", lambda e: e.method != PUSH_TYPE)
    calls = _merged(stats, "calls", lambda e: e.method not in (PUSH_TYPE, MATCH_TYPE))
    pushes = _merged(stats, "pushes", lambda e: e.method == PUSH_TYPE)
    if settings.max_fail_ratio is not None and tried.num_requests:
        ratio = tried.num_failures / tried.num_requests
        if ratio > settings.max_fail_ratio:
            broken.append(f"failure ratio {ratio:.4f} > {settings.max_fail_ratio}")
    if settings.max_p95_ms is not None and calls.num_requests:
        p95 = calls.get_response_time_percentile(0.95)
        if p95 > settings.max_p95_ms:
            broken.append(f"p95 of calls {p95:.0f} ms > {settings.max_p95_ms:.0f} ms")
    if settings.max_push_p95_ms is not None and pushes.num_requests:
        p95 = pushes.get_response_time_percentile(0.95)
        if p95 > settings.max_push_p95_ms:
            broken.append(f"p95 of push lag {p95:.0f} ms > {settings.max_push_p95_ms:.0f} ms")
    return broken


def register(environment: Environment, settings: LoadSettings) -> None:
    """Check the thresholds when Locust quits (on the master or the only process)."""
    checked = (settings.max_fail_ratio, settings.max_p95_ms, settings.max_push_p95_ms)
    if all(limit is None for limit in checked) or isinstance(environment.runner, WorkerRunner):
        return

    @environment.events.quitting.add_listener
    def _check(environment: Environment, **_: Any) -> None:
        broken = verdict(environment.stats, settings)
        if environment.runner is not None and environment.runner.exceptions:
            broken.append(f"{len(environment.runner.exceptions)} kinds of errors in the users")
        for sentence in broken:
            log.error("threshold broken: %s", sentence)
        if not broken:
            log.info("all thresholds held")
        environment.process_exit_code = 1 if broken else 0
