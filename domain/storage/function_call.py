"""The typed call of one Valkey Function: a request that encodes its keys and arguments.

Each function library has a `functions.py` beside its `.lua`: per function, a frozen
dataclass of its keys and arguments (a `FunctionCall`) and a reply with a `decode(raw)`
classmethod. The Lua header of each function names both (`-- functions.Touch ->
functions.Touched`), and a unit test per library checks that they agree.

A request whose keys and arguments are its fields as they are names its key fields in
`key_fields`; its arguments are then its other fields, in their order. A request that
encodes a field (or spreads a tuple) writes `keys()` and `args()` out instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar

from domain.storage.shard_calls import Call

_Getter = Callable[[Any], tuple[Any, ...]]


def _fields_getter(names: tuple[str, ...]) -> _Getter:
    """A C-speed reader of `names` from a request, always as a tuple."""
    if not names:
        return lambda request: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda request: (one(request),)
    getter: _Getter = attrgetter(*names)
    return getter


class FunctionCall:
    """A call of one library function: its name, whether it only reads, keys and args.

    The call goes to the slot of its first key (every key of a call shares its slot,
    except keys a function is allowed to read from other slots the node serves)."""

    __slots__ = ()

    function: ClassVar[str]
    read_only: ClassVar[bool] = False
    # The fields that are the call's keys, in order; the other fields are its args.
    key_fields: ClassVar[tuple[str, ...] | None] = None
    # Resolved once per class: the derived readers, or the written-out methods.
    _keys_of: ClassVar[staticmethod[[Any], tuple[Any, ...]]]
    _args_of: ClassVar[staticmethod[[Any], tuple[Any, ...]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A method the class writes out wins over the reader derived from its fields.
        keys_of: _Getter | None = None if cls.keys is FunctionCall.keys else cls.keys
        args_of: _Getter | None = None if cls.args is FunctionCall.args else cls.args
        if keys_of is None or args_of is None:
            key_fields = cls.key_fields
            if key_fields is None:
                raise TypeError(f"{cls.__name__}: neither key_fields nor keys() and args()")
            hints = cls.__dict__.get("__annotations__", {})
            fields = [name for name, hint in hints.items() if "ClassVar" not in str(hint)]
            keys_of = keys_of or _fields_getter(key_fields)
            args_of = args_of or _fields_getter(
                tuple(name for name in fields if name not in key_fields)
            )
        cls._keys_of = staticmethod(keys_of)
        cls._args_of = staticmethod(args_of)

    def keys(self) -> tuple[str, ...]:
        return self._keys_of(self)

    def args(self) -> tuple[Any, ...]:
        return self._args_of(self)

    def call(self) -> Call:
        keys = self._keys_of(self)
        command = "FCALL_RO" if self.read_only else "FCALL"
        return Call(keys[0], (command, self.function, len(keys), *keys, *self._args_of(self)))


class KeyCall(FunctionCall):
    """A call of a function over one key, the request's `key` field: one tuple less."""

    __slots__ = ()

    key_fields = ("key",)
    key: str

    def call(self) -> Call:
        command = "FCALL_RO" if self.read_only else "FCALL"
        return Call(self.key, (command, self.function, 1, self.key, *self._args_of(self)))


@dataclass(frozen=True, slots=True)
class Applied:
    """The reply of a write that answers 1, or 0 when it found nothing to do (what that
    means is in the function's Lua header)."""

    applied: bool

    @classmethod
    def decode(cls, raw: Any) -> Applied:
        return cls(int(raw) == 1)
