"""Checks that a library's typed calls (its functions.py) mirror its Lua: every registered
function has a request whose name its header gives, with the reply after `->`, and the
request's arguments come in the order of the header's `ARGV:` names."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from domain.storage.function_call import FunctionCall

_REGISTERED = re.compile(r"register_function\('(\w+)', (\w+)\)")
_NAMES = re.compile(r"functions\.(\w+) -> functions\.(\w+)")
_ARGV = re.compile(r"ARGV: (.*?)(?: ->|$)", re.MULTILINE)


def registered(code: str) -> dict[str, str]:
    """Function name -> the Lua callback registered under it."""
    return dict(_REGISTERED.findall(code))


def requests(module: ModuleType) -> dict[str, type[FunctionCall]]:
    found = {}
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, FunctionCall)
            and value.__module__ == module.__name__
        ):
            found[value.function] = value
    return found


def header(code: str, callback: str) -> str:
    """The comment lines right above `local function <callback>`."""
    lines = code[: code.index(f"local function {callback}(")].splitlines()
    kept = []
    for line in reversed(lines):
        if not line.startswith("--"):
            break
        kept.append(line)
    return "\n".join(reversed(kept))


def argv_names(text: str) -> list[str]:
    """The names after `ARGV:` in a header (the first word of each, a trailing `...`
    dropped), up to the first that is not a name."""
    found = _ARGV.search(text)
    names: list[str] = []
    for part in found.group(1).split(",") if found else ():
        words = part.split()
        name = words[0].removesuffix("...") if words else ""
        if not name.isidentifier():
            break
        names.append(name)
    return names


def check_library(
    module: ModuleType, code: str, samples: Mapping[str, Mapping[str, Any]] | None = None
) -> None:
    """Fails unless `module` has one request per function of `code`, each named in its
    header with a reply that decodes, its plain arguments in the header's ARGV order.

    `samples` gives, per request class name, values for fields that a sentinel string
    cannot stand for (mappings, sequences)."""
    functions = registered(code)
    typed = requests(module)
    assert set(typed) == set(functions)
    for name, request in typed.items():
        text = header(code, functions[name])
        named = _NAMES.search(text)
        assert named is not None and named.group(1) == request.__name__, name
        assert hasattr(getattr(module, named.group(2)), "decode"), name
        _check_argv_order(request, argv_names(text), (samples or {}).get(request.__name__, {}))


def _check_argv_order(
    request: type[FunctionCall], names: list[str], samples: Mapping[str, Any]
) -> None:
    fields = [f.name for f in dataclasses.fields(request)]  # type: ignore[arg-type]
    values = {f: samples.get(f, f"<{f}>") for f in fields}
    args = request(**values).args()
    checked = 0
    for i, name in enumerate(names):
        sentinel = f"<{name}>"
        if name not in fields or sentinel not in args:
            continue  # encoded on the way (a flag, a number's repr): not checkable here
        assert args.index(sentinel) == i, (request.__name__, name, args)
        checked += 1
    assert not names or checked, request.__name__
