"""Parties as the gateway, matchmaking and account erasure see them.

Consent: nobody is in a party without accepting an invite of its leader, and a player is
in one party at most. A party lives on its own slot and each player's claim on theirs,
so joining takes two steps, each one function call:

1. claim the player (`party:{pl.<id>}`): refused while another claim holds them, that
   is while they are a member of the claimed party or the claim is young (rules.py);
2. take the seat (`party:{<id>}`): checks the invite, the size limit, and that the
   claim is younger than the claim limit, all in one call on the party's slot.

Why this cannot put a player in two parties: a member of a party always holds the claim
that party recorded for them (step 2 records it; only leaving, a kick or a stale claim
frees it). Two joins of one player race for the one claim key and one loses. A join
whose claim was replaced (because it looked dead: older than twice the limit) cannot
take its seat any more, as its claim is then older than the limit. The size limit and
the invite are checked and changed in the same call that adds the member, so eight
accepts racing for the last seat fill it once. A leave or a kick first removes the
member from the party and then frees their claim; a claim left behind by a crash between
the two no longer holds anyone (the player is not a member and the claim is old).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from domain.clock import Clock
from domain.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PartyNotFound,
    Unavailable,
    Unconfirmed,
)
from domain.ids import require_id
from domain.parties.functions import PartyChange
from domain.parties.ports import PartyEvents
from domain.parties.rules import (
    MAX_INVITES,
    MAX_MEMBERS,
    Party,
    PartyLimits,
    claim_holds,
    make_claim,
    new_party_id,
    parse_claim,
    require_party_id,
)
from domain.parties.store import PartyStore

log = logging.getLogger(__name__)


# Refusals of the party functions, as the errors the client sees.
_REFUSALS: dict[str, tuple[type[Exception], str]] = {
    "missing": (PartyNotFound, "no such party"),
    "not_member": (Forbidden, "only a member of the party may do this"),
    "not_leader": (Forbidden, "only the party's leader may do this"),
    "member": (Conflict, "already a member of the party"),
    "too_many_invites": (Conflict, f"a party holds at most {MAX_INVITES} pending invites"),
    "not_invited": (Forbidden, "no invite to this party, or it has expired"),
    "full": (Conflict, f"the party is full ({MAX_MEMBERS} players)"),
    "stale": (Unavailable, "the join took too long; try again"),
    "self": (BadRequest, "a leader leaves with party.leave"),
    "not_found": (NotFound, "no such member in the party"),
    "exists": (Conflict, "the party id is taken; try again"),
}


def _refuse(change: PartyChange) -> None:
    if change.status in ("ok", "disbanded"):
        return
    error, message = _REFUSALS[change.status]
    raise error(message)


class PartyService:
    def __init__(
        self,
        store: PartyStore,
        clock: Clock,
        events: PartyEvents | None = None,
        limits: PartyLimits | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._events = events
        self._limits = limits or PartyLimits()

    async def ensure_ready(self) -> None:
        await self._store.load_functions()

    def _now_ms(self) -> int:
        return round(self._clock.now() * 1000)

    @property
    def _claim_limit_ms(self) -> int:
        return round(self._limits.claim_limit_s * 1000)

    async def create(self, player_id: str) -> str:
        """A new party led by the caller; `Conflict` if they are in a party already."""
        require_id(player_id, "player_id")
        party_id = new_party_id()
        claim = await self._claim(player_id, party_id)
        change = await self._seat(
            player_id,
            claim,
            self._store.create(party_id, player_id, claim, self._now_ms(), self._claim_limit_ms),
        )
        await self._updated(change)
        return party_id

    async def invite(self, leader: str, party_id: object, invitee: object) -> None:
        """Invite a player (leader only); they get `party.invited` wherever they are."""
        party_id = require_party_id(party_id)
        invitee = require_id(invitee, "player_id")
        party = await self._member_view(leader, party_id)
        if party.leader != leader:
            raise Forbidden("only the party's leader may invite")
        if invitee in party.members:
            raise Conflict("already a member of the party")
        now_ms = self._now_ms()
        ttl_ms = round(self._limits.invite_ttl_s * 1000)
        # The party was read first, so a plainly refused invite writes nothing. The
        # invitee's record of invites is written before the invite, so that erasing
        # them finds every invite that may exist.
        await self._store.note_invite(invitee, party_id, ttl_ms)
        change = await self._store.invite(
            party_id, leader, invitee, now_ms, now_ms + ttl_ms, MAX_INVITES
        )
        _refuse(change)
        await self._push(
            [invitee], {"event": "party.invited", "party_id": party_id, "from": leader}
        )
        await self._updated(change)

    async def accept(self, player_id: str, party_id: object) -> None:
        """Join the party the player is invited to; `Conflict` if in another or full."""
        party_id = require_party_id(party_id)
        # Read first, so that a plainly refused accept never touches the player's claim.
        party = await self._store.party(party_id)
        if party is None:
            raise PartyNotFound("no such party")
        if player_id in party.members:
            raise Conflict("already a member of the party")
        if not party.is_invited(player_id, self._now_ms()):
            raise Forbidden("no invite to this party, or it has expired")
        if party.is_full():
            raise Conflict(f"the party is full ({MAX_MEMBERS} players)")
        claim = await self._claim(player_id, party_id)
        change = await self._seat(
            player_id,
            claim,
            self._store.accept(
                party_id, player_id, claim, self._now_ms(), self._claim_limit_ms, MAX_MEMBERS
            ),
        )
        await self._updated(change)

    async def decline(self, player_id: str, party_id: object) -> None:
        party_id = require_party_id(party_id)
        change = await self._store.decline(party_id, player_id, self._now_ms())
        _refuse(change)
        await self._updated(change)

    async def leave(self, player_id: str, party_id: object) -> None:
        """Leave; a leaving leader hands over to the longest member, the last disbands."""
        party_id = require_party_id(party_id)
        change = await self._store.leave(party_id, player_id, self._now_ms())
        _refuse(change)
        await self._removed(player_id, change)

    async def kick(self, leader: str, party_id: object, player_id: object) -> None:
        party_id = require_party_id(party_id)
        player_id = require_id(player_id, "player_id")
        change = await self._store.kick(party_id, leader, player_id, self._now_ms())
        _refuse(change)
        await self._removed(player_id, change)

    async def get(self, player_id: str, party_id: object) -> dict[str, Any]:
        """`leader`, `members`, `invited`: for members only (`Forbidden` for others)."""
        party = await self._member_view(player_id, party_id)
        return {
            "party_id": party.party_id,
            "leader": party.leader,
            "members": list(party.members),
            "invited": party.invited(self._now_ms()),
        }

    async def members_led_by(self, party_id: object, leader: str) -> tuple[str, ...]:
        """The party's members, if `leader` leads it (matchmaking's `party_id`)."""
        party = await self._member_view(leader, party_id)
        if party.leader != leader:
            raise Forbidden("only the party's leader may queue it")
        return party.members

    async def party_of(self, player_id: str) -> str | None:
        """The party the player is a member of, if any."""
        [claim] = await self._store.claims([player_id])
        if claim is None:
            return None
        party_id, _ = parse_claim(claim)
        party = await self._store.party(party_id)
        return party_id if party is not None and player_id in party.members else None

    async def remove_from_party(self, player_id: str) -> None:
        """Take the player out of their party as a leave would (a ban): a leader hands
        over to the longest member, the others get `party.updated`.

        Idempotent: a second call finds nothing left to do.
        """
        require_id(player_id, "player_id")
        [claim] = await self._store.claims([player_id])
        if claim is None:
            return
        party_id, _ = parse_claim(claim)
        change = await self._store.leave(party_id, player_id, self._now_ms())
        if change.status in ("ok", "disbanded"):
            await self._removed(player_id, change)
        else:
            await self._store.release(player_id, claim)

    async def forget_player(self, player_id: str) -> None:
        """Take the player out of their party and every pending invite (account erase).

        Idempotent: a second call finds nothing left to do.
        """
        await self.remove_from_party(player_id)
        for invited_to in await self._store.invited_by(player_id):
            change = await self._store.decline(invited_to, player_id, self._now_ms())
            if change.status == "ok":
                await self._updated(change)
        await self._store.drop_invite_record(player_id)

    async def _member_view(self, player_id: str, party_id: object) -> Party:
        """The party, read for one of its members: `Forbidden` for anyone else."""
        party_id = require_party_id(party_id)
        party = await self._store.party(party_id)
        if party is None:
            raise PartyNotFound("no such party")
        if player_id not in party.members:
            raise Forbidden("only a member of the party may do this")
        return party

    async def _claim(self, player_id: str, party_id: str) -> str:
        """Hold the player for `party_id`, unless another party holds them."""
        now_ms = self._now_ms()
        claim = make_claim(party_id, now_ms)
        holder = await self._store.claim(player_id, claim)
        if holder is None:
            return claim
        held_by = await self._store.party(parse_claim(holder)[0])
        if claim_holds(holder, player_id, held_by, now_ms, self._claim_limit_ms):
            raise Conflict("already in a party")
        # The holder no longer counts: take the claim unless another join beat us to it.
        if await self._store.claim(player_id, claim, holder) is not None:
            raise Conflict("already in a party")
        return claim

    async def _seat(
        self, player_id: str, claim: str, seating: Awaitable[PartyChange]
    ) -> PartyChange:
        """Run the call that seats the claimed player; free the claim if it is refused."""
        try:
            change = await seating
        except (Unconfirmed, asyncio.CancelledError):
            # The seat may be taken: the claim stays (a stale one frees itself).
            raise
        except BaseException:
            await self._release(player_id, claim)
            raise
        if change.status != "ok":
            await self._release(player_id, claim)
        _refuse(change)
        return change

    async def _release(self, player_id: str, claim: str | None) -> None:
        if claim is None:
            return
        try:
            await self._store.release(player_id, claim)
        except Exception:
            # The change is made; a claim left behind is old and no longer holds anyone.
            log.warning("could not free %s's party claim", player_id, exc_info=True)

    async def _removed(self, player_id: str, change: PartyChange) -> None:
        await self._release(player_id, change.removed_claim)
        if change.party is not None:
            await self._updated(change, also=[player_id])

    async def _updated(self, change: PartyChange, also: list[str] | None = None) -> None:
        party = change.party
        if party is None:
            return
        event = {
            "event": "party.updated",
            "party_id": party.party_id,
            "leader": party.leader,
            "members": list(party.members),
            "invited": party.invited(self._now_ms()),
        }
        await self._push([*party.members, *(also or [])], event)

    async def _push(self, player_ids: list[str], event: dict[str, Any]) -> None:
        if self._events is None:
            return
        try:
            await self._events.push(player_ids, event)
        except Exception:
            # The change is made and confirmed; a lost push must not turn it into an error.
            log.warning("could not push %s", event.get("event"), exc_info=True)
