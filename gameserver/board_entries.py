"""Board entries as the wire shows them: each with its player's display name.

Leaderboards know players by id only; names come from the accounts feature through
`DisplayNames`, read for a whole page at once (one batched read, not one per entry).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from domain.leaderboards.models import RankedEntry


class DisplayNames(Protocol):
    """Display names by player id (None where a player has none); AccountService's."""

    async def display_names(self, player_ids: Sequence[str]) -> dict[str, str | None]: ...


async def names_of(names: DisplayNames | None, entries: Sequence[RankedEntry]) -> list[str | None]:
    """The display name of each entry's player, in order, from one batched read."""
    if names is None or not entries:
        return [None] * len(entries)
    found = await names.display_names([entry.player_id for entry in entries])
    return [found.get(entry.player_id) for entry in entries]


def entry_dicts(
    entries: Sequence[RankedEntry], names: Sequence[str | None]
) -> list[dict[str, Any]]:
    return [
        {
            "rank": entry.rank,
            "player_id": entry.player_id,
            "display_name": name,
            "score": entry.score,
            "metadata": entry.metadata,
        }
        for entry, name in zip(entries, names, strict=True)
    ]


async def named_entries(
    names: DisplayNames | None, entries: Sequence[RankedEntry]
) -> list[dict[str, Any]]:
    return entry_dicts(entries, await names_of(names, entries))
