"""Parties as values, and the pure rules the service and parties.lua both follow.

parties.lua enforces every rule that needs the party's current state (one function call
on the party's slot); the same rules stated here in Python are what the service reads a
party with, and what the unit tests pin down.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.errors import BadRequest

MAX_MEMBERS = 8
INVITE_TTL_S = 60.0
# Pending invites one party may hold at once (members do not count).
MAX_INVITES = 32

_PARTY_ID = re.compile(r"[0-9a-f]{16}")


def new_party_id() -> str:
    return secrets.token_hex(8)


def require_party_id(value: object) -> str:
    """A party id as `party.create` makes them (16 hex digits), else `BadRequest`."""
    if not isinstance(value, str) or _PARTY_ID.fullmatch(value) is None:
        raise BadRequest("party_id must be a party id as party.create returned it")
    return value


@dataclass(frozen=True, slots=True)
class Invite:
    until_ms: int
    inviter: str


@dataclass(frozen=True, slots=True)
class Party:
    party_id: str
    # Longest-standing first: the leader, then each member in the order they joined.
    members: tuple[str, ...]
    claims: Mapping[str, str] = field(default_factory=dict)
    invites: Mapping[str, Invite] = field(default_factory=dict)

    @property
    def leader(self) -> str:
        return self.members[0]

    def invited(self, now_ms: int) -> list[str]:
        """Players whose invite still runs, the oldest invite first."""
        live = [(i.until_ms, p) for p, i in self.invites.items() if i.until_ms > now_ms]
        return [p for _, p in sorted(live)]

    def is_invited(self, player_id: str, now_ms: int) -> bool:
        invite = self.invites.get(player_id)
        return invite is not None and invite.until_ms > now_ms

    def is_full(self) -> bool:
        return len(self.members) >= MAX_MEMBERS


def make_claim(party_id: str, now_ms: int) -> str:
    return f"{party_id} {now_ms}"


def parse_claim(claim: str) -> tuple[str, int]:
    """(party id, ms when claimed) of a claim; a malformed one is as old as can be."""
    party_id, _, at = claim.partition(" ")
    return party_id, int(at) if at.isdigit() else 0


def claim_holds(
    claim: str, player_id: str, party: Party | None, now_ms: int, limit_ms: int
) -> bool:
    """Whether `claim` still keeps `player_id` out of every other party.

    It does while the player is a member of the claimed party, and, while they are not
    (a join in progress, or one whose gateway died), for twice the claim limit: a party
    takes a member only within the limit by its joining gateway's clock, so the margin
    covers clocks of two gateways that differ by less than the limit.
    """
    party_id, at = parse_claim(claim)
    if party is not None and party.party_id == party_id and player_id in party.members:
        return True
    return now_ms - at <= 2 * limit_ms


@dataclass(frozen=True, slots=True)
class PartyLimits:
    # How long an invite may be accepted (the contract's 60 s; shorter in tests).
    invite_ttl_s: float = INVITE_TTL_S
    # A join claims the player, then takes its seat in the party; a claim whose seat is
    # not taken within this long belongs to a join that died and no longer counts.
    claim_limit_s: float = 5.0
