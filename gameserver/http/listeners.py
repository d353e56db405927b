"""Which paths each listener serves: with an admin port, the admin API and metrics only
there; on a gateway's own metrics port (`serve --metrics-port`, one per process, unlike
the shared game and admin ports), its probes and metrics only."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gameserver.http.json import send_error

# Served on both listeners: a load balancer probes either.
_PROBES = ("/healthz", "/readyz")


def is_admin_path(path: str) -> bool:
    return path.startswith("/admin/") or path in ("/admin", "/metrics")


def served_on(scope: Scope, admin_port: int | None, metrics_port: int | None = None) -> bool:
    """Whether the listener that took this request serves its path."""
    server = scope.get("server")
    path: str = scope["path"]
    if metrics_port is not None and server is not None and server[1] == metrics_port:
        return path in _PROBES or path == "/metrics"
    if admin_port is None:
        return True
    on_admin_port = server is not None and server[1] == admin_port
    if is_admin_path(path):
        return on_admin_port
    return not on_admin_port or path in _PROBES


class ListenerSplit:
    """ASGI middleware: a path the listener does not serve is a JSON 404, as if absent."""

    def __init__(
        self, app: ASGIApp, admin_port: int | None, metrics_port: int | None = None
    ) -> None:
        self.app = app
        self.admin_port = admin_port
        self.metrics_port = metrics_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or served_on(scope, self.admin_port, self.metrics_port):
            await self.app(scope, receive, send)
            return
        await send_error(send, 404, "not_found", f"no endpoint {scope['path']}")
