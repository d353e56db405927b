"""The typed call of one Valkey Function: a request that encodes its keys and arguments.

Each function library has a `functions.py` beside its `.lua`: per function, a frozen
dataclass of its keys and arguments (a `FunctionCall`) and a reply with a `decode(raw)`
classmethod. The Lua header of each function names both (`-- functions.Touch ->
functions.Touched`), and a unit test per library checks that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from domain.storage.shard_calls import Call


class FunctionCall:
    """A call of one library function: its name, whether it only reads, keys and args.

    The call goes to the slot of its first key (every key of a call shares its slot,
    except keys a function is allowed to read from other slots the node serves)."""

    __slots__ = ()

    function: ClassVar[str]
    read_only: ClassVar[bool] = False

    def keys(self) -> tuple[str, ...]:
        raise NotImplementedError

    def args(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def call(self) -> Call:
        keys = self.keys()
        command = "FCALL_RO" if self.read_only else "FCALL"
        return Call(keys[0], (command, self.function, len(keys), *keys, *self.args()))


class KeyCall(FunctionCall):
    """A call of a function over one key, the request's `key` field: one tuple less."""

    __slots__ = ()

    key: str

    def keys(self) -> tuple[str, ...]:
        return (self.key,)

    def call(self) -> Call:
        command = "FCALL_RO" if self.read_only else "FCALL"
        return Call(self.key, (command, self.function, 1, self.key, *self.args()))


@dataclass(frozen=True, slots=True)
class Applied:
    """The reply of a write that answers 1, or 0 when it found nothing to do (what that
    means is in the function's Lua header)."""

    applied: bool

    @classmethod
    def decode(cls, raw: Any) -> Applied:
        return cls(int(raw) == 1)
