"""What an account is, as the rest of the system sees it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class CredentialKind(StrEnum):
    DEVICE = "device"
    PROVIDER = "provider"


@dataclass(frozen=True)
class Credential:
    """A proof of identity: a device id, or a provider's subject (`provider`, `subject`)."""

    kind: CredentialKind
    secret: str  # the device id, or the provider's `sub`; never stored nor logged as is
    provider: str | None = None

    def __repr__(self) -> str:  # the device id is a secret: keep it out of logs
        return f"Credential(kind={self.kind.value!r}, provider={self.provider!r})"

    @property
    def link(self) -> Link:
        return Link(self.kind, self.provider)


@dataclass(frozen=True)
class Link:
    """Which kind of credential an account holds (never the credential itself)."""

    kind: CredentialKind
    provider: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.kind is CredentialKind.DEVICE:
            return {"kind": self.kind.value}
        return {"kind": self.kind.value, "provider": self.provider}


@dataclass(frozen=True)
class Ban:
    until: float | None  # unix seconds; None: until lifted
    reason: str

    def active(self, now: float) -> bool:
        return self.until is None or self.until > now

    def to_dict(self) -> dict[str, Any]:
        return {"until": self.wire_until, "reason": self.reason}

    @property
    def wire_until(self) -> int | float | None:
        """`until` as given: whole seconds as an integer."""
        if self.until is None or not self.until.is_integer():
            return self.until
        return int(self.until)


@dataclass(frozen=True)
class Account:
    player_id: str
    display_name: str | None
    created_at: float
    links: tuple[Link, ...]
    ban: Ban | None

    def to_dict(self) -> dict[str, Any]:
        """The `account.get` reply."""
        return {
            "player_id": self.player_id,
            "display_name": self.display_name,
            "created_at": self.created_at,
            "links": [link.to_dict() for link in self.links],
        }


@dataclass(frozen=True)
class Login:
    """Who a credential (or a trusted server) logged in, and whether that made the account."""

    player_id: str
    created: bool
