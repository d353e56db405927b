"""Matchmaking values: queue configuration, tickets, matches; parsed and validated once."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import orjson

from domain.errors import BadRequest
from domain.fields import only_fields
from domain.ids import is_valid_id, require_id
from domain.matchmaking.ratings import Rating

MAX_PLAYERS_PER_MATCH = 100
MAX_LATENCY_REGIONS = 32
MAX_MATCH_ON = 8
MAX_MATCH_ON_VALUE = 64
# The properties a ticket carries into `match.found`, as JSON, at most this many bytes.
MAX_CARRIED_BYTES = 1024
MAX_URL = 2048
QUEUE_FIELDS = frozenset(
    {
        "name",
        "team_size",
        "teams",
        "max_wait_s",
        "window_start",
        "window_widen_per_s",
        "window_max",
        "same_region",
        "max_latency_ms",
        "parties",
        "ranked_board",
        "match_on",
        "min_players",
        "max_players",
        "fill_wait_s",
        "allocator",
    }
)
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
    # Property names whose string values are equal within a match (each set of values is
    # a partition of its own, like a region).
    match_on: tuple[str, ...] = ()
    # Free-for-all: `max_players` set, one player per team, no parties; a match of at
    # least `min_players` once its oldest ticket has waited `fill_wait_s`.
    min_players: int | None = None
    max_players: int | None = None
    fill_wait_s: float = 10.0
    # A URL POSTed each match before anyone is told; its JSON reply is the match's server.
    allocator: str | None = None

    @property
    def free_for_all(self) -> bool:
        return self.max_players is not None

    @property
    def players_per_match(self) -> int:
        return self.max_players if self.max_players is not None else self.teams * self.team_size

    @property
    def fewest_players(self) -> int:
        """The smallest match this queue makes."""
        if self.max_players is None:
            return self.players_per_match
        return self.min_players if self.min_players is not None else self.max_players

    def partition_of(self, region: str | None, values: Mapping[str, str] | None = None) -> str:
        base = region if self.same_region and region is not None else ANY_REGION
        if not self.match_on:
            return base
        # JSON keeps two different value lists from ever spelling the same name.
        return f"{base}|" + orjson.dumps([(values or {})[k] for k in self.match_on]).decode()

    @classmethod
    def from_dict(cls, data: object) -> QueueConfig:
        """Parse the admin API / config file shape; BadRequest on anything out of range."""
        if not isinstance(data, Mapping):
            raise BadRequest("a queue must be an object")
        only_fields(data, QUEUE_FIELDS, "queue")
        name = require_id(data.get("name"), "name")
        team_size = _integer(data, "team_size", 1, 1, 50)
        teams = _integer(data, "teams", 2, 2, MAX_PLAYERS_PER_MATCH)
        if team_size * teams > MAX_PLAYERS_PER_MATCH:
            raise BadRequest(f"team_size * teams must be at most {MAX_PLAYERS_PER_MATCH}")
        max_players: int | None = None
        min_players: int | None = None
        if data.get("max_players") is not None:
            if "teams" in data or "team_size" in data:
                raise BadRequest("a free-for-all queue has max_players instead of teams")
            if data.get("parties") is True:
                raise BadRequest("a free-for-all queue takes no parties")
            max_players = _integer(data, "max_players", 2, 2, MAX_PLAYERS_PER_MATCH)
            min_players = _integer(data, "min_players", max_players, 2, max_players)
            team_size, teams = 1, max_players
        elif data.get("min_players") is not None:
            raise BadRequest("min_players needs max_players")
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
            parties=_flag(data, "parties", True) and max_players is None,
            ranked_board=board,
            match_on=_match_on(data.get("match_on", [])),
            min_players=min_players,
            max_players=max_players,
            fill_wait_s=_number(data, "fill_wait_s", 10.0, 0.0, 3600.0),
            allocator=_allocator(data.get("allocator")),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        window = data.pop("window")
        data["window_start"] = window["start"]
        data["window_widen_per_s"] = window["widen_per_s"]
        data["window_max"] = window["max"]
        data["match_on"] = list(self.match_on)
        if self.free_for_all:
            del data["teams"], data["team_size"]
        return data


def _match_on(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_MATCH_ON:
        raise BadRequest(f"match_on must be a list of at most {MAX_MATCH_ON} property names")
    names = tuple(require_id(name, "match_on") for name in raw)
    if len(set(names)) != len(names):
        raise BadRequest("match_on names a property twice")
    if {"region", "latency"} & set(names):
        raise BadRequest("match_on cannot name region or latency (see same_region)")
    return names


def _allocator(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > MAX_URL:
        raise BadRequest("allocator must be an http or https URL")
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as exc:
        raise BadRequest("allocator must be an http or https URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in raw):
        raise BadRequest("allocator must be an http or https URL")
    return raw


DEFAULT_QUEUES: tuple[QueueConfig, ...] = (QueueConfig(name="duel", team_size=1, teams=2),)


@dataclass(frozen=True, slots=True)
class TicketProperties:
    region: str | None = None
    latency_ms: Mapping[str, float] = field(default_factory=dict)
    # The values of the queue's `match_on` properties.
    values: Mapping[str, str] = field(default_factory=dict)
    # What the ticket carries into `match.found`: every property but `latency`.
    carried: Mapping[str, Any] = field(default_factory=dict)

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
            raise BadRequest(
                f"properties.latency must be an object of at most {MAX_LATENCY_REGIONS} regions"
            )
        latency: dict[str, float] = {}
        for key in latency_raw:
            if not is_valid_id(key):
                raise BadRequest("properties.latency keys must be region names")
            latency[key] = _number(latency_raw, key, 0.0, 0.0, 1e6)
        values: dict[str, str] = {}
        for key in queue.match_on:
            value = raw.get(key)
            if not isinstance(value, str) or not 0 < len(value) <= MAX_MATCH_ON_VALUE:
                raise BadRequest(
                    f"queue {queue.name} needs properties.{key}: "
                    f"a string of 1 to {MAX_MATCH_ON_VALUE} characters"
                )
            values[key] = value
        carried = {str(k): v for k, v in raw.items() if k != "latency"}
        try:
            size = len(orjson.dumps(carried))
        except TypeError as exc:
            raise BadRequest("properties must be plain JSON") from exc
        if size > MAX_CARRIED_BYTES:
            raise BadRequest(
                f"properties (without latency) must be at most {MAX_CARRIED_BYTES} bytes"
            )
        props = cls(region=region, latency_ms=latency, values=values, carried=carried)
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


MAX_BACKFILL_SLOTS = MAX_PLAYERS_PER_MATCH


def parse_backfill_open(raw: object, teams: list[list[str]]) -> list[tuple[int, int]]:
    """The (team index, slots) a backfill opens on a match with `teams` now.

    The slots replace players who left (the match record keeps everyone it ever had), so
    only the match's total is bounded. In a free-for-all match each added player is a
    team of their own: `team` only has to be a valid index there.
    """
    if not isinstance(raw, list) or not raw or len(raw) > MAX_BACKFILL_SLOTS:
        raise BadRequest("open must be a non-empty list of {team, slots}")
    wanted: dict[int, int] = {}
    for item in raw:
        if not isinstance(item, Mapping) or set(item) != {"team", "slots"}:
            raise BadRequest("each open item is {team, slots}")
        team = _integer(item, "team", 0, 0, len(teams) - 1)
        wanted[team] = wanted.get(team, 0) + _integer(item, "slots", 1, 1, MAX_BACKFILL_SLOTS)
    room = MAX_PLAYERS_PER_MATCH - sum(len(t) for t in teams)
    if sum(wanted.values()) > room:
        raise BadRequest(f"a match holds at most {MAX_PLAYERS_PER_MATCH} players")
    return sorted(wanted.items())
