"""The Valkey side of running matches as the admin API sees them: records and backfills."""

from __future__ import annotations

from typing import Any

import orjson

from domain.matchmaking.functions import Applied, BackfillClose, BackfillOpen
from domain.matchmaking.store import MatchmakingStore, PartitionKeys, code_of


class MatchStore:
    def __init__(self, store: MatchmakingStore) -> None:
        self._store = store

    async def read(self, match_id: str) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
        """The match record and its open backfill (or None); None if there is no match."""
        code = code_of(match_id)
        if code is None:
            return None
        key = PartitionKeys(code).match(match_id)
        raw = await self._store.read_one(key, "HMGET", key, "data", "bf")
        if raw[0] is None:
            return None
        return orjson.loads(raw[0]), (orjson.loads(raw[1]) if raw[1] else None)

    async def open_backfill(self, match_id: str, backfill: dict[str, Any]) -> bool:
        """Open (or replace) the match's backfill, confirmed; False if there is no match."""
        keys = PartitionKeys(code_of(match_id) or "0000000000")
        # Idempotent: the same backfill written twice is the same state.
        request = BackfillOpen(
            keys.match(match_id), keys.backfills, match_id, orjson.dumps(backfill)
        )
        done = await self._store.run(request, idempotent=True, confirm=True)
        return Applied.decode(done).applied

    async def close_backfill(self, match_id: str) -> bool:
        """Stop the match's backfill, confirmed; False if there is no match."""
        keys = PartitionKeys(code_of(match_id) or "0000000000")
        request = BackfillClose(keys.match(match_id), keys.backfills, match_id)
        done = await self._store.run(request, idempotent=True, confirm=True)
        return Applied.decode(done).applied
