"""Run N Locust users of the real player class against a gateway; print how their calls overlap.

Run as a script (it imports Locust, which monkey-patches this process for gevent):

    python tests/loadtest/concurrency_probe.py http://127.0.0.1:8000 --users 200

Every user logs in, opens its own socket and waits until all are connected; then all of them
ping at once, a bounded number of times. Printed as JSON: the most calls that were in flight
at the same moment, the distinct client ports, and how many calls failed.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: Locust monkey-patches the standard library for gevent
# isort: on

import argparse
import json
import sys
import time
from typing import Any

import gevent
from gevent.event import Event
from locust import constant, task
from locust.env import Environment

from loadtest.users import GameUser

CALLS_PER_USER = 10
_everyone_connected = Event()
_ports: set[int] = set()


class ProbePlayer(GameUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        super().on_start()
        if self.client.local_port is not None:
            _ports.add(self.client.local_port)
        self.calls_left = CALLS_PER_USER

    @task
    def ping_together(self) -> None:
        _everyone_connected.wait()
        if self.calls_left <= 0:
            gevent.sleep(0.1)
            return
        self.calls_left -= 1
        self.client.call("ping")


def peak_in_flight(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that contain one same instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()

    environment = Environment(user_classes=[ProbePlayer], host=args.url)
    intervals: list[tuple[float, float]] = []
    failures: list[str] = []

    @environment.events.request.add_listener
    def _record(name: str, response_time: float, exception: Any, **kwargs: Any) -> None:
        if name != "ping":
            if exception is not None:
                failures.append(f"{name}: {exception}")
            return
        if exception is not None:
            failures.append(f"ping: {exception}")
            return
        start = kwargs["start_time"]
        intervals.append((start, start + response_time / 1000))

    runner = environment.create_local_runner()
    runner.start(args.users, spawn_rate=min(args.users, 100))
    deadline = time.monotonic() + args.timeout
    while len(_ports) < args.users and time.monotonic() < deadline:
        gevent.sleep(0.05)
    _everyone_connected.set()
    expected = args.users * CALLS_PER_USER
    while len(intervals) + len(failures) < expected and time.monotonic() < deadline:
        gevent.sleep(0.05)
    runner.quit()
    json.dump(
        {
            "users": args.users,
            "sockets": len(_ports),
            "calls": len(intervals),
            "failures": failures[:20],
            "failure_count": len(failures),
            "peak_in_flight": peak_in_flight(intervals),
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
