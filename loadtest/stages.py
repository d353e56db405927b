"""Stages of a load shape: `users@rate/seconds`, parsed, and which one runs when."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_STAGES = "200@100/60,200@1/120,400@200/30,200@50/60"


@dataclass(frozen=True)
class Stage:
    users: int
    spawn_rate: float
    duration_s: float


def parse_stages(raw: str) -> tuple[Stage, ...]:
    """`"200@100/60,400@200/30"` -> stages of (users, spawn rate per second, seconds)."""
    stages = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        users, _, rest = part.partition("@")
        rate, _, seconds = rest.partition("/")
        if not (users and rate and seconds):
            raise ValueError(f"stage {part!r} is not users@rate/seconds")
        stages.append(Stage(int(users), float(rate), float(seconds)))
    if not stages:
        raise ValueError(f"no stages in {raw!r}")
    return tuple(stages)


def stage_at(stages: tuple[Stage, ...], elapsed_s: float) -> Stage | None:
    """The stage running `elapsed_s` into the test; None once every stage is over."""
    end = 0.0
    for stage in stages:
        end += stage.duration_s
        if elapsed_s < end:
            return stage
    return None
