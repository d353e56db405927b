"""Cross-origin login: a browser game served from another origin may call `POST /v1/sessions`.

A login's JSON body makes the browser ask first (a CORS preflight, `OPTIONS`); without an
answer it never sends the login. Only the login is opened this way: it uses no cookies and
its token is returned in the body, so another site gains nothing a page could not do with
its own login. The admin API stays same-origin (the dashboard is served beside it). The
origins are the game socket's (`GAMESERVER_ALLOWED_ORIGINS`; unset, every origin).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gameserver.gateway.asgi_socket import scope_header
from gameserver.gateway.upgrade_checks import AllowedOrigins
from gameserver.http.json import send_error

LOGIN_PATH = "/v1/sessions"
# How long a browser may reuse a preflight's answer.
_PREFLIGHT_MAX_AGE_S = 600


class LoginCrossOrigin:
    """ASGI middleware: answers the login's preflight and marks its replies for the origin."""

    def __init__(self, app: ASGIApp, origins: AllowedOrigins) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != LOGIN_PATH:
            await self.app(scope, receive, send)
            return
        origin = scope_header(scope, b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.origins.allows(origin)
        if scope["method"] == "OPTIONS":
            await self._preflight(origin, allowed, send)
            return
        if not allowed:
            # Served as for any client; without the header the browser keeps the reply from
            # the page.
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _allow_headers(origin)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, marked)

    @staticmethod
    async def _preflight(origin: str, allowed: bool, send: Send) -> None:
        if allowed:
            headers = _allow_headers(origin) + [
                (b"access-control-allow-methods", b"POST"),
                (b"access-control-allow-headers", b"content-type"),
                (b"access-control-max-age", str(_PREFLIGHT_MAX_AGE_S).encode()),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        message = f"origin {origin} may not log in here (GAMESERVER_ALLOWED_ORIGINS)"
        await send_error(send, 403, "forbidden", message, ((b"vary", b"origin"),))


def _allow_headers(origin: str) -> list[tuple[bytes, bytes]]:
    # The origin itself, not `*`: the answer differs per origin when a list is set, so
    # caches must key it by `Origin`.
    return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"origin")]
