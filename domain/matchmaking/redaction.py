"""What erasure leaves of a player in the matchmaking records other players share.

A match record, a party's ticket and a rated result name every player in them. Erasing
one player must not break the others' records (a match still has its teams' shapes and
gets its result), so their id is replaced where it stands in a list and their own
entries (their carried properties, their new rating) are dropped.
"""

from __future__ import annotations

from typing import Any

# Never a player id: ids match ^[A-Za-z0-9_.-]{1,64}$ (domain/ids.py).
ERASED = "(erased)"


def redacted(value: Any, player_id: str) -> Any:
    """`value` (decoded JSON) with `player_id` replaced by ERASED wherever it is a value,
    and every object entry keyed by it left out."""
    if isinstance(value, str):
        return ERASED if value == player_id else value
    if isinstance(value, list):
        return [redacted(item, player_id) for item in value]
    if isinstance(value, dict):
        return {k: redacted(v, player_id) for k, v in value.items() if k != player_id}
    return value
