"""A game day as a Locust load shape: login storm, steady state, spike, recovery.

    locust -f loadtest/locustfile.py,loadtest/shapes.py --headless --host ...

The shape replaces -u/-r/-t. Its stages come from `GS_SHAPE` (or `--gs-shape`), a list of
`users@rate/seconds` stages, default `200@100/60,200@1/120,400@200/30,200@50/60`:

- a login storm: 200 players arrive at 100 per second (each logs in and opens its socket),
- a steady state of 120 s,
- a spike: 200 more players at 200 per second, held 30 s,
- recovery back to 200 players for 60 s; then the test stops.

A stage's seconds include its ramp.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: Locust monkey-patches the standard library for gevent
# isort: on

import os

from locust import LoadTestShape

from loadtest.stages import DEFAULT_STAGES, Stage, parse_stages, stage_at


class GameDayShape(LoadTestShape):
    """Login storm, steady state, spike and recovery (stages from `GS_SHAPE`)."""

    def __init__(self) -> None:
        super().__init__()
        self._stages: tuple[Stage, ...] | None = None

    @property
    def stages(self) -> tuple[Stage, ...]:
        # Read on first use: the runner (and with it the options) is attached after __init__.
        if self._stages is None:
            options = self.runner.environment.parsed_options if self.runner else None
            raw = getattr(options, "gs_shape", None) or os.environ.get("GS_SHAPE")
            self._stages = parse_stages(raw or DEFAULT_STAGES)
        return self._stages

    def tick(self) -> tuple[int, float] | None:
        stage = stage_at(self.stages, self.get_run_time())
        return None if stage is None else (stage.users, stage.spawn_rate)
