"""The Valkey side of accounts: every key and function of the feature lives here.

An account is one hash, `acct:{<player>}`, in its player's slot (the session hash
`sess:{<player>}` shares it). A credential is one hash, `acct:cred:{<digest>}`, in the
slot of its keyed hash, so a login resolves its credential in ONE call to one shard
(`cred_resolve`, which also registers a first use). The functions are in accounts.lua,
called through their typed requests and replies (functions.py).
Every call goes through the process's one storage object (domain/storage/shard_calls.py).
Writes a client is told succeeded wait for a replica like every store's.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any

from domain.accounts.functions import (
    AccountBan,
    AccountEnsure,
    AccountErase,
    AccountLink,
    AccountSetName,
    AccountUnban,
    AccountUnlink,
    Applied,
    Claimed,
    CredClaim,
    CredRelease,
    CredResolve,
    Ensured,
    Erased,
    Linked,
    Resolved,
    Unlinked,
    UnlinkRefused,
    decode_ban,
)
from domain.accounts.models import Account, CredentialKind, Link
from domain.storage.library_store import LibraryStore
from domain.storage.resp import text
from domain.storage.shard_calls import DEFAULT_WRITES, Call, ShardCaller, WritePolicy

_ACCOUNT_KEY = "acct:{{{player}}}"
_CREDENTIAL_KEY = "acct:cred:{{{digest}}}"
_LINK_PREFIX = "l:"
_DEVICE_FIELD = "l:device"
_PROVIDER_FIELD = "l:provider:"
_NAME_FIELD = "name"

LIBRARY_CODE = resources.files("domain.accounts").joinpath("accounts.lua").read_text()


def account_key(player_id: str) -> str:
    return _ACCOUNT_KEY.format(player=player_id)


def credential_key(digest: str) -> str:
    return _CREDENTIAL_KEY.format(digest=digest)


def link_field(link: Link) -> str:
    if link.kind is CredentialKind.DEVICE:
        return _DEVICE_FIELD
    return _PROVIDER_FIELD + (link.provider or "")


def _link_of(field: str) -> Link | None:
    if field == _DEVICE_FIELD:
        return Link(CredentialKind.DEVICE)
    if field.startswith(_PROVIDER_FIELD):
        return Link(CredentialKind.PROVIDER, field[len(_PROVIDER_FIELD) :])
    return None


class AccountStore(LibraryStore):
    def __init__(self, storage: ShardCaller, *, writes: WritePolicy = DEFAULT_WRITES) -> None:
        super().__init__(storage, LIBRARY_CODE, writes)

    async def _fields(self, player_id: str) -> Any:
        key = account_key(player_id)
        return await self._caller.read_one(key, "HGETALL", key)

    async def resolve_credential(self, digest: str, candidate: str, now: float) -> Resolved:
        """The player a credential belongs to; a first use registers it for `candidate`."""
        request = CredResolve(credential_key(digest), candidate, now)
        return Resolved.decode(await self._write(request, idempotent=True))

    async def claim_credential(self, digest: str, player_id: str, now: float) -> str:
        """The credential's owner once claimed for `player_id` (another id: not theirs)."""
        request = CredClaim(credential_key(digest), player_id, now)
        return Claimed.decode(await self._write(request, idempotent=True)).owner

    async def release_credential(self, digest: str, player_id: str) -> None:
        request = CredRelease(credential_key(digest), player_id)
        Applied.decode(await self._write(request, idempotent=True))

    async def ensure_account(
        self,
        player_id: str,
        now: float,
        name: str | None,
        *,
        rename: bool,
        link: Link | None,
        digest: str,
    ) -> Ensured:
        field = "" if link is None else link_field(link)
        request = AccountEnsure(account_key(player_id), now, name or "", rename, field, digest)
        return Ensured.decode(await self._write(request, idempotent=True))

    async def account(self, player_id: str) -> Account | None:
        fields = await self._fields(player_id)
        if not fields:
            return None
        raw = {text(k): v for k, v in fields.items()}
        links = tuple(
            link for link in (_link_of(field) for field in sorted(raw)) if link is not None
        )
        name = raw.get(_NAME_FIELD)
        return Account(
            player_id=player_id,
            display_name=None if name is None else text(name),
            created_at=float(text(raw.get("created", b"0"))),
            links=links,
            ban=decode_ban(raw.get("ban", b""), raw.get("ban_until"), raw.get("ban_reason")),
        )

    async def credential_owner(self, digest: str) -> str | None:
        """The player a credential belongs to; None if it is free (released, or unused)."""
        key = credential_key(digest)
        owner = await self._caller.read_one(key, "HGET", key, "p")
        return None if owner is None else text(owner)

    async def credential_digests(self, player_id: str) -> list[str]:
        """The hashes of the account's credentials."""
        fields = await self._fields(player_id)
        return [text(v) for k, v in (fields or {}).items() if text(k).startswith(_LINK_PREFIX)]

    async def set_name(self, player_id: str, name: str) -> bool:
        request = AccountSetName(account_key(player_id), name)
        return Applied.decode(await self._write(request, idempotent=True)).applied

    async def link(self, player_id: str, link: Link, digest: str) -> str | None:
        """None if there is no account, else the digest the link replaced ('' if none)."""
        request = AccountLink(account_key(player_id), link_field(link), digest)
        linked = Linked.decode(await self._write(request, idempotent=True))
        return None if linked is None else linked.replaced

    async def unlink(self, player_id: str, link: Link) -> str | UnlinkRefused:
        """The digest unlinked, or why not (-1 not linked, -2 the last credential, -3 no
        account)."""
        request = AccountUnlink(account_key(player_id), link_field(link))
        unlinked = Unlinked.decode(await self._write(request, idempotent=False))
        return unlinked if isinstance(unlinked, UnlinkRefused) else unlinked.digest

    async def ban(self, player_id: str, until: float | None, reason: str) -> bool:
        request = AccountBan(account_key(player_id), until, reason)
        return Applied.decode(await self._write(request, idempotent=True)).applied

    async def unban(self, player_id: str) -> bool:
        request = AccountUnban(account_key(player_id))
        return Applied.decode(await self._write(request, idempotent=True)).applied

    async def erase(self, player_id: str) -> list[str] | None:
        """The digests of the erased account's credentials; None if there was no account."""
        request = AccountErase(account_key(player_id))
        erased = Erased.decode(await self._write(request, idempotent=False))
        return None if erased is None else erased.digests

    async def names(self, player_ids: Sequence[str]) -> dict[str, str | None]:
        """Each player's display name (None if unset or no account), one pipelined round."""
        unique = list(dict.fromkeys(player_ids))
        if not unique:
            return {}
        keys = [account_key(player_id) for player_id in unique]
        found = await self._caller.read([Call(key, ("HGET", key, _NAME_FIELD)) for key in keys])
        return {p: None if n is None else text(n) for p, n in zip(unique, found, strict=True)}
