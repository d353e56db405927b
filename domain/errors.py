"""Named domain errors. One table in `gameserver/errors.py` maps each to the wire."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a client may see; `message` is safe to show on the wire."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def wire_fields(self) -> dict[str, object]:
        """Fields the error adds to the wire's `error` object beside code and message."""
        return {}


class BadRequest(DomainError):
    """The request is malformed or out of range; nothing was changed."""


class Unauthorized(DomainError):
    """Missing, bad or expired credentials."""


class Forbidden(DomainError):
    """Valid credentials that may not do this."""


class Banned(Forbidden):
    """The player is banned: logins are refused until `until` (None: until lifted)."""

    def __init__(self, until: float | None, reason: str) -> None:
        super().__init__("the player is banned")
        self.until = until
        self.reason = reason

    def wire_fields(self) -> dict[str, object]:
        until = self.until
        if until is not None and until.is_integer():
            return {"banned_until": int(until), "reason": self.reason}
        return {"banned_until": until, "reason": self.reason}


class NotFound(DomainError):
    """Base of the errors for an entity that does not exist."""


class BoardNotFound(NotFound):
    pass


class QueueNotFound(NotFound):
    pass


class TicketNotFound(NotFound):
    pass


class PlayerNotFound(NotFound):
    pass


class MatchNotFound(NotFound):
    pass


class SessionNotFound(NotFound):
    pass


class PartyNotFound(NotFound):
    pass


class Conflict(DomainError):
    """The request contradicts current state (exists already, already in a ticket...)."""


class ErasedMeanwhile(Conflict):
    """The player was erased while a login ran: nothing of that login is kept."""

    def __init__(self) -> None:
        super().__init__("the player was erased during this login: log in again")


class RateLimited(DomainError):
    """Too many requests; retry later (after `retry_after_s` seconds, where known)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unavailable(DomainError):
    """The store could not confirm the operation (failover, replica wait timed out).

    The outcome of a write answered with this error is unknown to the client, which may
    retry it with the same `request_id` where the operation accepts one.
    """


class Unconfirmed(Unavailable):
    """A write that may have run but that the store could not confirm as durable.

    Either its reply was lost (the connection broke after it was sent), or it ran on the
    shard's primary while fewer replicas than required acknowledged it in time. It may
    survive or be lost in a failover; never an `ok`. Plain `Unavailable` from a store
    means the write certainly did not run.
    """
