"""Typed replies of the contract's logins and socket ops."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

TicketState = Literal["searching", "matched", "cancelled", "expired"]
Presence = Literal["online", "offline", "in_match"]


@dataclass(frozen=True)
class Session:
    """A login's answer: the token opens the game socket while the session lives."""

    token: str
    session_id: str
    player_id: str
    expires_in: int
    created: bool

    def __repr__(self) -> str:
        # The token is a bearer secret: keep it out of logs.
        return (
            f"Session(player_id={self.player_id!r}, session_id={self.session_id!r}, "
            f"expires_in={self.expires_in}, created={self.created})"
        )

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Session:
        return cls(
            data["token"],
            data["session_id"],
            data["player_id"],
            int(data.get("expires_in", 60)),
            bool(data.get("created", False)),
        )


@dataclass(frozen=True)
class Entry:
    """A board entry; `display_name` is None when the account has none."""

    rank: int
    player_id: str
    score: float
    display_name: str | None = None
    metadata: dict[str, Any] | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Entry:
        return cls(
            data["rank"],
            data["player_id"],
            data["score"],
            data.get("display_name"),
            data.get("metadata"),
        )


def entries_from_wire(raw: object) -> list[Entry]:
    return [Entry.from_wire(item) for item in raw] if isinstance(raw, list) else []


@dataclass(frozen=True)
class SubmitResult:
    board: str
    score: float
    rank: int
    previous_rank: int | None


@dataclass(frozen=True)
class Page:
    """A page of `board.top`; pass `next_cursor` for the next one (None at the end)."""

    entries: list[Entry]
    next_cursor: str | None


@dataclass(frozen=True)
class PlayerRank:
    player_id: str
    rank: int
    score: float


@dataclass(frozen=True)
class BoardInfo:
    """A board of `board.list`; `raw` keeps every field, including ones added later."""

    name: str
    order: str
    operator: str
    reset: str
    period: str | None = None
    period_ends_at: int | None = None
    start_at: int | None = None
    end_at: int | None = None
    players: int = 0
    max_players: int | None = None
    joined: bool = False
    join_required: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> BoardInfo:
        return cls(
            data["name"],
            data.get("order", "desc"),
            data.get("operator", "best"),
            data.get("reset", "never"),
            data.get("period"),
            data.get("period_ends_at"),
            data.get("start_at"),
            data.get("end_at"),
            int(data.get("players") or 0),
            data.get("max_players"),
            bool(data.get("joined", False)),
            bool(data.get("join_required", False)),
            dict(data),
        )


@dataclass(frozen=True)
class Party:
    party_id: str
    leader: str
    members: list[str]
    invited: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Link:
    """A credential of an account: `kind` is `device` or `provider` (with its name)."""

    kind: str
    provider: str | None = None


@dataclass(frozen=True)
class Account:
    player_id: str
    display_name: str | None
    created_at: float
    links: list[Link]

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Account:
        return cls(
            data["player_id"],
            data.get("display_name"),
            data.get("created_at", 0),
            [Link(item["kind"], item.get("provider")) for item in data.get("links", [])],
        )
