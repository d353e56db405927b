"""Matchmaking values: queue configuration, tickets, matches; parsed and validated once."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from domain.errors import BadRequest
from domain.ids import is_valid_id, require_id
from domain.matchmaking.ratings import Rating

MAX_PLAYERS_PER_MATCH = 100
MAX_LATENCY_REGIONS = 32
# Partition name of a queue that does not split by region.
ANY_REGION = "any"


class TicketState(StrEnum):
    SEARCHING = "searching"
    MATCHED = "matched"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


def _number(data: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{key} must be a number")
    if not low <= value <= high:
        raise BadRequest(f"{key} must be between {low:g} and {high:g}")
    return float(value)


def _integer(data: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key} must be an integer")
    if not low <= value <= high:
        raise BadRequest(f"{key} must be between {low} and {high}")
    return value


def _flag(data: Mapping[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{key} must be true or false")
    return value


@dataclass(frozen=True, slots=True)
class SkillWindow:
    """How far apart (in rating mu) tickets may be: `start`, widening per second, capped."""

    start: float = 1.0
    widen_per_s: float = 0.5
    max: float = 10.0

    def at(self, waited_s: float) -> float:
        return min(self.start + self.widen_per_s * max(waited_s, 0.0), self.max)


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    team_size: int = 1
    teams: int = 2
    max_wait_s: float = 60.0
    window: SkillWindow = field(default_factory=SkillWindow)
    # Every ticket of a match comes from the same region (and the queue is partitioned by it).
    same_region: bool = False
    # With latency maps on tickets: every player's latency to the match region is at most this.
    max_latency_ms: float | None = None
    parties: bool = True
    # A leaderboard that receives each player's rating ordinal after a rated match.
    ranked_board: str | None = None

    @property
    def players_per_match(self) -> int:
        return self.teams * self.team_size

    def partition_of(self, region: str | None) -> str:
        return region if self.same_region and region is not None else ANY_REGION

    @classmethod
    def from_dict(cls, data: object) -> QueueConfig:
        """Parse the admin API / config file shape; BadRequest on anything out of range."""
        if not isinstance(data, Mapping):
            raise BadRequest("a queue must be an object")
        name = require_id(data.get("name"), "name")
        team_size = _integer(data, "team_size", 1, 1, 50)
        teams = _integer(data, "teams", 2, 2, MAX_PLAYERS_PER_MATCH)
        if team_size * teams > MAX_PLAYERS_PER_MATCH:
            raise BadRequest(f"team_size * teams must be at most {MAX_PLAYERS_PER_MATCH}")
        start = _number(data, "window_start", 1.0, 0.0, 1e6)
        window = SkillWindow(
            start=start,
            widen_per_s=_number(data, "window_widen_per_s", 0.5, 0.0, 1e6),
            max=_number(data, "window_max", max(start, 10.0), start, 1e6),
        )
        latency = data.get("max_latency_ms")
        board = data.get("ranked_board")
        if board is not None:
            require_id(board, "ranked_board")
        return cls(
            name=name,
            team_size=team_size,
            teams=teams,
            max_wait_s=_number(data, "max_wait_s", 60.0, 1.0, 3600.0),
            window=window,
            same_region=_flag(data, "same_region", False),
            max_latency_ms=None
            if latency is None
            else _number(data, "max_latency_ms", 0.0, 1.0, 60_000.0),
            parties=_flag(data, "parties", True),
            ranked_board=board,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        window = data.pop("window")
        data["window_start"] = window["start"]
        data["window_widen_per_s"] = window["widen_per_s"]
        data["window_max"] = window["max"]
        return data


DEFAULT_QUEUES: tuple[QueueConfig, ...] = (QueueConfig(name="duel", team_size=1, teams=2),)


@dataclass(frozen=True, slots=True)
class TicketProperties:
    region: str | None = None
    latency_ms: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: object, queue: QueueConfig) -> TicketProperties:
        """The properties the queue's rules read; other keys are accepted and ignored."""
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise BadRequest("properties must be an object")
        region = raw.get("region")
        if region is not None:
            require_id(region, "properties.region")
        if queue.same_region and region is None:
            raise BadRequest(f"queue {queue.name} needs properties.region")
        latency_raw = raw.get("latency", {})
        if not isinstance(latency_raw, Mapping) or len(latency_raw) > MAX_LATENCY_REGIONS:
            raise BadRequest(f"properties.latency must map at most {MAX_LATENCY_REGIONS} regions")
        latency: dict[str, float] = {}
        for key in latency_raw:
            if not is_valid_id(key):
                raise BadRequest("properties.latency keys must be region names")
            latency[key] = _number(latency_raw, key, 0.0, 0.0, 1e6)
        props = cls(region=region, latency_ms=latency)
        if queue.max_latency_ms is not None and latency and not props.acceptable_regions(queue):
            raise BadRequest("no region within the queue's max_latency_ms")
        return props

    def acceptable_regions(self, queue: QueueConfig) -> frozenset[str] | None:
        """Regions this ticket may be hosted in; None means any."""
        limit = queue.max_latency_ms
        if limit is None or not self.latency_ms:
            return None
        ok = frozenset(r for r, ms in self.latency_ms.items() if ms <= limit)
        if queue.same_region and self.region is not None:
            ok = ok & {self.region}
        return ok


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket_id: str
    queue: str
    partition: str
    players: tuple[str, ...]
    ratings: tuple[Rating, ...]
    created_at: float
    state: TicketState
    properties: TicketProperties = field(default_factory=TicketProperties)
    match_id: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    match_id: str
    queue: str
    teams: tuple[tuple[str, ...], ...]
    tickets: tuple[str, ...]
    created_at: float
    win_probabilities: tuple[float, ...]
    region: str | None = None
