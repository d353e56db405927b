"""Wire forms owned by the leaderboard feature: page cursors and change events."""

from __future__ import annotations

import base64
import binascii
import math
import struct
import zlib

from domain.errors import BadRequest
from domain.ids import is_valid_id
from domain.leaderboards.models import ChangeEvent, Position

_CURSOR_VERSION = 1
_CURSOR_MAX_CHARS = 256
_POSITION = struct.Struct(">dQ")
_CRC = struct.Struct(">I")

# Change events, one ASCII line: `<kind> <period> <player> <old score> <old stamp>
# <new score> <new stamp> <server us>`, absent fields as `-`; scores are stored
# (normalised, smaller is better) values as the server prints them.
_EVENT_KINDS = {"w": "write", "x": "remove", "r": "reset", "d": "delete"}
_EVENT_CODES = {kind: code for code, kind in _EVENT_KINDS.items()}
_ABSENT = "-"


def encode_cursor(board: str, period: str, after: Position) -> str:
    """An opaque token for the page that starts after `after` in `period` of `board`."""
    label = period.encode()
    payload = (
        bytes([_CURSOR_VERSION, len(label)])
        + label
        + _POSITION.pack(after.score, after.stamp)
        + after.player_id.encode()
    )
    token = payload + _CRC.pack(_checksum(board, payload))
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode()


def decode_cursor(board: str, cursor: object) -> tuple[str, Position]:
    """The period and position a cursor continues from; any damage is a `BadRequest`."""
    if not isinstance(cursor, str) or not 0 < len(cursor) <= _CURSOR_MAX_CHARS:
        raise BadRequest("cursor is invalid")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload, (crc,) = raw[: -_CRC.size], _CRC.unpack(raw[-_CRC.size :])
        if payload[0] != _CURSOR_VERSION or crc != _checksum(board, payload):
            raise ValueError("version or checksum")
        end = 2 + payload[1]
        label = payload[2:end].decode("ascii")
        score, stamp = _POSITION.unpack(payload[end : end + _POSITION.size])
        player_id = payload[end + _POSITION.size :].decode("ascii")
    except (ValueError, IndexError, struct.error, binascii.Error) as exc:
        raise BadRequest("cursor is invalid") from exc
    if not label or not is_valid_id(player_id) or not math.isfinite(score):
        raise BadRequest("cursor is invalid")
    return label, Position(score + 0.0, stamp, player_id)


def _checksum(board: str, payload: bytes) -> int:
    # Catches damaged or foreign cursors; a forged one can only name another position.
    return zlib.crc32(board.encode() + b"\0" + payload)


def encode_event(event: ChangeEvent) -> bytes:
    """The line the store's server-side functions publish (kept here as the reference)."""
    fields = [
        _EVENT_CODES[event.kind],
        event.period,
        event.player_id or _ABSENT,
        *_position_fields(event.old),
        *_position_fields(event.new),
        str(event.at_us),
    ]
    return " ".join(fields).encode()


def decode_event(raw: bytes) -> ChangeEvent:
    """Parse a board channel message; a malformed one raises `ValueError`."""
    fields = raw.decode("ascii").split(" ")
    if len(fields) != 8 or fields[0] not in _EVENT_KINDS:
        raise ValueError(f"not a leaderboard event: {raw[:80]!r}")
    kind = _EVENT_KINDS[fields[0]]
    # "-" is also a valid player id: only board-wide events have no player.
    player_id = "" if kind in ("reset", "delete") else fields[2]
    return ChangeEvent(
        kind=kind,  # type: ignore[arg-type]
        period=fields[1],
        player_id=player_id,
        old=_position(fields[3], fields[4], player_id),
        new=_position(fields[5], fields[6], player_id),
        at_us=int(fields[7]),
    )


def _position_fields(position: Position | None) -> list[str]:
    if position is None:
        return [_ABSENT, _ABSENT]
    return [repr(position.score), str(position.stamp)]


def _position(score: str, stamp: str, player_id: str) -> Position | None:
    if score == _ABSENT:
        return None
    return Position(float(score) + 0.0, int(stamp), player_id)
