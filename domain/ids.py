"""The identifier rule of the wire contract: player ids, board and queue names."""

from __future__ import annotations

import re

from domain.errors import BadRequest

ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def require_id(value: object, field: str) -> str:
    """Return `value` if it is a valid identifier, else raise `BadRequest` naming `field`."""
    if not is_valid_id(value):
        raise BadRequest(f"{field} must match ^[A-Za-z0-9_.-]{{1,64}}$")
    assert isinstance(value, str)
    return value
