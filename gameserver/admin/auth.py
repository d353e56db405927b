"""The admin bearer key: missing is 401, wrong is 403 (docs/protocol.md)."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from starlette.requests import Request

from domain.errors import Forbidden, Unauthorized
from gameserver.admin.access import KEY_REFUSED
from gameserver.http.sessions import bearer_token

if TYPE_CHECKING:
    from gameserver.services import Services


def admin_key_matches(expected: str, given: str) -> bool:
    """Whether `given` is the admin key (none matches while no key is set)."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def require_admin(request: Request) -> None:
    expected: str = request.app.state.services.settings.admin_key
    given = bearer_token(request)
    if given is None:
        raise Unauthorized("admin key required: Authorization: Bearer <key>")
    if not admin_key_matches(expected, given):
        # Counted against the caller's address by AdminAccess (gameserver/admin/access.py).
        setattr(request.state, KEY_REFUSED, True)
        raise Forbidden("wrong admin key")


def admin_services(request: Request) -> Services:
    """The services, for a request that carries the admin key (else as `require_admin`)."""
    require_admin(request)
    services: Services = request.app.state.services
    return services
