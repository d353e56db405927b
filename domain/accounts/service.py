"""Accounts: logging in by credential, the account's name and links, bans, erasure."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from domain.accounts import rules
from domain.accounts.identity import IdentityVerifier
from domain.accounts.models import Account, Credential, CredentialKind, Link, Login
from domain.accounts.names import NameCache
from domain.accounts.store import AccountStore
from domain.clock import Clock
from domain.errors import (
    BadRequest,
    Banned,
    Conflict,
    ErasedMeanwhile,
    Forbidden,
    PlayerNotFound,
)
from domain.ids import require_id

# Display names shown in board entries are read through this cache: a rename shows up
# on this gateway at once and on every other gateway within NAME_CACHE_TTL_S.
NAME_CACHE_TTL_S = 1.0
NAME_CACHE_SIZE = 100_000


class ErasureParticipant(Protocol):
    """A feature that holds data about a player and forgets it when the player is erased."""

    async def forget_player(self, player_id: str) -> None: ...


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        *,
        secret: bytes,
        clock: Clock,
        identity: IdentityVerifier,
        dev_login: bool = False,
    ) -> None:
        self._store = store
        self._hash_key = rules.credential_hash_key(secret)
        self._clock = clock
        self._identity = identity
        self._dev_login = dev_login
        self._names = NameCache(NAME_CACHE_TTL_S, NAME_CACHE_SIZE)

    async def ensure_ready(self) -> None:
        await self._store.load_functions()

    async def login(self, body: Mapping[str, Any]) -> Login:
        """A client's login (`POST /v1/sessions`) with exactly one credential."""
        given = [f for f in ("device_id", "player_id") if body.get(f) is not None]
        if body.get("provider") is not None or body.get("id_token") is not None:
            given.append("provider")
        if len(given) != 1:
            raise BadRequest(
                "give exactly one credential: device_id, or provider and id_token"
                + (", or player_id (development login)" if self._dev_login else "")
            )
        name = _optional_name(body)
        if given[0] == "player_id":
            if not self._dev_login:
                raise Forbidden(
                    "a bare player_id login is off (development only: GAMESERVER_DEV_LOGIN=1)"
                )
            return await self._open(require_id(body["player_id"], "player_id"), name, False)
        credential = await self._credential(body)
        digest = rules.credential_digest(self._hash_key, credential)
        now = self._clock.now()
        resolved = await self._store.resolve_credential(digest, rules.new_player_id(), now)
        login = await self._open(resolved.player_id, name, False, credential.link, digest)
        if login.created and not resolved.created:
            # A known credential without its account: a login that stopped between its two
            # calls (the account is made now), or an erase that released the credential
            # and deleted the account after this login resolved it. The account just made
            # is then an orphan of the erased player: it goes again.
            if await self._store.credential_owner(digest) != resolved.player_id:
                await self.erase(resolved.player_id)
                raise ErasedMeanwhile()
        return login

    async def trusted_login(self, player_id: object, display_name: object = None) -> Login:
        """A trusted game server's login for its own authentication (custom auth)."""
        player = require_id(player_id, "player_id")
        name = None if display_name is None else rules.display_name(display_name)
        return await self._open(player, name, True)

    async def _open(
        self,
        player_id: str,
        name: str | None,
        rename: bool,
        link: Link | None = None,
        digest: str = "",
    ) -> Login:
        ensured = await self._store.ensure_account(
            player_id, self._clock.now(), name, rename=rename, link=link, digest=digest
        )
        if ensured.ban is not None and ensured.ban.active(self._clock.now()):
            raise Banned(ensured.ban.until, ensured.ban.reason)
        if name is not None and (ensured.created or rename):
            self._names.put({player_id: name})
        return Login(player_id, ensured.created)

    async def _credential(self, body: Mapping[str, Any]) -> Credential:
        if body.get("device_id") is not None:
            return rules.device_credential(body["device_id"])
        provider = rules.provider_name(body.get("provider"))
        token = rules.id_token(body.get("id_token"))
        subject = await self._identity.subject(provider, token)
        return Credential(CredentialKind.PROVIDER, subject, provider)

    async def get(self, player_id: str) -> Account:
        account = await self._store.account(player_id)
        if account is None:
            raise PlayerNotFound(f"player {player_id} has no account")
        return account

    async def find(self, player_id: object) -> Account | None:
        return await self._store.account(require_id(player_id, "player_id"))

    async def update(self, player_id: str, display_name: object) -> Account:
        name = rules.display_name(display_name)
        if not await self._store.set_name(player_id, name):
            raise PlayerNotFound(f"player {player_id} has no account")
        self._names.put({player_id: name})
        return await self.get(player_id)

    async def link(self, player_id: str, body: Mapping[str, Any]) -> Account:
        """Add a credential (`device_id`, or `provider` and `id_token`) to the account."""
        has_device = body.get("device_id") is not None
        has_provider = body.get("provider") is not None or body.get("id_token") is not None
        if has_device == has_provider:
            raise BadRequest("give exactly one credential: device_id, or provider and id_token")
        credential = await self._credential(body)
        digest = rules.credential_digest(self._hash_key, credential)
        owner = await self._store.claim_credential(digest, player_id, self._clock.now())
        if owner != player_id:
            raise Conflict("that credential belongs to another account")
        replaced = await self._store.link(player_id, credential.link, digest)
        if replaced is None:
            await self._store.release_credential(digest, player_id)
            raise PlayerNotFound(f"player {player_id} has no account")
        if replaced and replaced != digest:  # a new device replaces the account's old one
            await self._store.release_credential(replaced, player_id)
        return await self.get(player_id)

    async def unlink(self, player_id: str, body: Mapping[str, Any]) -> Account:
        kind = body.get("kind")
        if kind == CredentialKind.DEVICE.value:
            link = Link(CredentialKind.DEVICE)
        elif kind == CredentialKind.PROVIDER.value:
            link = Link(CredentialKind.PROVIDER, rules.provider_name(body.get("provider")))
        else:
            raise BadRequest("kind must be 'device' or 'provider'")
        outcome = await self._store.unlink(player_id, link)
        if outcome == -1:
            raise BadRequest("the account has no such credential")
        if outcome == -2:
            raise Conflict("an account keeps at least one credential")
        if outcome == -3:
            raise PlayerNotFound(f"player {player_id} has no account")
        assert isinstance(outcome, str)
        await self._store.release_credential(outcome, player_id)
        return await self.get(player_id)

    async def ban(self, player_id: object, until: object, reason: object) -> None:
        player = require_id(player_id, "player_id")
        ends, why = rules.ban_until(until), rules.ban_reason(reason)
        if not await self._store.ban(player, ends, why):
            raise PlayerNotFound(f"player {player} has no account")

    async def confirm_login(self, player_id: str) -> None:
        """`Banned` if the player is banned now, `ErasedMeanwhile` if the account is gone.

        A login asks again once its session exists: a ban or an erase that landed after
        the login's own checks ended the sessions before that one was made, so it is seen
        here, and the caller ends the session."""
        account = await self._store.account(player_id)
        if account is None:
            raise ErasedMeanwhile()
        if account.ban is not None and account.ban.active(self._clock.now()):
            raise Banned(account.ban.until, account.ban.reason)

    async def unban(self, player_id: object) -> None:
        player = require_id(player_id, "player_id")
        if not await self._store.unban(player):
            raise PlayerNotFound(f"player {player} has no account")

    async def erase(self, player_id: str) -> bool:
        """Forget the account and its credentials; False if there was no account.

        The credentials go first, so no credential login finds the player again while
        the account goes (one linked meanwhile is released after)."""
        release = self._store.release_credential
        account_digests = await self._store.credential_digests(player_id)
        await asyncio.gather(*(release(digest, player_id) for digest in account_digests))
        digests = await self._store.erase(player_id)
        await asyncio.gather(*(release(digest, player_id) for digest in digests or []))
        self._names.drop(player_id)
        return digests is not None

    async def display_names(self, player_ids: Sequence[str]) -> dict[str, str | None]:
        """Each player's display name (None when none), one batched read for the misses."""
        names, missing = self._names.lookup(player_ids)
        if missing:
            found = await self._store.names(missing)
            self._names.put(found)
            names.update(found)
        return names


def _optional_name(body: Mapping[str, Any]) -> str | None:
    value = body.get("display_name")
    return None if value is None else rules.display_name(value)
