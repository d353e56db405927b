"""Pure leaderboard rules: scores, operators, tie encoding, merging and who a write moved.

Every board is stored "smaller is better": desc boards keep the negated score. An entry's
sorted-set member is its 8-byte big-endian stamp (the microsecond it reached its score)
followed by its player id, so the sorted set's own (score, member) order is the board
order, ties included. `Position` orders exactly the same way.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any, TypeVar

import orjson

from domain.errors import BadRequest, Conflict, DomainError, Forbidden, RateLimited
from domain.ids import require_id
from domain.leaderboards.models import BoardConfig, ChangeEvent, Operator, Order, Position

# Every integer up to 2^53 is a double; scores beyond it would not compare exactly.
MAX_SCORE = float(2**53)
MAX_LIMIT = 100
MAX_RADIUS = 50
MAX_PLAYER_IDS = 100
MAX_METADATA_BYTES = 1024
STAMP_BYTES = 8

T = TypeVar("T")


def require_score(value: object, field: str = "score") -> float:
    """A finite number within ±2^53 as a float (every such integer is exact)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{field} must be a number")
    if isinstance(value, int) and abs(value) > 2**53:
        raise BadRequest(f"{field} must be within ±2^53")
    number = float(value)
    if not abs(number) <= MAX_SCORE:  # also false for NaN
        raise BadRequest(f"{field} must be a finite number within ±2^53")
    return number + 0.0  # -0.0 becomes 0.0


