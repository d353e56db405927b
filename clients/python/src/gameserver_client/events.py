"""Server pushes as typed events, plus the client's own connection events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from gameserver_client.models import Entry, entries_from_wire


@dataclass(frozen=True)
class RankChanged:
    """`rank.changed`: your own rank on a subscribed board moved (null rank: removed)."""

    board: str
    rank: int | None
    previous_rank: int | None
    score: float | None
    ts: int | None = None
    name: ClassVar[str] = "rank.changed"


@dataclass(frozen=True)
class BoardTop:
    """`board.top`: the top entries of a subscribed board changed."""

    board: str
    entries: list[Entry]
    ts: int | None = None
    name: ClassVar[str] = "board.top"


@dataclass(frozen=True)
class BoardPeriodEnded:
    """`board.period_ended`: a period of a board you have an entry on ended."""

    board: str
    period: str
    rank: int | None
    score: float | None
    ts: int | None = None
    name: ClassVar[str] = "board.period_ended"


@dataclass(frozen=True)
class MatchFound:
    """`match.found`: you are in a match; `server` is the allocator's reply, if any."""

    match_id: str
    queue: str
    teams: list[list[str]]
    ticket: str
    server: dict[str, Any] | None = None
    backfill: bool = False
    properties: dict[str, Any] | None = None
    ts: int | None = None
    name: ClassVar[str] = "match.found"


@dataclass(frozen=True)
class MatchExpired:
    """`match.expired`: the ticket outlived its queue's maximum wait."""

    ticket: str
    ts: int | None = None
    name: ClassVar[str] = "match.expired"


@dataclass(frozen=True)
class PartyInvited:
    """`party.invited`: `from_player` invited you into a party (accept within 60 s)."""

    party_id: str
    from_player: str
    ts: int | None = None
    name: ClassVar[str] = "party.invited"


@dataclass(frozen=True)
class PartyUpdated:
    """`party.updated`: a party you are (or were) in changed."""

    party_id: str
    leader: str | None
    members: list[str]
    invited: list[str] = field(default_factory=list)
    ts: int | None = None
    name: ClassVar[str] = "party.updated"


@dataclass(frozen=True)
class SessionReplaced:
    """`session.replaced`: a newer login of this player took over; close 4409 follows."""

    ts: int | None = None
    name: ClassVar[str] = "session.replaced"


@dataclass(frozen=True)
class SessionKicked:
    """`session.kicked`: an operator ended the session; close 4403 follows."""

    ts: int | None = None
    name: ClassVar[str] = "session.kicked"


@dataclass(frozen=True)
class UnknownEvent:
    """A push this client version does not know (the contract may add events)."""

    event: str
    data: dict[str, Any]
    name: ClassVar[str] = "unknown"


@dataclass(frozen=True)
class Disconnected:
    """The socket closed; the client is reconnecting (`code` is the close code, if any)."""

    code: int | None
    reason: str
    name: ClassVar[str] = "disconnected"


@dataclass(frozen=True)
class Reconnecting:
    """The client waits `delay_s` before its `attempt`-th try (from 1) to come back."""

    attempt: int
    delay_s: float
    name: ClassVar[str] = "reconnecting"


@dataclass(frozen=True)
class Reconnected:
    """The socket is back; `relogged` when the old session was gone and a new login made."""

    player_id: str
    relogged: bool
    name: ClassVar[str] = "reconnected"


@dataclass(frozen=True)
class Closed:
    """The client stopped for good: `close()`, logout, a kick (4403), replacement (4409)
    or a refused login. No event follows it."""

    code: int | None
    reason: str
    name: ClassVar[str] = "closed"


ServerEvent = (
    RankChanged
    | BoardTop
    | BoardPeriodEnded
    | MatchFound
    | MatchExpired
    | PartyInvited
    | PartyUpdated
    | SessionReplaced
    | SessionKicked
    | UnknownEvent
)
ConnectionEvent = Disconnected | Reconnecting | Reconnected | Closed
Event = ServerEvent | ConnectionEvent


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def event_from_wire(message: dict[str, Any]) -> ServerEvent:
    """The typed event of a push frame; unknown or malformed pushes become `UnknownEvent`."""
    name = str(message.get("event"))
    ts = _opt_int(message.get("ts"))
    m = message
    try:
        if name == "rank.changed":
            return RankChanged(
                m["board"], m.get("rank"), m.get("previous_rank"), m.get("score"), ts
            )
        if name == "board.top":
            return BoardTop(m["board"], entries_from_wire(m.get("entries", [])), ts)
        if name == "board.period_ended":
            return BoardPeriodEnded(m["board"], m["period"], m.get("rank"), m.get("score"), ts)
        if name == "match.found":
            return MatchFound(
                m["match_id"],
                m["queue"],
                [list(team) for team in m["teams"]],
                m["ticket"],
                m.get("server"),
                bool(m.get("backfill", False)),
                m.get("properties"),
                ts,
            )
        if name == "match.expired":
            return MatchExpired(m["ticket"], ts)
        if name == "party.invited":
            return PartyInvited(m["party_id"], m["from"], ts)
        if name == "party.updated":
            return PartyUpdated(
                m["party_id"], m.get("leader"), list(m["members"]), list(m.get("invited", [])), ts
            )
        if name == "session.replaced":
            return SessionReplaced(ts)
        if name == "session.kicked":
            return SessionKicked(ts)
    except (KeyError, TypeError):
        pass
    return UnknownEvent(name, dict(message))
