"""The one table from domain errors to the wire: error code and HTTP status."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from domain import errors

# Close codes of the game socket (docs/protocol.md).
CLOSE_UNAUTHORIZED = 4401
CLOSE_KICKED = 4403
CLOSE_REPLACED = 4409
CLOSE_TOO_BIG = 1009
# A socket that keeps sending over its message rate for seconds on end.
CLOSE_POLICY_VIOLATION = 1008
# A client that can't keep up with its pushes is dropped rather than slowing the gateway.
CLOSE_SLOW_CONSUMER = 1013
CLOSE_GOING_AWAY = 1001


@dataclass(frozen=True)
class WireError:
    code: str
    status: int


INTERNAL = WireError("internal", 500)

# Most specific first: the first class an error is an instance of wins.
_TABLE: tuple[tuple[type[errors.DomainError], WireError], ...] = (
    (errors.BadRequest, WireError("bad_request", 400)),
    (errors.Unauthorized, WireError("unauthorized", 401)),
    (errors.Forbidden, WireError("forbidden", 403)),
    (errors.NotFound, WireError("not_found", 404)),
    (errors.Conflict, WireError("conflict", 409)),
    (errors.RateLimited, WireError("rate_limited", 429)),
    (errors.Unavailable, WireError("unavailable", 503)),
)


def wire_error(exc: BaseException) -> WireError:
    for cls, wire in _TABLE:
        if isinstance(exc, cls):
            return wire
    return INTERNAL


def status_code_name(status: int) -> str:
    """The wire code of an HTTP status that no domain error raised (Starlette's routing)."""
    for _, wire in _TABLE:
        if wire.status == status:
            return wire.code
    # The contract has no code for 405 and other client errors: the closest is this one.
    return "bad_request" if status < 500 else INTERNAL.code


def error_body(code: str, message: str) -> dict[str, object]:
    return {"code": code, "message": message}


def error_payload(code: str, message: str) -> bytes:
    """An error reply's JSON bytes, `{"error": {"code", "message"}}`, for the replies sent
    below the HTTP handlers (ASGI middleware, refused socket upgrades)."""
    return orjson.dumps({"error": error_body(code, message)})
