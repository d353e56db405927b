"""The Valkey side of parties: every key of the feature and the calls of parties.lua.

Keys (all under `party:`):
- `party:{<party id>}`: the party, one JSON string (members in order, their claims,
  pending invites); every change to it is one function call on its slot;
- `party:{pl.<player id>}`: the player's claim, '<party id> <ms>': the lock that keeps
  a player in one party at most;
- `party:{pl.<player id>}:inv`: the parties that invited the player in the last
  invite lifetime, so that forgetting a player finds their invites.

A party and its members' claims sit on different slots; domain/parties/service.py says
why taking the claim first and the party's seat second is safe. Every change a client is
told succeeded is confirmed by WAIT on the same connection before it returns. The
functions of parties.lua are called through their typed requests and replies
(functions.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

from domain.parties.functions import (
    Accept,
    Claim,
    Create,
    Decline,
    Held,
    Kick,
    Leave,
    Noted,
    NoteInvite,
    PartyChange,
    Release,
    Released,
    SendInvite,
    decode_party,
)
from domain.parties.rules import Party
from domain.storage.function_call import KeyCall
from domain.storage.library_store import LibraryStore
from domain.storage.resp import text
from domain.storage.shard_calls import DEFAULT_WRITES, Call, ShardCaller, WritePolicy

LIBRARY_CODE = resources.files("domain.parties").joinpath("parties.lua").read_text()


def party_key(party_id: str) -> str:
    return f"party:{{{party_id}}}"


def claim_key(player_id: str) -> str:
    return f"party:{{pl.{player_id}}}"


def invites_key(player_id: str) -> str:
    return f"party:{{pl.{player_id}}}:inv"


class PartyStore(LibraryStore):
    def __init__(self, storage: ShardCaller, *, writes: WritePolicy = DEFAULT_WRITES) -> None:
        super().__init__(storage, LIBRARY_CODE, writes)

    async def party(self, party_id: str) -> Party | None:
        key = party_key(party_id)
        [raw] = await self._caller.read([Call(key, ("GET", key))])
        return None if raw is None else decode_party(party_id, raw)

    async def claims(self, player_ids: Sequence[str]) -> list[str | None]:
        """The claim that holds each player, None where there is none."""
        calls = [Call(claim_key(p), ("GET", claim_key(p))) for p in player_ids]
        return [None if raw is None else text(raw) for raw in await self._caller.read(calls)]

    async def _change(self, request: KeyCall, party_id: str, *, idempotent: bool) -> PartyChange:
        return PartyChange.decode(await self._write(request, idempotent=idempotent), party_id)

    async def create(
        self, party_id: str, player_id: str, claim: str, now_ms: int, limit_ms: int
    ) -> PartyChange:
        request = Create(party_key(party_id), player_id, claim, now_ms, limit_ms)
        # Idempotent: a party with this random id led by this claim is this call's own.
        return await self._change(request, party_id, idempotent=True)

    async def invite(
        self, party_id: str, leader: str, invitee: str, now_ms: int, until_ms: int, max_invites: int
    ) -> PartyChange:
        key = party_key(party_id)
        request = SendInvite(key, leader, invitee, now_ms, until_ms, max_invites)
        # Idempotent: inviting again only renews the invite.
        return await self._change(request, party_id, idempotent=True)

    async def accept(
        self,
        party_id: str,
        player_id: str,
        claim: str,
        now_ms: int,
        limit_ms: int,
        max_members: int,
    ) -> PartyChange:
        request = Accept(party_key(party_id), player_id, claim, now_ms, limit_ms, max_members)
        # Idempotent: a member holding this very claim is this call's own earlier attempt.
        return await self._change(request, party_id, idempotent=True)

    async def decline(self, party_id: str, player_id: str, now_ms: int) -> PartyChange:
        request = Decline(party_key(party_id), player_id, now_ms)
        # Not idempotent: a second run would find no invite and say so.
        return await self._change(request, party_id, idempotent=False)

    async def leave(self, party_id: str, player_id: str, now_ms: int) -> PartyChange:
        request = Leave(party_key(party_id), player_id, now_ms)
        # Not idempotent: a second run would find the player gone and say so.
        return await self._change(request, party_id, idempotent=False)

    async def kick(self, party_id: str, leader: str, player_id: str, now_ms: int) -> PartyChange:
        request = Kick(party_key(party_id), leader, player_id, now_ms)
        return await self._change(request, party_id, idempotent=False)

    async def claim(self, player_id: str, claim: str, replaceable: str = "") -> str | None:
        """Hold the player with `claim`; on failure, the claim that holds them."""
        request = Claim(claim_key(player_id), claim, replaceable)
        # Confirmed: a claim lost in a failover would let the player into two parties.
        return Held.decode(await self._write(request, idempotent=True)).holder

    async def release(self, player_id: str, claim: str) -> None:
        request = Release(claim_key(player_id), claim)
        Released.decode(await self._write(request, idempotent=True))

    async def note_invite(self, player_id: str, party_id: str, ttl_ms: int) -> None:
        request = NoteInvite(invites_key(player_id), party_id, ttl_ms)
        Noted.decode(await self._write(request, idempotent=True))

    async def invited_by(self, player_id: str) -> list[str]:
        """The parties that invited the player within the last invite lifetime."""
        key = invites_key(player_id)
        [ids] = await self._caller.read([Call(key, ("SMEMBERS", key))])
        return sorted(text(i) for i in ids)

    async def drop_invite_record(self, player_id: str) -> None:
        key = invites_key(player_id)
        await self._caller.write(Call(key, ("DEL", key)), *self._wait, idempotent=True)
