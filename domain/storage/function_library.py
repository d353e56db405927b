"""Valkey Function libraries named after their code, so that two releases share a cluster.

`FUNCTION LOAD REPLACE` of a library whose functions changed their keys or arguments
would break every gateway of the previous release still running during a rolling
upgrade: they would call the new code with the old arguments. So the library and each
of its functions are loaded under names that carry a hash of the code
(`mylib_v1a2b3c4d5e6`, `myfn_v1a2b3c4d5e6`): every release calls its own
functions, and loading one never replaces another's. Callers keep writing the plain
names; the shard caller renames the function of each FCALL it sends.

Each process says which library versions it uses (domain/storage/library_versions.py):
an operator prunes those no running process has named for a while
(`gameserver cluster prune-functions`, docs/operations.md "Rolling upgrades").
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

_SHEBANG = re.compile(r"\A#!lua name=([A-Za-z0-9_]+)")
# Both registration forms: register_function('name', cb) and
# register_function{function_name = 'name', ...}.
_REGISTERED = re.compile(
    r"(register_function\s*\(\s*['\"]|function_name\s*=\s*['\"])([A-Za-z0-9_]+)(['\"])"
)
_VERSION_CHARS = 12


@dataclass(frozen=True)
class FunctionLibrary:
    """A library's code as loaded, and the loaded name of each of its functions."""

    name: str
    code: str
    functions: dict[str, str] = field(default_factory=dict)  # plain name -> loaded name

    @classmethod
    def from_source(cls, source: str) -> FunctionLibrary:
        found = _SHEBANG.match(source)
        if found is None:
            raise ValueError("a function library starts with '#!lua name=<name>'")
        version = "v" + hashlib.sha1(source.encode()).hexdigest()[:_VERSION_CHARS]
        functions: dict[str, str] = {}

        def versioned(match: re.Match[str]) -> str:
            plain = match.group(2)
            functions[plain] = f"{plain}_{version}"
            return f"{match.group(1)}{functions[plain]}{match.group(3)}"

        name = f"{found.group(1)}_{version}"
        code = _REGISTERED.sub(versioned, source[found.end() :])
        return cls(name, f"#!lua name={name}{code}", functions)


def function_names(libraries: list[FunctionLibrary]) -> dict[str, str]:
    """Plain name -> loaded name over several libraries (function names are global)."""
    names: dict[str, str] = {}
    for library in libraries:
        for plain, loaded in library.functions.items():
            if plain in names:
                raise ValueError(f"function {plain} is registered by two libraries")
            names[plain] = loaded
    return names


# The loaded names of the libraries this process's callers use, per cluster client.
_IN_USE: weakref.WeakKeyDictionary[object, set[str]] = weakref.WeakKeyDictionary()


def mark_in_use(cluster: object, libraries: Iterable[FunctionLibrary]) -> None:
    """Note that this process calls `libraries` on `cluster` (for the heartbeats)."""
    names = {library.name for library in libraries}
    if names:
        _IN_USE.setdefault(cluster, set()).update(names)


def libraries_in_use(cluster: object) -> frozenset[str]:
    """The loaded names of every library a caller of this process uses on `cluster`."""
    return frozenset(_IN_USE.get(cluster, ()))
