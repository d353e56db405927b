"""Typed calls of the accounts function library (accounts.lua): for each function, a
request and a reply.

A request is a frozen dataclass of the function's key (a credential's hash or an
account's) and arguments, in the order the function's Lua header lists them; a reply's
`decode` reads what the function answered. A field is added in the function's Lua and
in its request or reply here, nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

from domain.accounts.models import Ban
from domain.storage.function_call import Applied as Applied
from domain.storage.function_call import KeyCall
from domain.storage.resp import text


def decode_ban(flag: Any, until: Any, reason: Any) -> Ban | None:
    """The ban that an account's `ban`, `ban_until` and `ban_reason` fields hold."""
    if text(flag) != "1":
        return None
    until_text = text(until or b"")
    return Ban(float(until_text) if until_text else None, text(reason or b""))


# Credentials.


@dataclass(frozen=True, slots=True)
class CredResolve(KeyCall):
    """cred_resolve: the credential's player; a first use registers it for `candidate`."""

    function: ClassVar[str] = "cred_resolve"

    key: str
    candidate: str
    now: float


@dataclass(frozen=True, slots=True)
class Resolved:
    player_id: str
    created: bool  # the call registered the credential for the candidate

    @classmethod
    def decode(cls, raw: Any) -> Resolved:
        player_id, created = raw
        return cls(text(player_id), int(created) == 1)


@dataclass(frozen=True, slots=True)
class CredClaim(KeyCall):
    """cred_claim: take the credential for `player` if it is free."""

    function: ClassVar[str] = "cred_claim"

    key: str
    player: str
    now: float


@dataclass(frozen=True, slots=True)
class Claimed:
    owner: str  # the credential's owner after the call: another id means not theirs

    @classmethod
    def decode(cls, raw: Any) -> Claimed:
        return cls(text(raw))


@dataclass(frozen=True, slots=True)
class CredRelease(KeyCall):
    """cred_release: drop the credential if it is `player`'s (reply: `Applied`)."""

    function: ClassVar[str] = "cred_release"

    key: str
    player: str


# Accounts.


@dataclass(frozen=True, slots=True)
class AccountEnsure(KeyCall):
    """account_ensure: create the account if absent; a new one takes the name and link."""

    function: ClassVar[str] = "account_ensure"

    key: str
    now: float
    name: str  # '' = none
    rename: bool  # set the name even on an existing account
    link: str  # the link's field ('' = none)
    digest: str

    def args(self) -> tuple[Any, ...]:
        return (self.now, self.name, "1" if self.rename else "0", self.link, self.digest)


@dataclass(frozen=True, slots=True)
class Ensured:
    created: bool
    ban: Ban | None

    @classmethod
    def decode(cls, raw: Any) -> Ensured:
        created, banned, until, reason = raw
        return cls(int(created) == 1, decode_ban(banned, until, reason))


@dataclass(frozen=True, slots=True)
class AccountSetName(KeyCall):
    """account_set_name: the account's display name (reply: `Applied`)."""

    function: ClassVar[str] = "account_set_name"

    key: str
    name: str


@dataclass(frozen=True, slots=True)
class AccountLink(KeyCall):
    """account_link: the credential's digest in the link's field."""

    function: ClassVar[str] = "account_link"

    key: str
    field: str
    digest: str


@dataclass(frozen=True, slots=True)
class Linked:
    replaced: str  # the digest the field held before ('' if none), for the caller to release

    @classmethod
    def decode(cls, raw: Any) -> Linked | None:
        """None when there is no account."""
        return None if raw is None else cls(text(raw))


@dataclass(frozen=True, slots=True)
class AccountUnlink(KeyCall):
    """account_unlink: drop the link's field, unless it is the account's last."""

    function: ClassVar[str] = "account_unlink"

    key: str
    field: str


class UnlinkRefused(IntEnum):
    NOT_LINKED = -1
    LAST_CREDENTIAL = -2  # an account keeps at least one
    NO_ACCOUNT = -3


@dataclass(frozen=True, slots=True)
class Unlinked:
    digest: str  # the credential unlinked, for the caller to release

    @classmethod
    def decode(cls, raw: Any) -> Unlinked | UnlinkRefused:
        return UnlinkRefused(raw) if isinstance(raw, int) else cls(text(raw))


@dataclass(frozen=True, slots=True)
class AccountBan(KeyCall):
    """account_ban: ban the account (reply: `Applied`)."""

    function: ClassVar[str] = "account_ban"

    key: str
    until: float | None  # None: until lifted
    reason: str

    def args(self) -> tuple[Any, ...]:
        return ("" if self.until is None else repr(self.until), self.reason)


@dataclass(frozen=True, slots=True)
class AccountUnban(KeyCall):
    """account_unban: lift the account's ban (reply: `Applied`)."""

    function: ClassVar[str] = "account_unban"

    key: str


@dataclass(frozen=True, slots=True)
class AccountErase(KeyCall):
    """account_erase: delete the account."""

    function: ClassVar[str] = "account_erase"

    key: str


@dataclass(frozen=True, slots=True)
class Erased:
    digests: list[str]  # of the account's credentials, for the caller to release

    @classmethod
    def decode(cls, raw: Any) -> Erased | None:
        """None when there was no account."""
        return None if raw is None else cls([text(d) for d in raw])
