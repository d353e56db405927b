"""Packing commands into RESP, the bytes a Valkey node reads.

libvalkey (the parser valkey-py uses) packs in C, about three times faster than
valkey-py's `Encoder`; the hot paths send only bytes, str, int and float, which it
encodes exactly as valkey-py would (str as UTF-8, int as decimal, float by `repr`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import libvalkey
from valkey.exceptions import DataError


def text(raw: Any) -> str:
    """A reply's bulk string as text (replies arrive as bytes)."""
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def field_map(flat: Sequence[Any]) -> dict[str, Any]:
    """A flat field/value reply (a function's HGETALL, a stream entry's fields) as a
    dict of field name (text) to raw value."""
    return {text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}


def pack_command(args: Sequence[Any]) -> bytes:
    """One command as a RESP array of bulk strings."""
    try:
        packed: bytes = libvalkey.pack_command(args if isinstance(args, tuple) else tuple(args))
    except TypeError as exc:
        names = ", ".join(sorted({type(arg).__name__ for arg in args}))
        raise DataError(f"a Valkey command takes str, bytes, int or float, not: {names}") from exc
    return packed
