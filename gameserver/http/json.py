"""JSON in and out of HTTP handlers, and the one place HTTP errors are rendered."""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Send

from domain.errors import BadRequest, DomainError, RateLimited
from gameserver.errors import INTERNAL, error_body, error_payload, status_code_name, wire_error

MAX_BODY_BYTES = 64 * 1024


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(
    code: str, message: str, status: int, extra: dict[str, object] | None = None
) -> Response:
    return json_response({"error": {**error_body(code, message), **(extra or {})}}, status)


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """An error reply sent by ASGI middleware, below the handlers (`error_response`'s body)."""
    payload = error_payload(code, message)
    start_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": payload})


async def read_json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


Handler = Callable[[Request], Awaitable[Response]]


def handles_errors(handler: Handler) -> Handler:
    """Render domain errors through the one table; time and count the route."""
    log = logging.getLogger(handler.__module__)
    name = handler.__name__

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        metrics = request.app.state.services.metrics
        started = time.perf_counter()
        try:
            response = await handler(request)
        except DomainError as exc:
            wire = wire_error(exc)
            metrics.count_error(name, wire.code)
            response = error_response(wire.code, exc.message, wire.status, exc.wire_fields())
            if isinstance(exc, RateLimited) and exc.retry_after_s is not None:
                response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        except Exception:
            log.exception("%s failed", name)
            metrics.count_error(name, INTERNAL.code)
            response = error_response(INTERNAL.code, "internal error", INTERNAL.status)
        metrics.count_request(name, time.perf_counter() - started)
        return response

    return wrapped


async def routing_error(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors (no route for the path, a method it does not take)."""
    assert isinstance(exc, HTTPException)  # the app registers this for HTTPException only
    status, code, path = exc.status_code, status_code_name(exc.status_code), request.url.path
    if status == 404:
        return error_response(code, f"no endpoint {path}", status)
    if status != 405:
        return error_response(code, exc.detail, status)
    allowed = _allowed_methods(request)
    message = f"{request.method} is not allowed on {path} (allowed: {allowed})"
    response = error_response(code, message, status)
    response.headers["Allow"] = allowed
    return response


def _allowed_methods(request: Request) -> str:
    # Starlette's own Allow names the first route of the path only, but a path has one
    # route per method here (GET and DELETE of a board): collect them all.
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))
