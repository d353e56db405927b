"""Typed calls of the abuse function library (abuse.lua): for each function, a request
and a reply.

A request is a frozen dataclass of the function's key and arguments, in the order the
function's Lua header lists them; a reply's `decode` reads what the function answered.
A field is added in the function's Lua and in its request or reply here, nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from domain.storage.function_call import KeyCall


@dataclass(frozen=True, slots=True)
class Take(KeyCall):
    """abuse_take: count one request against the limit, if it allows one now."""

    function: ClassVar[str] = "abuse_take"

    key: str
    rate_per_s: float
    burst: int


@dataclass(frozen=True, slots=True)
class Taken:
    retry_after_s: float  # 0.0: allowed (and counted); else when one would be

    @classmethod
    def decode(cls, raw: Any) -> Taken:
        allowed, retry_after_ms = raw
        return _ALLOWED if int(allowed) else cls(int(retry_after_ms) / 1000)


_ALLOWED = Taken(0.0)  # the common answer, shared
