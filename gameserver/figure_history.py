"""The last minutes of the figures the dashboard charts, kept by each gateway process.

Every gateway samples the queues' figures and the sessions over every gateway every
`SAMPLE_INTERVAL_S` (gameserver/gateway/figures.py), so that a dashboard opened now
charts the last ten minutes at once (`GET /admin/v1/history`), not only the minutes it
has been open. In memory: a restarted gateway starts a new history.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

SAMPLE_INTERVAL_S = 10.0
KEPT_S = 600.0
# The figures of a queue row (GET /admin/v1/queues) a sample keeps.
QUEUE_FIGURES = ("waiting", "oldest_wait_s", "wait_p50_s", "wait_p95_s")


@dataclass(frozen=True)
class FigureSample:
    at: float  # unix s
    sessions_online: int
    logins_last_minute: int
    queues: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "sessions_online": self.sessions_online,
            "logins_last_minute": self.logins_last_minute,
            "queues": self.queues,
        }


def queue_figures(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The figures a sample keeps of each queue row."""
    return {str(row["queue"]): {name: row[name] for name in QUEUE_FIGURES} for row in rows}


@dataclass
class FigureHistory:
    kept_s: float = KEPT_S
    _samples: deque[FigureSample] = field(default_factory=deque)

    def add(self, sample: FigureSample) -> None:
        self._samples.append(sample)
        while self._samples and self._samples[0].at < sample.at - self.kept_s:
            self._samples.popleft()

    def samples(self) -> list[FigureSample]:
        return list(self._samples)
