"""The wire messages as the load test reads them: replies, pushes and their timing.

Pure functions, no Locust and no gevent: the unit tests import this module directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Pushes whose lag (server timestamp `ts` to receipt) the load test reports.
TIMED_PUSHES = frozenset({"rank.changed", "board.top", "match.found"})
# Pushes that answer a matchmaking ticket.
TICKET_PUSHES = frozenset({"match.found", "match.expired"})


def push_lag_ms(push: dict[str, Any], received_ms: float) -> float | None:
    """Milliseconds from the server's `ts` (Unix ms) to `received_ms`; None without `ts`.

    Both clocks must be the same or synchronised: on one machine they are. A small negative
    difference (clock granularity) counts as zero.
    """
    ts = push.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        return None
    return max(0.0, received_ms - float(ts))


def push_stat_name(push: dict[str, Any]) -> str:
    """The name a push is reported under: its event, flagged when it carries no `ts`."""
    event = str(push.get("event"))
    return event if "ts" in push else f"{event} (no ts)"


def op_is_known(reply: dict[str, Any]) -> bool:
    """False only for the server's "unknown op" answer to a probe of that op."""
    if reply.get("ok") is True:
        return True
    message = str((reply.get("error") or {}).get("message", ""))
    return "unknown op" not in message.lower()


@dataclass(frozen=True)
class FinishedMatch:
    match_id: str
    teams: tuple[tuple[str, ...], ...]


def match_from_push(push: dict[str, Any]) -> FinishedMatch | None:
    """The match of a `match.found` push, or None if the push is malformed."""
    match_id, teams = push.get("match_id"), push.get("teams")
    if not isinstance(match_id, str) or not isinstance(teams, list) or not teams:
        return None
    if not all(isinstance(team, list) for team in teams):
        return None
    return FinishedMatch(match_id, tuple(tuple(str(p) for p in team) for team in teams))


def reporter_of(match: FinishedMatch) -> str:
    """The one player of `match` who hands it to a game server (the lowest player id).

    One reporter per match means a match played by users of two Locust processes is
    still reported exactly once.
    """
    return min(player for team in match.teams for player in team)
