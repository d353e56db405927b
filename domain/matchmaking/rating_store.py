"""The Valkey side of ratings, match records, results and players' current matches."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson

from domain.matchmaking.functions import Applied, NoteMatch, ReleasePlayer, Saved, SaveResult
from domain.matchmaking.models import Match
from domain.matchmaking.ratings import DEFAULT_RATING, Rating
from domain.matchmaking.store import (
    RATINGS_KEY,
    MatchmakingStore,
    PartitionKeys,
    code_of,
    player_history_key,
    player_match_key,
    result_key,
)
from domain.storage.resp import text
from domain.storage.shard_calls import Call


def encode_rating(rating: Rating) -> str:
    return f"{rating.mu!r} {rating.sigma!r}"


def decode_rating(raw: bytes | str | None) -> Rating:
    if not raw:
        return DEFAULT_RATING
    mu, sigma = text(raw).split()
    return Rating(float(mu), float(sigma))


def match_record(
    match: Match,
    tickets: Sequence[tuple[str, Sequence[str]]],
    *,
    server: Any = None,
    properties: dict[str, Any] | None = None,
    skill: float = 0.0,
) -> dict[str, Any]:
    """The match record; `tickets` pairs each ticket id with its players, for the pushes.

    `properties`: what each player's ticket carries into `match.found`; `skill`: the mean
    rating mu of the players, which a backfill's tickets are compared with.
    """
    return {
        "match_id": match.match_id,
        "queue": match.queue,
        "teams": [list(t) for t in match.teams],
        "tickets": [[ticket_id, list(players)] for ticket_id, players in tickets],
        "p": list(match.win_probabilities),
        "region": match.region,
        "created": match.created_at,
        "server": server,
        "properties": properties or {},
        "skill": skill,
    }


def encode_match(match: Match, tickets: Sequence[tuple[str, Sequence[str]]]) -> bytes:
    return orjson.dumps(match_record(match, tickets))


def decode_match(data: bytes | str) -> Match:
    raw = orjson.loads(data)
    return Match(
        match_id=raw["match_id"],
        queue=raw["queue"],
        teams=tuple(tuple(t) for t in raw["teams"]),
        tickets=tuple(t[0] for t in raw["tickets"]),
        created_at=raw["created"],
        win_probabilities=tuple(raw["p"]),
        region=raw["region"],
    )


class RatingStore:
    def __init__(self, store: MatchmakingStore) -> None:
        self._store = store

    async def raw_ratings(self, player_ids: Sequence[str]) -> list[str]:
        """Each player's stored rating as text, '' where none is stored yet."""
        if not player_ids:
            return []
        raw = await self._store.read_one(RATINGS_KEY, "HMGET", RATINGS_KEY, *player_ids)
        return [text(r) if r else "" for r in raw]

    async def ratings(self, player_ids: Sequence[str]) -> list[Rating]:
        return [decode_rating(r) for r in await self.raw_ratings(player_ids)]

    async def match(self, match_id: str) -> Match | None:
        code = code_of(match_id)
        if code is None:
            return None
        key = PartitionKeys(code).match(match_id)
        raw = await self._store.read_one(key, "HGET", key, "data")
        return None if raw is None else decode_match(raw)

    async def result(self, match_id: str) -> dict[str, Any] | None:
        key = result_key(match_id)
        raw = await self._store.read_one(key, "GET", key)
        return None if raw is None else dict(orjson.loads(raw))

    async def save_result(
        self,
        match_id: str,
        players: Sequence[str],
        read: Sequence[str],
        new: Sequence[Rating],
        result: dict[str, Any],
        ttl_ms: int,
    ) -> tuple[int, dict[str, Any] | None]:
        """(1, result) applied; (0, earlier result) rated before; (2, None) ratings moved."""
        request = SaveResult(
            RATINGS_KEY,
            result_key(match_id),
            ttl_ms,
            orjson.dumps(result),
            tuple(players),
            tuple(read),
            tuple(encode_rating(r) for r in new),
        )
        # Idempotent: a repeat finds the recorded result and answers it again.
        saved = Saved.decode(await self._store.run(request, idempotent=True, confirm=True))
        return saved.status, saved.result

    async def mark_in_match(
        self, pairs: Sequence[tuple[str, str]], ttl_ms: int, now_ms: int, history_ms: int
    ) -> None:
        """Record each (player, match) as the player's current match, and note the match
        in the player's history for `history_ms` (for erasure), all at once."""
        await asyncio.gather(
            *(
                self._apply(
                    NoteMatch(
                        player_match_key(player_id),
                        player_history_key(player_id),
                        match_id,
                        ttl_ms,
                        now_ms,
                        history_ms,
                    )
                )
                for player_id, match_id in pairs
            )
        )

    async def clear_in_match(self, player_ids: Sequence[str], match_id: str) -> None:
        """Only where the player's current match is still this one."""
        await asyncio.gather(
            *(self._apply(ReleasePlayer(player_match_key(p), match_id)) for p in player_ids)
        )

    async def _apply(self, request: NoteMatch | ReleasePlayer) -> None:
        Applied.decode(await self._store.run(request, idempotent=True))

    async def forget(self, player_id: str) -> None:
        """Drop the player's rating (erasure), confirmed; their current-match pointer goes
        with their history (HistoryStore.forget)."""
        await self._store.command(
            RATINGS_KEY, "HDEL", RATINGS_KEY, player_id, idempotent=True, confirm=True
        )

    async def in_match(self, player_ids: Sequence[str]) -> set[str]:
        keys = [player_match_key(p) for p in dict.fromkeys(player_ids)]
        found = await self._store.read([Call(k, ("EXISTS", k)) for k in keys])
        return {p for p, n in zip(dict.fromkeys(player_ids), found, strict=True) if n}
