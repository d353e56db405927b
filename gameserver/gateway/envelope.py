"""The message envelope of the game socket: parsing frames and building replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from domain.errors import BadRequest
from gameserver.errors import error_body

_ID_TYPES = (str, int, float)


@dataclass(frozen=True)
class Request:
    op: str
    id: Any  # client-chosen; echoed as given (None when absent)
    body: dict[str, Any]


class UnparsableFrame(Exception):
    """A frame that is not a JSON object; answered with an error reply without id."""


def parse_frame(frame: str | bytes) -> Request:
    try:
        body = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise UnparsableFrame(f"frame is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise UnparsableFrame("frame must be a JSON object")
    request_id = body.get("id")
    if request_id is not None and (
        isinstance(request_id, bool) or not isinstance(request_id, _ID_TYPES)
    ):
        raise UnparsableFrame("id must be a string or a number")
    op = body.get("op")
    if not isinstance(op, str) or not op:
        # Known id, bad op: the reply can still be matched to the request.
        return Request(op="", id=request_id, body=body)
    return Request(op=op, id=request_id, body=body)


def reply_ok(request_id: Any, result: dict[str, Any] | None) -> bytes:
    message: dict[str, Any] = {"ok": True}
    if request_id is not None:
        message["id"] = request_id
    if result:
        message.update(result)
    return orjson.dumps(message)


def reply_error(request_id: Any, code: str, message: str) -> bytes:
    body: dict[str, Any] = {"ok": False, "error": error_body(code, message)}
    if request_id is not None:
        body["id"] = request_id
    return orjson.dumps(body)


def require_op(request: Request) -> str:
    if not request.op:
        raise BadRequest("op must be a non-empty string")
    return request.op
