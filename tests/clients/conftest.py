"""Fixtures for the client SDK tests: the SDK on the import path, the e2e gateway and worker.

The Python SDK is its own package (`clients/python`, installed by games with
`pip install ./clients/python`). The repository's single test command
(`pip install -e '.[test]' && pytest`) does not install it: its source folder is put on
the import path here instead, so the tests always exercise the SDK of this checkout, and
the server's package list stays free of client code. Its dependencies (`websockets`,
`httpx`) are already among the server's and its test extras.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

SDK_SOURCE = Path(__file__).resolve().parents[2] / "clients" / "python" / "src"
if str(SDK_SOURCE) not in sys.path:
    sys.path.insert(0, str(SDK_SOURCE))

from gameserver_client import GameClient, MemoryStorage, ReconnectPolicy, Storage  # noqa: E402

from tests.e2e.conftest import gateway, worker  # noqa: E402, F401

# Short waits between reconnect attempts keep the reconnect tests quick.
FAST_RECONNECT = ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.5)


@contextlib.asynccontextmanager
async def device_client(
    base_url: str,
    storage: Storage | None = None,
    display_name: str | None = None,
    **options: object,
) -> AsyncIterator[GameClient]:
    """A client logged in with a device (a new one unless `storage` is given), closed after."""
    options.setdefault("reconnect", FAST_RECONNECT)
    client = GameClient(base_url, **options)  # type: ignore[arg-type]
    try:
        await client.login_device(storage or MemoryStorage(), display_name=display_name)
        yield client
    finally:
        await client.close()
