"""Typed calls of the parties function library (parties.lua): for each function, a
request and a reply.

A request is a frozen dataclass of the function's key (the party's, or one of the
player's) and arguments, in the order the function's Lua header lists them; a reply's
`decode` reads what the function answered. A field is added in the function's Lua and
in its request or reply here, nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from domain.parties.rules import Invite, Party
from domain.storage.function_call import Applied, KeyCall
from domain.storage.resp import text


def decode_party(party_id: str, raw: bytes | str) -> Party:
    """A party as its key holds it (JSON)."""
    data = orjson.loads(raw)
    # Lua's cjson writes an empty object for an empty table, whatever it stood for.
    invites = data.get("i") or {}
    return Party(
        party_id=party_id,
        members=tuple(data["m"]),
        claims=dict(data.get("c") or {}),
        invites={p: Invite(int(until), str(by)) for p, (until, by) in invites.items()},
    )


@dataclass(frozen=True, slots=True)
class PartyChange:
    """What a party function did: its status, the party after it, a removed claim."""

    status: str
    party: Party | None
    removed_claim: str | None = None

    @classmethod
    def decode(cls, raw: Any, party_id: str) -> PartyChange:
        """The reply of a function on party `party_id` (the JSON does not hold its id)."""
        status, party, claim = raw
        return cls(
            text(status), decode_party(party_id, party) if party else None, text(claim) or None
        )


# A party's functions: KEYS the party.


@dataclass(frozen=True, slots=True)
class Create(KeyCall):
    """party_create: a new party led by `player`, who holds `claim`."""

    function: ClassVar[str] = "party_create"

    key: str
    player: str
    claim: str
    now_ms: int
    claim_limit_ms: int


@dataclass(frozen=True, slots=True)
class SendInvite(KeyCall):
    """party_invite: the leader invites `invitee` until `until_ms`."""

    function: ClassVar[str] = "party_invite"

    key: str
    leader: str
    invitee: str
    now_ms: int
    until_ms: int
    max_invites: int


@dataclass(frozen=True, slots=True)
class Accept(KeyCall):
    """party_accept: an invited `player`, holding `claim`, joins."""

    function: ClassVar[str] = "party_accept"

    key: str
    player: str
    claim: str
    now_ms: int
    claim_limit_ms: int
    max_members: int


@dataclass(frozen=True, slots=True)
class Decline(KeyCall):
    """party_decline: drop `player`'s invite."""

    function: ClassVar[str] = "party_decline"

    key: str
    player: str
    now_ms: int


@dataclass(frozen=True, slots=True)
class Leave(KeyCall):
    """party_leave: `player` leaves; the last one out deletes the party."""

    function: ClassVar[str] = "party_leave"

    key: str
    player: str
    now_ms: int


@dataclass(frozen=True, slots=True)
class Kick(KeyCall):
    """party_kick: the leader removes `player`."""

    function: ClassVar[str] = "party_kick"

    key: str
    leader: str
    player: str
    now_ms: int


# A player's functions: KEYS the player's claim, or their invite set.


@dataclass(frozen=True, slots=True)
class Claim(KeyCall):
    """party_claim: hold the player with `claim` if free, ours or `replaceable`."""

    function: ClassVar[str] = "party_claim"

    key: str
    claim: str
    replaceable: str  # a claim the caller found no longer holds the player, or ''


@dataclass(frozen=True, slots=True)
class Held:
    holder: str | None  # the claim that holds the player; None: ours now

    @classmethod
    def decode(cls, raw: Any) -> Held:
        return cls(text(raw) or None)


@dataclass(frozen=True, slots=True)
class Release(KeyCall):
    """party_release: drop the player's claim if it is `claim`."""

    function: ClassVar[str] = "party_release"

    key: str
    claim: str


# party_release's reply; applied False: another claim holds the player, or none.
Released = Applied


@dataclass(frozen=True, slots=True)
class NoteInvite(KeyCall):
    """party_note_invite: add the party to the player's invite set."""

    function: ClassVar[str] = "party_note_invite"

    key: str
    party_id: str
    ttl_ms: int


@dataclass(frozen=True, slots=True)
class Noted:
    @classmethod
    def decode(cls, raw: Any) -> Noted:
        return cls()
