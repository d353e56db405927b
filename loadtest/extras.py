"""The load tests and benchmarks need the `[test]` extras: say so in one line, not a traceback."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence

INSTALL = "pip install -e '.[test]'"


def require_test_extras(command: str, modules: Sequence[str]) -> None:
    """Exit with one clear line (status 2) if a module `command` needs is not installed."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        print(
            f"{command} needs the test extras ({', '.join(missing)} not installed): {INSTALL}",
            file=sys.stderr,
        )
        raise SystemExit(2)
