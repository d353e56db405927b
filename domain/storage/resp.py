"""Packing commands into RESP, the bytes a Valkey node reads.

valkey-py packs through a general `Encoder` (about 1 us per argument); the hot paths
send only bytes, str, int and float, so a direct packer suffices. Values are encoded
exactly as valkey-py would: str as UTF-8, int as decimal, float by `repr`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from valkey.exceptions import DataError


def _bulk(arg: Any) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, bool):  # before int: True is an int, and valkey-py refuses it too
        raise DataError("a bool is not a valid Valkey argument; send 0/1 or a string")
    if isinstance(arg, int):
        return b"%d" % arg
    if isinstance(arg, float):
        return repr(arg).encode()
    if isinstance(arg, memoryview | bytearray):
        return bytes(arg)
    raise DataError(f"cannot send a {type(arg).__name__} to Valkey")


def pack_command(args: Sequence[Any]) -> bytes:
    """One command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _bulk(arg)
        parts.append(b"$%d\r\n" % len(data))
        parts.append(data)
        parts.append(b"\r\n")
    return b"".join(parts)


def pack_commands(commands: Iterable[Sequence[Any]]) -> bytes:
    return b"".join(pack_command(args) for args in commands)
