"""What a session is, as the rest of the system sees it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class Session:
    player_id: str
    session_id: str
    region: str | None
    created_at: float
    gateway_id: str | None  # the gateway holding the socket, if one is open


@dataclass(frozen=True)
class NewSession:
    token: str
    session_id: str
    player_id: str
    expires_in: int
    replaced: Session | None  # the session this one ended, to be told on its gateway


class Presence(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    IN_MATCH = "in_match"


@dataclass(frozen=True)
class AttachResult:
    """The outcome of opening a socket for a session."""

    session: Session
    values: dict[str, Any]


@dataclass(frozen=True)
class GatewayFigures:
    """What one gateway process last reported of itself (`reported_at` in unix s)."""

    gateway_id: str
    sessions_online: int  # sessions with a game socket open on this gateway
    logins_last_minute: int  # sessions opened through this gateway in the last 60 s
    reported_at: float
