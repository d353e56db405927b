"""Errors: one class per error code of the wire contract, under one base.

A refused request (socket reply or HTTP login) raises the class of its `code`; the
client's own failures (a call that timed out, a connection that is gone) have their own
classes under the same base.
"""

from __future__ import annotations

from typing import Any


class GameServerError(Exception):
    """Base of every error this client raises."""

    code: str = "client_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ServerError(GameServerError):
    """The server refused a request; `code` is the contract's error code."""

    code = "internal"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code)
        # Every field of the wire error beyond code and message (e.g. `banned_until`).
        self.details: dict[str, Any] = details or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class BadRequest(ServerError):
    code = "bad_request"


class Unauthorized(ServerError):
    code = "unauthorized"


class Forbidden(ServerError):
    code = "forbidden"

    @property
    def banned_until(self) -> int | None:
        """For a banned player's login: the ban's end (Unix s), None when open-ended."""
        value = self.details.get("banned_until")
        return value if isinstance(value, int) else None

    @property
    def reason(self) -> str | None:
        value = self.details.get("reason")
        return value if isinstance(value, str) else None


class NotFound(ServerError):
    code = "not_found"


class Conflict(ServerError):
    code = "conflict"


class RateLimited(ServerError):
    code = "rate_limited"

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before trying again, when the server said (HTTP `Retry-After`)."""
        value = self.details.get("retry_after")
        return float(value) if isinstance(value, int | float) else None


class Unavailable(ServerError):
    """The store could not confirm the write in time: its outcome is unknown."""

    code = "unavailable"


class Internal(ServerError):
    code = "internal"


ERRORS_BY_CODE: dict[str, type[ServerError]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        RateLimited,
        Unavailable,
        Internal,
    )
}


def error_from_wire(error: object, details: dict[str, Any] | None = None) -> ServerError:
    """The exception for a wire `error` object `{"code", "message", ...}`."""
    if not isinstance(error, dict):
        return Internal(f"malformed error: {error!r}")
    code = str(error.get("code", "internal"))
    message = str(error.get("message", ""))
    extra = {k: v for k, v in error.items() if k not in ("code", "message")}
    extra.update(details or {})
    cls = ERRORS_BY_CODE.get(code, ServerError)
    return cls(message, code=code, details=extra)


class RequestTimeout(GameServerError):
    """No reply within the call's timeout. The request may still have been applied."""

    code = "timeout"


class ConnectionLost(GameServerError):
    """The socket closed before the reply came. The request may still have been applied."""

    code = "connection_lost"


class ClientClosed(GameServerError):
    """The client is closed for good (`close()`, logout, kicked, replaced or login refused)."""

    code = "closed"

    def __init__(self, message: str, *, close_code: int | None = None) -> None:
        super().__init__(message)
        self.close_code = close_code
