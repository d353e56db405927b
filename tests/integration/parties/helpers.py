"""Helpers of the party tests, shared with matchmaking's: a push recorder, a party maker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.parties.service import PartyService


class RecordingEvents:
    """PartyEvents: remembers every push and who it was for."""

    def __init__(self) -> None:
        self.pushed: list[tuple[list[str], dict[str, Any]]] = []

    async def push(self, player_ids: Sequence[str], event: dict[str, Any]) -> None:
        self.pushed.append((list(player_ids), event))

    def to(self, player_id: str, name: str) -> list[dict[str, Any]]:
        return [e for ps, e in self.pushed if player_id in ps and e["event"] == name]


async def party_of(parties: PartyService, leader: str, *members: str) -> str:
    """A party led by `leader` that `members` joined, in that order."""
    party_id = await parties.create(leader)
    for member in members:
        await parties.invite(leader, party_id, member)
        await parties.accept(member, party_id)
    return party_id
