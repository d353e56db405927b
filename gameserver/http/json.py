"""JSON in and out of HTTP handlers, and the one place HTTP errors are rendered."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import BadRequest, DomainError
from gameserver.errors import INTERNAL, error_body, wire_error

MAX_BODY_BYTES = 64 * 1024


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(code: str, message: str, status: int) -> Response:
    return json_response({"error": error_body(code, message)}, status)


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
            response = error_response(wire.code, exc.message, wire.status)
        except Exception:
            log.exception("%s failed", name)
            metrics.count_error(name, INTERNAL.code)
            response = error_response(INTERNAL.code, "internal error", INTERNAL.status)
        metrics.count_request(name, time.perf_counter() - started)
        return response

    return wrapped
