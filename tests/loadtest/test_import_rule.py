"""Modules the pytest process imports must not pull in Locust: its gevent monkey-patching
would break every asyncio test that runs after them."""

from __future__ import annotations

import subprocess
import sys

PURE_MODULES = (
    "loadtest.protocol",
    "loadtest.settings",
    "loadtest.stages",
    "loadtest.behaviour",
    "loadtest.gameserver_up",
    "loadtest.bench.cli",
)


def test_pure_modules_leave_gevent_and_locust_alone() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in PURE_MODULES)
        + "print(sorted(m for m in ('gevent', 'locust') if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
