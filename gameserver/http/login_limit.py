"""The per-address limit on logins (`POST /v1/sessions`), counted over the whole cluster."""

from __future__ import annotations

from starlette.requests import Request

from domain.errors import RateLimited
from gameserver.services import Services

LOGIN = "login"


async def limit_login(request: Request) -> None:
    """Count one login attempt of the caller's address; `RateLimited` (429) over the limit."""
    services: Services = request.app.state.services
    try:
        await services.address_limits.take(
            LOGIN, services.client_addresses.limited_as(request.scope)
        )
    except RateLimited:
        services.metrics.count_refusal("login_rate")
        raise
