"""Delivering what a commit queued: current-match markers and the pushes to players."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import Any

import orjson

from domain.clock import Clock
from domain.matchmaking.limits import MatchmakingLimits
from domain.matchmaking.ports import MatchNotifier
from domain.matchmaking.rating_store import RatingStore
from domain.matchmaking.redaction import ERASED

log = logging.getLogger(__name__)


def found_events(
    record: dict[str, Any],
    ts: int,
    tickets: Sequence[Sequence[Any]] | None = None,
    backfill: bool = False,
) -> list[tuple[list[str], dict[str, Any]]]:
    """One `match.found` per ticket (of the record, or `tickets` added by a backfill),
    addressed to that ticket's players."""
    return [
        (
            list(players),
            {
                "event": "match.found",
                "match_id": record["match_id"],
                "queue": record["queue"],
                "teams": record["teams"],
                "ticket": ticket_id,
                "server": record.get("server"),
                "backfill": backfill,
                "properties": record.get("properties", {}),
                "ts": ts,
            },
        )
        for ticket_id, players in (record["tickets"] if tickets is None else tickets)
    ]


class Delivery:
    def __init__(
        self,
        ratings: RatingStore,
        notifier: MatchNotifier,
        clock: Clock,
        limits: MatchmakingLimits,
    ) -> None:
        self._ratings = ratings
        self._notifier = notifier
        self._clock = clock
        self._limits = limits

    async def deliver(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Mark matched players as in a match, then push; a failed push is logged, not retried.

        Runs again for the same items only after a crash between the commit and the
        outbox cleanup, so a player may (rarely) get a push twice, never zero times.
        """
        if not items:
            return
        in_match: list[tuple[str, str]] = []
        sends: list[Awaitable[None]] = []
        ts = round(self._clock.now() * 1000)
        for kind, payload in items:
            record = orjson.loads(payload)
            if kind == "f":
                in_match += [(p, record["match_id"]) for team in record["teams"] for p in team]
                sends += [self._notifier.match_found(p, e) for p, e in found_events(record, ts)]
            elif kind == "b":  # a backfill: only the players it added are told
                match, added = record["match"], record["added"]
                in_match += [(p, match["match_id"]) for _, players in added for p in players]
                events = found_events(match, ts, added, backfill=True)
                sends += [self._notifier.match_found(p, e) for p, e in events]
            else:
                event = {"event": "match.expired", "ticket": record["ticket"], "ts": ts}
                sends.append(self._notifier.ticket_expired(record["players"], event))
        try:
            await self._ratings.mark_in_match(
                [(p, m) for p, m in in_match if p != ERASED],
                round(self._limits.in_match_s * 1000),
                ts,
                round(self._limits.result_ttl_s * 1000),
            )
        except Exception:  # presence is advisory; the pushes matter more
            log.exception("could not mark %d players as in a match", len(in_match))
        for result in await asyncio.gather(*sends, return_exceptions=True):
            if isinstance(result, BaseException):
                log.error("a matchmaking push failed", exc_info=result)
