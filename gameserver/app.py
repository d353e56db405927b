"""The Starlette app factory and its lifespan: the composition root of a gateway process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from domain.clock import Clock, SystemClock
from domain.storage.library_versions import run_heartbeats
from gameserver.admin import boards, gateways, players, queues, sessions
from gameserver.admin.access import AdminAccess
from gameserver.admin.cluster import get_cluster
from gameserver.admin.dashboard import dashboard_routes
from gameserver.config_file import load_startup_config
from gameserver.errors import CLOSE_GOING_AWAY
from gameserver.gateway.asgi_socket import GatewayApp
from gameserver.gateway.dispatch import build_op_table
from gameserver.gateway.figures import report_figures
from gameserver.gateway.keepalive import keep_sessions_alive
from gameserver.gateway.socket_endpoint import game_socket
from gameserver.gateway.upgrade_checks import AllowedOrigins
from gameserver.http import operational
from gameserver.http.body_limit import BodyLimit
from gameserver.http.client_address import ClientAddresses
from gameserver.http.cross_origin import LoginCrossOrigin
from gameserver.http.demo import demo_routes
from gameserver.http.json import routing_error
from gameserver.http.listeners import ListenerSplit
from gameserver.http.sessions import create_session
from gameserver.push.control import GatewayInbox
from gameserver.push.hub import PushHub
from gameserver.services import Services, build_services
from gameserver.settings import Settings
from gameserver.valkey_client import connect_cluster

log = logging.getLogger(__name__)


def create_app(settings: Settings, clock: Clock | None = None) -> Starlette:
    if not settings.gateway_id:
        settings = settings.with_overrides(gateway_id=uuid.uuid4().hex[:12])
    if not settings.secret:
        raise RuntimeError("GAMESERVER_SECRET is required to sign session tokens")

    startup = load_startup_config(settings.config_path)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        cluster = await connect_cluster(settings)
        hub = PushHub(cluster)
        stop = asyncio.Event()
        keepalive: asyncio.Task[None] | None = None
        heartbeats: asyncio.Task[None] | None = None
        figures: asyncio.Task[None] | None = None
        services: Services | None = None
        try:
            services = await build_services(
                settings, cluster, clock or SystemClock(), startup, push_hub=hub
            )
            keepalive = asyncio.create_task(keep_sessions_alive(services, stop), name="keepalive")
            heartbeats = asyncio.create_task(
                run_heartbeats(services.storage, stop), name="library-heartbeats"
            )
            figures = asyncio.create_task(report_figures(services, stop), name="figures")
            await hub.start()
            await GatewayInbox(
                settings.gateway_id, services.registry, hub, services.metrics
            ).start()
            app.state.services = services
            app.state.ops = build_op_table()
            yield
        finally:
            stop.set()
            if services is not None:
                for connection in services.registry:
                    connection.close(CLOSE_GOING_AWAY)
            if keepalive is not None:
                await keepalive
            if heartbeats is not None:
                await heartbeats
            if figures is not None:
                await figures
            if services is not None and services.board_watch is not None:
                await services.board_watch.aclose()
            await hub.aclose()
            await cluster.aclose()

    routes: list[BaseRoute] = [
        Route("/healthz", operational.healthz),
        Route("/readyz", operational.readyz),
        Route("/metrics", operational.metrics),
        Route("/v1/sessions", create_session, methods=["POST"]),
        Route("/admin/v1/sessions", sessions.create_trusted_session, methods=["POST"]),
        Route("/admin/v1/players/{player_id}", players.get_player, methods=["GET"]),
        Route("/admin/v1/players/{player_id}", players.erase_player, methods=["DELETE"]),
        Route("/admin/v1/players/{player_id}/export", players.export_player, methods=["GET"]),
        Route(
            "/admin/v1/players/{player_id}/session",
            players.end_player_session,
            methods=["DELETE"],
        ),
        Route("/admin/v1/players/{player_id}/ban", players.ban_player, methods=["POST"]),
        Route("/admin/v1/players/{player_id}/ban", players.unban_player, methods=["DELETE"]),
        Route("/admin/v1/boards", boards.create_board, methods=["POST"]),
        Route("/admin/v1/boards", boards.list_boards, methods=["GET"]),
        Route("/admin/v1/boards/{name}", boards.inspect_board, methods=["GET"]),
        Route("/admin/v1/boards/{name}", boards.delete_board, methods=["DELETE"]),
        Route("/admin/v1/boards/{name}/scores", boards.submit_score, methods=["POST"]),
        Route(
            "/admin/v1/boards/{name}/players/{player_id}",
            boards.remove_player,
            methods=["DELETE"],
        ),
        Route("/admin/v1/boards/{name}/reset", boards.reset_board, methods=["POST"]),
        Route("/admin/v1/boards/{name}/periods", boards.board_periods, methods=["GET"]),
        Route("/admin/v1/queues", queues.create_queue, methods=["POST"]),
        Route("/admin/v1/queues", queues.list_queues, methods=["GET"]),
        Route("/admin/v1/matches/{match_id}/result", queues.report_result, methods=["POST"]),
        Route("/admin/v1/matches/{match_id}", queues.get_match, methods=["GET"]),
        Route("/admin/v1/matches/{match_id}/backfill", queues.open_backfill, methods=["POST"]),
        Route("/admin/v1/matches/{match_id}/backfill", queues.close_backfill, methods=["DELETE"]),
        Route("/admin/v1/cluster", get_cluster, methods=["GET"]),
        Route("/admin/v1/gateways", gateways.list_gateways, methods=["GET"]),
        Route("/admin/v1/history", gateways.figure_history, methods=["GET"]),
        *dashboard_routes(),
    ]
    if settings.demo:
        routes += demo_routes()
    # The game socket (/v1/ws) is served by `game_socket` outside the route table.
    app = GatewayApp(
        routes=routes,
        middleware=[
            Middleware(
                ListenerSplit, admin_port=settings.admin_port, metrics_port=settings.metrics_port
            ),
            Middleware(LoginCrossOrigin, origins=AllowedOrigins(settings.allowed_origins)),
            Middleware(
                AdminAccess,
                addresses=ClientAddresses(settings.trusted_proxies),
                per_min=settings.admin_failures_per_min,
                burst=settings.admin_failure_burst,
            ),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: routing_error},
        game_socket=game_socket,
    )
    # Every body is a JSON object (docs/protocol.md): a path with a stray trailing slash is a
    # JSON 404, not an empty 307 to the path without it.
    app.router.redirect_slashes = False
    return app
