"""Server pushes: `event` instead of `op`, no `id`, and a server timestamp for lag."""

from __future__ import annotations

import time
from typing import Any

import orjson


def push_event(name: str, **fields: Any) -> bytes:
    return orjson.dumps({"event": name, **fields, "ts": int(time.time() * 1000)})
