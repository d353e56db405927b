"""The message envelope of the game socket: parsing frames and building replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from domain.errors import BadRequest
from gameserver.errors import error_body

# A request id is echoed exactly: an integer a double holds exactly (JavaScript's safe
# range), or a short string. Anything else would come back changed (a float) or huge.
MAX_ID = 2**53
MAX_ID_CHARS = 64
# An unknown op is named in its error reply, cut to this many characters.
MAX_ECHOED_OP_CHARS = 64


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
    if request_id is not None and not _valid_id(request_id):
        raise UnparsableFrame(
            f"id must be an integer within +-2^53 or a string of at most {MAX_ID_CHARS} characters"
        )
    op = body.get("op")
    if not isinstance(op, str) or not op:
        # Known id, bad op: the reply can still be matched to the request.
        return Request(op="", id=request_id, body=body)
    return Request(op=op, id=request_id, body=body)


def _valid_id(value: object) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_ID_CHARS
    # bool is an int subclass; a float id (even 3.0) would not come back as sent.
    return type(value) is int and -MAX_ID <= value <= MAX_ID


def describe_unknown_op(op: str) -> str:
    """The error message for an op no handler takes, never longer than a line."""
    if not op:
        return "op must be a non-empty string"
    if len(op) > MAX_ECHOED_OP_CHARS:
        return f"unknown op {op[:MAX_ECHOED_OP_CHARS]!r}... ({len(op)} characters)"
    return f"unknown op {op!r}"


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
