"""Board periods: which period a moment falls in, its label, and how long it is kept.

A period's label is part of every key of its entries, so a daily, weekly or monthly board
starts empty at the boundary with no job that could be missed. A reset inside a period
starts a new label in the same period: `2026-W48` becomes `2026-W48.1`, `all` becomes
`all.1`; the earlier label stays readable as the archive.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta

from domain.errors import BadRequest
from domain.leaderboards.models import Board, Reset

NEVER_PERIOD = "all"
_LABEL_PATTERNS: dict[str, re.Pattern[str]] = {
    "never": re.compile(r"all(\.[1-9][0-9]{0,8})?"),
    "daily": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(\.[1-9][0-9]{0,8})?"),
    "weekly": re.compile(r"[0-9]{4}-W[0-9]{2}(\.[1-9][0-9]{0,8})?"),
    "monthly": re.compile(r"[0-9]{4}-[0-9]{2}(\.[1-9][0-9]{0,8})?"),
}


def _utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def period_id(reset: Reset, at: float) -> str:
    """The id of the period containing `at` (UTC): `all`, `2026-11-26`, `2026-W48`, `2026-11`."""
    moment = _utc(at)
    if reset == "daily":
        return moment.strftime("%Y-%m-%d")
    if reset == "weekly":
        year, week, _ = moment.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if reset == "monthly":
        return moment.strftime("%Y-%m")
    return NEVER_PERIOD


def period_end(reset: Reset, at: float) -> float | None:
    """When the period containing `at` ends (the next one starts); None for `never`."""
    day = _utc(at).date()
    if reset == "daily":
        return _midnight(day + timedelta(days=1))
    if reset == "weekly":
        return _midnight(day + timedelta(days=7 - day.weekday()))
    if reset == "monthly":
        first_next = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return _midnight(first_next)
    return None


def live_label(board: Board, at: float) -> str:
    """The label new writes of `board` go to at `at`."""
    base = period_id(board.config.reset, at)
    if board.reset_period == base and board.reset_count > 0:
        return f"{base}.{board.reset_count}"
    return base


def key_ttl_s(board: Board, at: float) -> int:
    """TTL for keys created now under the live label; 0 means no expiry (until a reset)."""
    end = period_end(board.config.reset, at)
    if end is None:
        return 0
    return max(1, math.ceil(end - at) + board.config.retention_s)


def require_label(board: Board, label: object) -> str:
    """`label` if it names a period of this board's kind, else `BadRequest`."""
    pattern = _LABEL_PATTERNS[board.config.reset]
    if (
        not isinstance(label, str)
        or pattern.fullmatch(label) is None
        or not _on_calendar(board.config.reset, label.partition(".")[0])
    ):
        raise BadRequest(f"period is not a {board.config.reset} period of board {board.name}")
    return label


def _on_calendar(reset: Reset, base: str) -> bool:
    """Whether a label's period id names a real day, ISO week or month (`2026-13-01`,
    `2026-W60` and `2026-00` do not)."""
    try:
        if reset == "daily":
            date.fromisoformat(base)
        elif reset == "weekly":
            year, week = base.split("-W")
            date.fromisocalendar(int(year), int(week), 1)
        elif reset == "monthly":
            year, month = base.split("-")
            date(int(year), int(month), 1)
    except ValueError:
        return False
    return True


# Labels a reset adds within one period (`<base>.1`, `<base>.2`...) are probed up to this.
MAX_RESETS_PROBED = 64
_DAY_S = 86400


def kept_bases(reset: Reset, retention_s: int, at: float) -> list[str]:
    """The ids of the periods whose entries may still be kept at `at`, newest first: the
    live one and those that ended less than `retention_s` ago (their keys' TTL)."""
    bases: list[str] = []
    moment = at
    # One step a day visits every daily, weekly and monthly period in the window.
    while True:
        base = period_id(reset, moment)
        end = period_end(reset, moment)
        if end is not None and end + retention_s <= at:
            break
        if base not in bases:
            bases.append(base)
        if end is None:
            break
        moment -= _DAY_S
    return bases


def period_start(reset: Reset, at: float) -> float | None:
    """When the period containing `at` started; None for `never`."""
    day = _utc(at).date()
    if reset == "daily":
        return _midnight(day)
    if reset == "weekly":
        return _midnight(day - timedelta(days=day.weekday()))
    if reset == "monthly":
        return _midnight(date(day.year, day.month, 1))
    return None


def period_bounds(board: Board, label: str) -> tuple[float | None, float | None]:
    """(start, end) of the period a label belongs to, where known: the calendar period of
    daily, weekly and monthly boards (narrowed to the board's window), else the window."""
    base = label.split(".", 1)[0]
    start: float | None = board.config.start_at
    end: float | None = board.config.end_at
    if board.config.reset != "never":
        at = _base_moment(board.config.reset, base)
        if at is not None:
            first, last = period_start(board.config.reset, at), period_end(board.config.reset, at)
            start = first if start is None or first is None else max(start, first)
            end = last if end is None or last is None else min(end, last)
    return start, end


def _base_moment(reset: Reset, base: str) -> float | None:
    try:
        if reset == "daily":
            return datetime.strptime(base, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        if reset == "weekly":
            moment = datetime.strptime(base + "-1", "%G-W%V-%u").replace(tzinfo=UTC)
            return moment.timestamp()
        if reset == "monthly":
            return datetime.strptime(base, "%Y-%m").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
    return None


# Ended periods are looked for at most this far back (a worker down for longer finds the
# ends of the last ones kept only).
_MAX_ENDS_BACK = 400


def ended_periods(board: Board, now: float) -> list[tuple[str, float, str]]:
    """(period id, ended_at, reason) of each period of `board` that has ended by `now`
    and whose entries are still kept: the tournament's window closed (`end_at`) and
    calendar periods rolled over (`rollover`) since the board was created. Newest first.

    These are period ids (`2026-11-26`, `all`), not labels: which label of the period
    ended (after resets in it, `2026-11-26.2`) is resolved where the end is claimed, from
    the labels that resets ended. A period that ended before the board existed, or that
    did not end before `end_at` (the window's end is its end), is left out."""
    found: list[tuple[str, float, str]] = []
    config = board.config
    if config.end_at is not None and config.end_at <= now:
        base = period_id(config.reset, config.end_at - 1e-3)
        found.append((base, float(config.end_at), "end_at"))
    if config.reset == "never":
        return found
    start = period_start(config.reset, now)
    for _ in range(_MAX_ENDS_BACK):
        assert start is not None
        moment = start - 1.0
        end, start = start, period_start(config.reset, moment)
        if end + config.retention_s <= now or end <= board.created_at:
            break
        if config.end_at is not None and end >= config.end_at:
            continue
        found.append((period_id(config.reset, moment), end, "rollover"))
    return found
