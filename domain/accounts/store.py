"""The Valkey side of accounts: every key and function of the feature lives here.

An account is one hash, `acct:{<player>}`, in its player's slot (the session hash
`sess:{<player>}` shares it). A credential is one hash, `acct:cred:{<digest>}`, in the
slot of its keyed hash, so a login resolves its credential in ONE call to one shard
(`cred_resolve`, which also registers a first use). The functions are in accounts.lua.
Every call goes through the process's one storage object (domain/storage/shard_calls.py).
Writes a client is told succeeded wait for a replica like every store's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from domain.accounts.models import Account, Ban, CredentialKind, Link
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


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


@dataclass(frozen=True)
class Ensured:
    created: bool
    ban: Ban | None


def _ban(flag: Any, until: Any, reason: Any) -> Ban | None:
    if _text(flag) != "1":
        return None
    until_text = _text(until or b"")
    return Ban(float(until_text) if until_text else None, _text(reason or b""))


class AccountStore:
    def __init__(self, storage: ShardCaller, *, writes: WritePolicy = DEFAULT_WRITES) -> None:
        self._caller = storage
        self._library = storage.use_library(LIBRARY_CODE)
        self._wait = writes.wait

    async def load_functions(self) -> None:
        await self._caller.load(self._library)

    async def _fields(self, player_id: str) -> Any:
        key = account_key(player_id)
        return await self._caller.read_one(key, "HGETALL", key)

    async def _fcall(self, function: str, key: str, *args: Any, idempotent: bool) -> Any:
        call = Call(key, ("FCALL", function, 1, key, *args))
        return await self._caller.write(call, *self._wait, idempotent=idempotent)

    async def resolve_credential(self, digest: str, candidate: str, now: float) -> tuple[str, bool]:
        """The player a credential belongs to; a first use registers it for `candidate`."""
        reply = await self._fcall(
            "cred_resolve", credential_key(digest), candidate, now, idempotent=True
        )
        return _text(reply[0]), int(reply[1]) == 1

    async def claim_credential(self, digest: str, player_id: str, now: float) -> str:
        """The credential's owner once claimed for `player_id` (another id: not theirs)."""
        reply = await self._fcall(
            "cred_claim", credential_key(digest), player_id, now, idempotent=True
        )
        return _text(reply)

    async def release_credential(self, digest: str, player_id: str) -> None:
        await self._fcall("cred_release", credential_key(digest), player_id, idempotent=True)

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
        reply = await self._fcall(
            "account_ensure",
            account_key(player_id),
            now,
            name or "",
            "1" if rename else "0",
            "" if link is None else link_field(link),
            digest,
            idempotent=True,
        )
        return Ensured(int(reply[0]) == 1, _ban(reply[1], reply[2], reply[3]))

    async def account(self, player_id: str) -> Account | None:
        fields = await self._fields(player_id)
        if not fields:
            return None
        raw = {_text(k): v for k, v in fields.items()}
        links = tuple(
            link for link in (_link_of(field) for field in sorted(raw)) if link is not None
        )
        name = raw.get(_NAME_FIELD)
        return Account(
            player_id=player_id,
            display_name=None if name is None else _text(name),
            created_at=float(_text(raw.get("created", b"0"))),
            links=links,
            ban=_ban(raw.get("ban", b""), raw.get("ban_until"), raw.get("ban_reason")),
        )

    async def credential_digests(self, player_id: str) -> list[str]:
        """The hashes of the account's credentials."""
        fields = await self._fields(player_id)
        return [_text(v) for k, v in (fields or {}).items() if _text(k).startswith(_LINK_PREFIX)]

    async def set_name(self, player_id: str, name: str) -> bool:
        reply = await self._fcall("account_set_name", account_key(player_id), name, idempotent=True)
        return int(reply) == 1

    async def link(self, player_id: str, link: Link, digest: str) -> str | None:
        """None if there is no account, else the digest the link replaced ('' if none)."""
        reply = await self._fcall(
            "account_link", account_key(player_id), link_field(link), digest, idempotent=True
        )
        return None if reply is None else _text(reply)

    async def unlink(self, player_id: str, link: Link) -> str | int:
        """The digest unlinked, or -1 not linked, -2 the last credential, -3 no account."""
        reply = await self._fcall(
            "account_unlink", account_key(player_id), link_field(link), idempotent=False
        )
        return int(reply) if isinstance(reply, int) else _text(reply)

    async def ban(self, player_id: str, until: float | None, reason: str) -> bool:
        reply = await self._fcall(
            "account_ban",
            account_key(player_id),
            "" if until is None else repr(until),
            reason,
            idempotent=True,
        )
        return int(reply) == 1

    async def unban(self, player_id: str) -> bool:
        reply = await self._fcall("account_unban", account_key(player_id), idempotent=True)
        return int(reply) == 1

    async def erase(self, player_id: str) -> list[str] | None:
        """The digests of the erased account's credentials; None if there was no account."""
        reply = await self._fcall("account_erase", account_key(player_id), idempotent=False)
        if reply is None:
            return None
        return [_text(d) for d in reply]

    async def names(self, player_ids: Sequence[str]) -> dict[str, str | None]:
        """Each player's display name (None if unset or no account), one pipelined round."""
        unique = list(dict.fromkeys(player_ids))
        if not unique:
            return {}
        keys = [account_key(player_id) for player_id in unique]
        found = await self._caller.read([Call(key, ("HGET", key, _NAME_FIELD)) for key in keys])
        return {p: None if n is None else _text(n) for p, n in zip(unique, found, strict=True)}