def require_int(value: object, low: int, high: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{field} must be an integer in {low}..{high}")
    return value


def require_player_ids(values: object, limit: int = MAX_PLAYER_IDS) -> list[str]:
    """Distinct valid ids in their first order; at most `limit`."""
    if not isinstance(values, list | tuple):
        raise BadRequest("player_ids must be a list")
    if len(values) > limit:
        raise BadRequest(f"player_ids may hold at most {limit} ids")
    return list(dict.fromkeys(require_id(value, "player_ids") for value in values))


def encode_metadata(metadata: object) -> bytes | None:
    """Metadata as stored: compact JSON of an object of at most 1 KiB, or None."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise BadRequest("metadata must be an object")
    try:
        raw = orjson.dumps(metadata)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise BadRequest("metadata must be a JSON object") from exc
    if len(raw) > MAX_METADATA_BYTES:
        raise BadRequest(f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON")
    return raw


def decode_metadata(raw: bytes | None) -> dict[str, Any] | None:
    if not raw:
        return None
    value = orjson.loads(raw)
    return value if isinstance(value, dict) else None


def normalise(order: Order, score: float) -> float:
    """The stored score: smaller is better on every board."""
    return (-score if order == "desc" else score) + 0.0


def denormalise(order: Order, stored: float) -> float:
    """The score as players see it; integral scores come back as `int` for the wire."""
    score = (-stored if order == "desc" else stored) + 0.0
    return int(score) if score.is_integer() else score


def apply_operator(op: Operator, order: Order, old: float | None, value: float) -> float:
    """The player-facing score after `op` with `value`, given the stored one (or None).

    This is the reference for the server-side function; `incr`/`decr` whose exact sum
    would leave ±2^53 are a `BadRequest`, also when the double sum rounds back onto
    ±2^53 (2^53 + 1 is no double).
    """
    if op == "set" or old is None and op == "best":
        return value
    if op == "best":
        assert old is not None
        return value if normalise(order, value) < normalise(order, old) else old
    base = 0.0 if old is None else old
    step = value if op == "incr" else -value
    if not abs(Fraction(base) + Fraction(step)) <= MAX_SCORE:
        raise BadRequest("the score would leave ±2^53")
    return base + step + 0.0


def encode_member(stamp: int, player_id: str) -> bytes:
    return stamp.to_bytes(STAMP_BYTES, "big") + player_id.encode()


def decode_member(member: bytes) -> tuple[int, str]:
    if len(member) <= STAMP_BYTES:
        raise ValueError("a member holds a stamp and a player id")
    return int.from_bytes(member[:STAMP_BYTES], "big"), member[STAMP_BYTES:].decode()


def position_of(stored: float, member: bytes) -> Position:
    stamp, player_id = decode_member(member)
    return Position(stored + 0.0, stamp, player_id)


def member_of(position: Position) -> bytes:
    return encode_member(position.stamp, position.player_id)


def merge(
    sources: Iterable[Sequence[T]],
    key: Callable[[T], Any],
    limit: int | None = None,
) -> list[T]:
    """The exact k-way merge of sources sorted by `key`, cut to `limit`."""
    merged: Iterator[T] = heapq.merge(*sources, key=key)
    return list(merged if limit is None else itertools.islice(merged, limit))


def first_fetch(limit: int, sub_boards: int) -> int:
    """How many entries a page asks of each sub-board in its first round.

    Players spread over sub-boards by a hash, so a page's `limit` entries come from each
    in about equal shares; asking each for 1.5 times its share plus 4 covers all but a
    few pages in a thousand at limit 100 over 6 sub-boards (a binomial tail), at under a
    third of the cost of asking each for `limit`. `cut_short` finds the rest.
    """
    if sub_boards <= 1:
        return limit
    return min(limit, -(-3 * limit // (2 * sub_boards)) + 4)


def cut_short(
    fetched: Sequence[Sequence[T]],
    remaining: Sequence[int],
    page: Sequence[T],
    limit: int,
    key: Callable[[T], Any],
) -> list[int]:
    """The sub-boards whose entries not fetched yet might belong on `page`.

    `fetched[i]` is sub-board i's first entries after the cursor, `remaining[i]` how many
    it has there in all, `page` the first `limit` of their merge. A sub-board that has
    more than it returned matters only if the page is not full or its last fetched
    entry made the page: everything it did not return sorts after that entry.
    """
    last = key(page[-1]) if len(page) >= limit else None
    return [
        i
        for i, entries in enumerate(fetched)
        if entries and len(entries) < remaining[i] and (last is None or key(entries[-1]) <= last)
    ]


def rank_shift(event: ChangeEvent, position: Position) -> int:
    """How much the rank of the entry at `position` moved because of `event`: -1, 0 or +1.

    The mover counted against `position` once before (at `old`) and once after (at
    `new`); the rank changes when exactly one of the two is better than `position`.
    Reset and delete events move every rank; callers re-query on those.
    """
    if event.kind in ("reset", "delete") or event.player_id == position.player_id:
        return 0
    before = event.old is not None and event.old < position
    after = event.new is not None and event.new < position
    return int(after) - int(before)


def moved_subscribers(event: ChangeEvent, positions: Mapping[str, Position]) -> set[str]:
    """Of the watched players (id to last known position), those whose rank `event` may
    have moved: every other player with a non-zero `rank_shift`, and the writer itself
    when its position changed (its new rank is not knowable locally: re-query it)."""
    moved: set[str] = set()
    for player_id, position in positions.items():
        if player_id == event.player_id:
            if event.old != event.new:
                moved.add(player_id)
        elif rank_shift(event, position):
            moved.add(player_id)
    return moved


def touches_top(event: ChangeEvent, last_of_top: Position | None, top_is_full: bool) -> bool:
    """Whether `event` may change a top-N list whose N-th entry is `last_of_top`.

    An entry that enters, leaves or moves within the top changes it; one that stays
    below it does not. With fewer than N entries every write touches the top.
    """
    if event.kind in ("reset", "delete") or not top_is_full or last_of_top is None:
        return True
    return any(p is not None and p <= last_of_top for p in (event.old, event.new))


# Why a write was refused (the reasons leaderboards.lua answers, plus `full`), with the
# error the caller gets. Reasons are also the `reason` label of the refusal metric.
REFUSALS: dict[str, tuple[type[DomainError], str]] = {
    "client_writes": (Forbidden, "board {board} takes scores only from trusted servers"),
    "not_started": (Forbidden, "board {board} does not take scores before its start_at"),
    "ended": (Forbidden, "board {board} ended at its end_at; its results stay readable"),
    "below_min": (BadRequest, "the score is below min_score of board {board}"),
    "above_max": (BadRequest, "the score is above max_score of board {board}"),
    "step": (BadRequest, "the step is larger than max_step of board {board}"),
    "not_joined": (Forbidden, "join board {board} first (board.join)"),
    "attempts": (Forbidden, "no attempts left on board {board} in this period"),
    "rate": (RateLimited, "too many writes to board {board} this minute"),
    "full": (Conflict, "board {board} has max_players players"),
}


def refusal_error(board: str, reason: str) -> DomainError:
    """The error a refused write answers with."""
    kind, message = REFUSALS[reason]
    return kind(message.format(board=board))


def window_refusal(config: BoardConfig, now: float) -> str | None:
    """`ended` once the board's window closed (joining then is refused too), else None.

    Writes are accepted while start_at <= now < end_at; a player may join before start_at.
    """
    if config.end_at is not None and now >= config.end_at:
        return "ended"
    return None
