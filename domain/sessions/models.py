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
