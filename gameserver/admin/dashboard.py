"""`/admin`: the operators' dashboard, a static page over the admin API and socket.

The page holds the admin key in the tab's memory only; it is no secret itself, so it
is served without the key (on the admin listener when there is one).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from gameserver.admin.socket import SOCKET_PATH, AdminSocket

STATIC_DIR = Path(__file__).resolve().parent / "static"

# The page runs only its own files and talks only to its own origin; no framing.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def dashboard_page(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers=_HEADERS)


def dashboard_routes() -> list[BaseRoute]:
    return [
        Route("/admin", dashboard_page, methods=["GET"]),
        Mount("/admin/static", StaticFiles(directory=STATIC_DIR)),
        WebSocketRoute(SOCKET_PATH, AdminSocket()),
    ]
