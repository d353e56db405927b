"""Which ops and admin routes the server under test offers, probed once per process.

Probes never change state: each socket op is sent with a body the server must refuse
(an invalid board name, a ticket of the wrong type), and each admin route is asked for
something that cannot exist. An op the server lacks answers "unknown op"; a route it lacks
answers a 404 that is not a JSON error of ours. Anything else means the feature exists.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: Locust monkey-patches the standard library for gevent
# isort: on

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import gevent.lock
import requests

from loadtest.game_socket import GameSocket
from loadtest.protocol import op_is_known

log = logging.getLogger(__name__)

# An invalid identifier: the server refuses it before touching any state.
_BAD_NAME = "!"

SOCKET_PROBES: dict[str, dict[str, Any]] = {
    "ping": {},
    "session.set": {"values": "not an object"},
    "session.get": {"keys": "not a list"},
    "presence.get": {"player_ids": "not a list"},
    "score.submit": {"board": _BAD_NAME, "score": 0},
    "board.top": {"board": _BAD_NAME},
    "board.around": {"board": _BAD_NAME},
    "board.rank": {"board": _BAD_NAME},
    "board.players": {"board": _BAD_NAME, "player_ids": []},
    "board.subscribe": {"board": _BAD_NAME},
    "board.unsubscribe": {"board": _BAD_NAME},
    "match.join": {"queue": _BAD_NAME},
    "match.cancel": {"ticket": 0},
    "match.status": {"ticket": 0},
}

# Admin routes, as (name, method, path, body).
ADMIN_PROBES: tuple[tuple[str, str, str, dict[str, Any] | None], ...] = (
    ("admin:players", "GET", "/admin/v1/players/lt-probe", None),
    ("admin:boards", "GET", "/admin/v1/boards", None),
    ("admin:scores", "POST", f"/admin/v1/boards/{_BAD_NAME}/scores", {}),
    ("admin:queues", "GET", "/admin/v1/queues", None),
    ("admin:match-result", "POST", "/admin/v1/matches/lt-probe/result", {}),
)


@dataclass(frozen=True)
class Capabilities:
    supported: frozenset[str]
    # False when every op was assumed present (`--gs-ops all`).
    probed: bool = True

    def supports(self, features: Iterable[str]) -> bool:
        return not self.probed or all(f in self.supported for f in features)


EVERYTHING = Capabilities(frozenset(), probed=False)

_lock = gevent.lock.Semaphore()
_socket_ops: frozenset[str] | None = None
_admin_routes: frozenset[str] | None = None


def socket_capabilities(socket: GameSocket) -> frozenset[str] | None:
    """The socket ops the server knows, probed once per process; None if it cannot tell.

    It cannot tell on a closed socket or when a probe goes unanswered: nothing is cached
    then, and the next user probes again.
    """
    global _socket_ops
    with _lock:
        if _socket_ops is not None:
            return _socket_ops
        if not socket.connected:
            return None
        replies = {op: socket.probe(op, **body) for op, body in SOCKET_PROBES.items()}
        if any(reply is None for reply in replies.values()):
            return None
        known = frozenset(op for op, reply in replies.items() if reply and op_is_known(reply))
        missing = sorted(set(SOCKET_PROBES) - known)
        if missing:
            log.warning("server lacks ops %s: their tasks are off in this run", missing)
        _socket_ops = known
        return known


def admin_capabilities(base_url: str, headers: dict[str, str]) -> frozenset[str]:
    """The admin routes the server has; probed on the first call in this process."""
    global _admin_routes
    with _lock:
        if _admin_routes is None:
            known = set()
            for name, method, path, body in ADMIN_PROBES:
                if _route_exists(base_url + path, method, body, headers):
                    known.add(name)
            missing = sorted({p[0] for p in ADMIN_PROBES} - known)
            if missing:
                log.warning("server lacks admin routes %s: their tasks are off", missing)
            _admin_routes = frozenset(known)
        return _admin_routes


def _route_exists(
    url: str, method: str, body: dict[str, Any] | None, headers: dict[str, str]
) -> bool:
    # Plain requests, not the user's HttpSession: a probe is no request of the test.
    try:
        response = requests.request(method, url, json=body, headers=headers, timeout=5)
    except requests.RequestException:
        return True
    return response.status_code != 404 or _is_our_error(response)


def _is_our_error(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "error" in body
