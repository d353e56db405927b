"""The Valkey side of erasure in matchmaking: the records that name a player, redacted.

Every ticket a player joins and every match they play is noted in their history
(`player_history_key`, written with the claim and with the current-match pointer) until
the record's retention ends. Erasure follows it to each record: the player's own solo
ticket goes; a party's ticket, a match record and a result keep their shape with the
player redacted (domain/matchmaking/redaction.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from domain.errors import Unavailable
from domain.matchmaking.functions import Applied, ReplaceField, ReplaceValue
from domain.matchmaking.redaction import redacted
from domain.matchmaking.store import (
    MatchmakingStore,
    PartitionKeys,
    code_of,
    player_history_key,
    player_match_key,
    result_key,
)
from domain.storage.resp import text

# A record rewritten meanwhile (a backfill adding players, a result) is read again.
_REDACT_ATTEMPTS = 8


class HistoryStore:
    def __init__(self, store: MatchmakingStore) -> None:
        self._store = store

    async def records(self, player_id: str) -> tuple[list[str], list[str]]:
        """The ids of the tickets and of the matches still kept that name the player."""
        key = player_history_key(player_id)
        raw = await self._store.read_one(key, "ZRANGE", key, 0, -1)
        noted = [text(member) for member in raw]
        tickets = [n[2:] for n in noted if n.startswith("t:")]
        matches = [n[2:] for n in noted if n.startswith("m:")]
        return tickets, matches

    async def redact_ticket(self, ticket_id: str, player_id: str) -> None:
        """Delete the player's own solo ticket; redact them from a party's."""
        code = code_of(ticket_id)
        if code is None:
            return
        key = PartitionKeys(code).ticket(ticket_id)

        def solo(record: dict[str, Any]) -> bool:
            return bool(record.get("players") == [player_id])

        await self._redact(key, "data", player_id, drop_if=solo)

    async def redact_match(self, match_id: str, player_id: str) -> None:
        """Redact the player from the match record and from its result, if reported."""
        code = code_of(match_id)
        if code is None:
            return
        await self._redact(PartitionKeys(code).match(match_id), "data", player_id)
        await self._redact(
            result_key(match_id),
            None,
            player_id,
            what=f"the result of match {match_id}",
        )

    async def forget(self, player_id: str) -> None:
        """Drop the player's history and current-match pointer: one slot, one write."""
        history, pointer = player_history_key(player_id), player_match_key(player_id)
        await self._store.command(history, "DEL", history, pointer, idempotent=True, confirm=True)

    async def _redact(
        self,
        key: str,
        field: str | None,
        player_id: str,
        drop_if: Callable[[dict[str, Any]], bool] = lambda _: False,
        what: str | None = None,
    ) -> None:
        """Rewrite the JSON record at `key` (a hash's `field`, or the string itself with
        None) with the player redacted, or delete the key if `drop_if`; a record
        rewritten meanwhile is read again."""
        read = ("GET", key) if field is None else ("HGET", key, field)
        for _ in range(_REDACT_ATTEMPTS):
            raw = await self._store.read_one(key, *read)
            if raw is None:
                return
            record = orjson.loads(raw)
            if drop_if(record):
                await self._store.command(key, "DEL", key, idempotent=True, confirm=True)
                return
            new = orjson.dumps(redacted(record, player_id))
            if new == raw:
                return
            request = (
                ReplaceValue(key, raw, new) if field is None else ReplaceField(key, field, raw, new)
            )
            if Applied.decode(await self._store.run(request, idempotent=True, confirm=True)):
                return
        raise Unavailable(f"{what or key} kept changing; erase again")
