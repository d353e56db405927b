"""What the bench asks of the admin API and the metrics endpoint."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Mapping

from loadtest.bench.http_client import HttpPool, HttpResponse

RETRIES_ON_UNAVAILABLE = 5


def admin_client(base_url: str, admin_key: str, concurrency: int = 64) -> HttpPool:
    return HttpPool(base_url, concurrency, {"Authorization": f"Bearer {admin_key}"})


def route_missing(response: HttpResponse) -> bool:
    """A 404 that is not a JSON error of ours: the server has no such route (yet)."""
    if response.status != 404:
        return False
    try:
        return "error" not in response.json()
    except ValueError:
        return True


async def _post(admin: HttpPool, path: str, body: dict[str, object]) -> HttpResponse:
    """POST, again after a 503: each bench write is idempotent (a board made twice is a
    409, a best score posted twice is stored once)."""
    for _ in range(RETRIES_ON_UNAVAILABLE):
        response = await admin.post(path, body)
        if response.status != 503:
            return response
        await asyncio.sleep(0.5)
    return await admin.post(path, body)


async def ensure_board(admin: HttpPool, name: str, sub_boards: int | None = None) -> str | None:
    """Create board `name` (desc, best, never reset; `sub_boards` if given); None if it
    exists or was made."""
    body: dict[str, object] = {"name": name, "order": "desc", "operator": "best", "reset": "never"}
    if sub_boards is not None:
        body["sub_boards"] = sub_boards
    response = await _post(admin, "/admin/v1/boards", body)
    if response.status in (200, 201, 409):
        return None
    return f"POST /admin/v1/boards answered {response.status}: {response.text[:200]}"


async def fill_board(
    admin: HttpPool, board: str, scores: Mapping[str, float], concurrency: int = 64
) -> tuple[int, list[str]]:
    """Post every score through the trusted-server API; returns how many were accepted
    and the first few refusals."""
    items = list(scores.items())
    next_index = itertools.count()
    accepted = 0
    refusals: list[str] = []

    async def worker() -> None:
        nonlocal accepted
        while (index := next(next_index)) < len(items):
            player_id, score = items[index]
            response = await _post(
                admin, f"/admin/v1/boards/{board}/scores", {"player_id": player_id, "score": score}
            )
            if response.status in (200, 201):
                accepted += 1
                continue
            if len(refusals) < 5:
                refusals.append(f"{response.status} {response.text[:200]}")
            if route_missing(response):
                return

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted, refusals


async def wait_for_no_sockets(http: HttpPool, timeout_s: float = 120.0) -> bool:
    """Wait until the gateway has let go of every socket (each close is work for it)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        open_now = await metric_total(http, "gameserver_sockets_open")
        if open_now is None or open_now <= 0:
            return True
        await asyncio.sleep(0.5)
    return False


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([0-9.eE+-]+|NaN)$")


async def metric_total(http: HttpPool, name: str) -> float | None:
    """The sum of all samples of metric `name` in GET /metrics; None if absent."""
    try:
        response = await http.get("/metrics")
    except (OSError, ValueError, asyncio.IncompleteReadError):
        return None
    if response.status != 200:
        return None
    total, seen = 0.0, False
    for line in response.text.splitlines():
        match = _SAMPLE.match(line.strip())
        if match and match[1] == name:
            total += float(match[3])
            seen = True
    return total if seen else None
