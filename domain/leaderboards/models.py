"""The values of the leaderboard feature: board configs, entries, pages and change events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from domain.errors import BadRequest
from domain.fields import only_fields
from domain.ids import require_id

Order = Literal["desc", "asc"]
Operator = Literal["best", "set", "incr", "decr"]
Reset = Literal["never", "daily", "weekly", "monthly"]

ORDERS: tuple[str, ...] = get_args(Order)
OPERATORS: tuple[str, ...] = get_args(Operator)
RESETS: tuple[str, ...] = get_args(Reset)

# A board lives on one shard unless it asks to be spread (docs/leaderboards.md "When to
# spread a board"): one round trip per read, one function call plus its WAIT per write.
# Fixed for a board's lifetime.
DEFAULT_SUB_BOARDS = 1
MAX_SUB_BOARDS = 64
# Player lookups live in this many small hashes per sub-board, each small enough to stay
# listpack-encoded (hash-max-listpack-entries is 512 in Valkey 9) at 10M players a board.
DEFAULT_BUCKETS = 4096
MAX_BUCKETS = 65536
DEFAULT_RETENTION_S = 7 * 24 * 3600
MAX_RETENTION_S = 400 * 24 * 3600
# The shortest retention a new board may ask for: an ended period (a reset's archive, a
# rolled-over day) must outlive its delivery (the worker's `board.period_ended` pushes and
# `on_period_end` webhook), which reads its entries. Boards stored with less still load.
MIN_NEW_RETENTION_S = 60
# Scores and steps stay within ±2^53, where every integer is an exact double.
SCORE_BOUND = 2**53
# Upper bounds of the count rules: big enough for any game, small enough to stay exact.
MAX_RULE_COUNT = 10**9
# start_at and end_at: unix seconds up to the year 9999.
MAX_UNIX_S = 253_402_300_799

# The webhook of period ends gets the top this many entries (at most the larger one).
DEFAULT_PERIOD_END_TOP = 100
MAX_PERIOD_END_TOP = 1000
MAX_URL_CHARS = 2048

# The score rules a board may set (PROTOCOL "Score rules"); all optional.
RULE_FIELDS = (
    "min_score",
    "max_score",
    "max_step",
    "client_writes",
    "writes_per_minute",
    "start_at",
    "end_at",
    "max_players",
    "max_attempts",
    "join_required",
)


@dataclass(frozen=True)
class BoardConfig:
    """What an operator chooses when creating a board (config file or admin API)."""

    name: str
    order: Order = "desc"
    operator: Operator = "best"
    reset: Reset = "never"
    sub_boards: int = DEFAULT_SUB_BOARDS
    buckets: int = DEFAULT_BUCKETS
    # How long a finished period (or an archive made by a reset) stays readable.
    retention_s: int = DEFAULT_RETENTION_S
    # Score rules, checked inside the function that writes (see leaderboards.lua).
    min_score: float | None = None
    max_score: float | None = None
    # The largest step of one `incr` or `decr` write (its absolute value).
    max_step: float | None = None
    # False: only the trusted-server admin API writes scores.
    client_writes: bool = True
    writes_per_minute: int | None = None
    # Tournaments: writes are accepted while start_at <= now < end_at (unix s).
    start_at: int | None = None
    end_at: int | None = None
    max_players: int | None = None
    max_attempts: int | None = None
    join_required: bool = False
    # Period results: a URL POSTed the final top `on_period_end_top` entries when a
    # period ends (see docs/leaderboards.md "Period ends").
    on_period_end: str | None = None
    on_period_end_top: int = DEFAULT_PERIOD_END_TOP

    def __post_init__(self) -> None:
        require_id(self.name, "name")
        _require_choice(self.order, ORDERS, "order")
        _require_choice(self.operator, OPERATORS, "operator")
        _require_choice(self.reset, RESETS, "reset")
        _require_int(self.sub_boards, 1, MAX_SUB_BOARDS, "sub_boards")
        _require_int(self.buckets, 1, MAX_BUCKETS, "buckets")
        _require_int(self.retention_s, 0, MAX_RETENTION_S, "retention_s")
        self._check_rules()
        if self.on_period_end is not None:
            require_webhook_url(self.on_period_end, "on_period_end")
        _require_int(self.on_period_end_top, 1, MAX_PERIOD_END_TOP, "on_period_end_top")

    def _check_rules(self) -> None:
        for name in ("min_score", "max_score"):
            _require_number(getattr(self, name), -SCORE_BOUND, SCORE_BOUND, name)
        if self.min_score is not None and self.max_score is not None:
            if self.min_score > self.max_score:
                raise BadRequest("min_score must not be above max_score")
        if self.max_step is not None:
            if self.operator not in ("incr", "decr"):
                raise BadRequest("max_step applies only to incr and decr boards")
            _require_number(self.max_step, 0, SCORE_BOUND, "max_step")
            if self.max_step <= 0:
                raise BadRequest("max_step must be positive")
        for name in ("client_writes", "join_required"):
            if not isinstance(getattr(self, name), bool):
                raise BadRequest(f"{name} must be true or false")
        for name in ("writes_per_minute", "max_players", "max_attempts"):
            if getattr(self, name) is not None:
                _require_int(getattr(self, name), 1, MAX_RULE_COUNT, name)
        for name in ("start_at", "end_at"):
            if getattr(self, name) is not None:
                _require_int(getattr(self, name), 0, MAX_UNIX_S, name)
        if self.start_at is not None and self.end_at is not None:
            if self.start_at >= self.end_at:
                raise BadRequest("start_at must be before end_at")

    @cached_property
    def has_rules(self) -> bool:
        """Whether a write must be checked against any rule (most boards: no)."""
        return any(getattr(self, name) != getattr(_NO_RULES, name) for name in RULE_FIELDS)

    @property
    def takes_seats(self) -> bool:
        """Whether players hold seats on the board (counted board-wide)."""
        return self.join_required or self.max_players is not None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> BoardConfig:
        """Parse a config-file or admin-API object; unknown fields are a `BadRequest`."""
        if not isinstance(raw, Mapping):
            raise BadRequest("a board must be an object")
        only_fields(raw, cls.__dataclass_fields__, "board")
        if "name" not in raw:
            raise BadRequest("name is required")
        retention = raw.get("retention_s", DEFAULT_RETENTION_S)
        _require_int(retention, MIN_NEW_RETENTION_S, MAX_RETENTION_S, "retention_s")
        return cls(**dict(raw))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Board:
    """A board as stored in Valkey: its config plus the state the store keeps for it."""

    config: BoardConfig
    # Sequence numbers from one counter: `gen` names the board's keys (a board created
    # again under the same name starts empty), `version` fences writes from stale caches.
    gen: int
    version: int
    # The period id in which the last reset happened and how many resets it had.
    reset_period: str = ""
    reset_count: int = 0
    created_at: float = 0.0

    @property
    def name(self) -> str:
        return self.config.name

    def to_dict(self) -> dict[str, Any]:
        return {**self.config.to_dict(), "created_at": self.created_at}


@dataclass(frozen=True, order=True)
class Position:
    """A place on a board; tuples order like the board: smaller is better.

    `score` is normalised (negated on desc boards) and `stamp` is the microsecond at
    which the entry reached its score.
    """

    score: float
    stamp: int
    player_id: str


# Not frozen: a page builds a hundred of these per call, and a frozen dataclass's
# __init__ (object.__setattr__ per field) costs three times a plain one with slots.
@dataclass(slots=True)
class RankedEntry:
    rank: int
    player_id: str
    score: float
    metadata: dict[str, Any] | None = None
    # Seconds since the epoch of the entry's last accepted write.
    updated_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "player_id": self.player_id,
            "score": self.score,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class PlayerRank:
    """An exact rank with the position behind it, for the push layer's bookkeeping.

    `stamps`: for each sub-board index, the stamp of that sub-board's last write when
    it was counted. The rank reflects exactly the writes up to those stamps; a change
    event of sub-board i stamped later is not in it yet.
    """

    player_id: str
    rank: int
    score: float
    position: Position
    period: str
    stamps: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SubmitResult:
    board: str
    score: float
    rank: int
    previous_rank: int | None
    # False when the operator kept the stored score (`best` that was not better).
    changed: bool = True


@dataclass(frozen=True)
class Page:
    entries: list[RankedEntry]
    next_cursor: str | None


@dataclass(frozen=True)
class BoardSummary:
    board: Board
    period: str
    count: int


@dataclass(frozen=True)
class BoardListing:
    """A board as `board.list` shows it to one player.

    `players`: players holding a seat on boards that take seats (join_required or
    max_players), else entries in the live period. `joined`: whether this player holds
    a seat (always false on boards that take none).
    """

    board: Board
    period: str
    period_ends_at: float | None
    players: int
    joined: bool

    def to_dict(self) -> dict[str, Any]:
        config = self.board.config
        return {
            "name": config.name,
            "order": config.order,
            "operator": config.operator,
            "reset": config.reset,
            "period": self.period,
            "period_ends_at": self.period_ends_at,
            "start_at": config.start_at,
            "end_at": config.end_at,
            "players": self.players,
            "max_players": config.max_players,
            "joined": self.joined,
            "join_required": config.join_required,
        }


@dataclass(frozen=True)
class JoinResult:
    board: str
    players: int
    # False when the player held a seat already.
    new: bool


@dataclass(frozen=True)
class KeptPeriod:
    """A period whose entries are kept: its label, entry count and, where known, bounds.
    `live` is the label writes go to; `ended` that the period is over (archived by a reset,
    past its calendar end or the board's `end_at`): its results are final."""

    period: str
    count: int
    start_at: float | None
    end_at: float | None
    live: bool
    ended: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BoardView:
    """The admin inspection of one board's period."""

    board: Board
    period: str
    count: int
    page: Page


@dataclass(frozen=True)
class ChangeEvent:
    """One write as seen on a board's channel.

    kind: "write" (old may be None for a new entry), "remove" (new is None),
    "reset" or "delete" (no positions: every rank of the board moved).
    """

    kind: Literal["write", "remove", "reset", "delete"]
    period: str
    player_id: str = ""
    old: Position | None = None
    new: Position | None = None
    # Server microseconds of the write.
    at_us: int = 0


def require_webhook_url(value: object, name: str) -> str:
    """`value` if it is an absolute http or https URL with a host, else `BadRequest`."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URL_CHARS:
        raise BadRequest(f"{name} must be a URL of at most {MAX_URL_CHARS} characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"{name} must be an http or https URL with a host")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise BadRequest(f"{name} must not contain spaces or control characters")
    return value


def _require_choice(value: object, choices: tuple[str, ...], name: str) -> None:
    if value not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}")


def _require_number(value: object, low: float, high: float, name: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadRequest(f"{name} must be a number in {low:.0f}..{high:.0f}")


def _require_int(value: object, low: int, high: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name} must be an integer in {low}..{high}")


_NO_RULES = BoardConfig("_")

# The embedded default (docs/protocol.md); a config file may replace it.
DEFAULT_BOARDS: tuple[BoardConfig, ...] = (
    BoardConfig("global", order="desc", operator="best", reset="never"),
    BoardConfig("weekly", order="desc", operator="best", reset="weekly"),
)
