"""Typed calls of the sessions function library (sessions.lua): for each function, a
request and a reply.

A request is a frozen dataclass of the function's key (the player's session hash) and
arguments, in the order the function's Lua header lists them; a reply's `decode` reads
what the function answered. A field is added in the function's Lua and in its request or
reply here, nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

from domain.storage.function_call import Applied, KeyCall
from domain.storage.resp import field_map, text


@dataclass(frozen=True, slots=True)
class Create(KeyCall):
    """session_create: the new session replaces the player's whole hash."""

    function: ClassVar[str] = "session_create"

    key: str
    sid: str
    region: str  # '' = none
    created: float
    ttl_ms: int


@dataclass(frozen=True, slots=True)
class Ended:
    """The session a call replaced or ended, and the gateway that held its socket."""

    sid: str
    gateway: str | None

    @classmethod
    def decode(cls, raw: Any) -> Ended | None:
        """None when there was no session (or not the one named)."""
        if not raw:
            return None
        return cls(text(raw[0]), text(raw[1]) or None)


@dataclass(frozen=True, slots=True)
class Attach(KeyCall):
    """session_attach: note the gateway holding the session's socket."""

    function: ClassVar[str] = "session_attach"

    key: str
    sid: str
    gateway: str
    ttl_ms: int


@dataclass(frozen=True, slots=True)
class Attached:
    """The session's hash after the attach, field name -> raw value."""

    fields: dict[str, Any]

    @classmethod
    def decode(cls, raw: Any) -> Attached | None:
        """None when the session is gone or another replaced it."""
        if not raw:
            return None
        return cls(field_map(raw))


@dataclass(frozen=True, slots=True)
class Touch(KeyCall):
    """session_touch: restart the session's idle clock."""

    function: ClassVar[str] = "session_touch"

    key: str
    sid: str
    ttl_ms: int


class Touched(IntEnum):
    REFRESHED = 1
    REPLACED = 0  # another session replaced it
    GONE = -1  # ended by an admin, or expired

    @classmethod
    def decode(cls, raw: Any) -> Touched:
        return _TOUCHED[int(raw)]


# Decoding by a dict lookup: a keepalive decodes one per socket.
_TOUCHED = {touched.value: touched for touched in Touched}


@dataclass(frozen=True, slots=True)
class Detach(KeyCall):
    """session_detach: clear this gateway's claim on the session's socket."""

    function: ClassVar[str] = "session_detach"

    key: str
    sid: str
    gateway: str
    ttl_ms: int


# session_detach's reply; applied False: another session or gateway holds it now.
Detached = Applied


@dataclass(frozen=True, slots=True)
class SetValues(KeyCall):
    """session_set_values: merge values into the session, within `max_bytes` in all."""

    function: ClassVar[str] = "session_set_values"

    key: str
    sid: str
    ttl_ms: int
    max_bytes: int
    fields: Mapping[str, bytes]  # hash field (already `v:`) -> encoded value

    def args(self) -> tuple[Any, ...]:
        pairs = (part for pair in self.fields.items() for part in pair)
        return (self.sid, self.ttl_ms, self.max_bytes, *pairs)


class ValuesSet(IntEnum):
    SET = 1
    GONE = -1  # the session is gone
    TOO_LARGE = -2  # the total would exceed max_bytes; nothing changed

    @classmethod
    def decode(cls, raw: Any) -> ValuesSet:
        return cls(int(raw))


@dataclass(frozen=True, slots=True)
class End(KeyCall):
    """session_end: delete the session (reply: `Ended`)."""

    function: ClassVar[str] = "session_end"

    key: str
    sid: str  # '' = whichever
