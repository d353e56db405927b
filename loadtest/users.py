"""The abstract users: a player that logs in and owns its game socket, and a trusted game server.

Concrete users (loadtest/locustfile.py) only hold tasks. A task declares the ops it needs
with `@uses(...)`; when the server under test lacks one of them (probed once per process,
see loadtest/capabilities.py), the task is off for the run instead of failing every call.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: Locust monkey-patches the standard library for gevent
# isort: on

import itertools
import os
import random
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import gevent
from locust import HttpUser, User, between, events
from locust.clients import HttpSession
from locust.env import Environment

from loadtest import thresholds
from loadtest.behaviour import match_properties, player_skill
from loadtest.capabilities import SOCKET_PROBES, admin_capabilities, socket_capabilities
from loadtest.game_socket import MATCH_TYPE, GameSocket
from loadtest.protocol import FinishedMatch, match_from_push
from loadtest.settings import LoadSettings, add_arguments, settings_from_options

F = TypeVar("F", bound=Callable[..., Any])

SOCKET_OPS = frozenset(SOCKET_PROBES)
# A player waiting this long for a match asks for its ticket's state once.
_STATUS_AFTER_S = 2.0
# A game client retries a failed login a few times, a second apart, then plays on
# (its next call tries again).
_LOGIN_ATTEMPTS = 3
_LOGIN_RETRY_S = 1.0
# Tells the player ids of this process apart from other processes and earlier runs. Made
# on first use in each process: `--processes` forks after the locustfile is imported.
_process_tag: tuple[int, str, itertools.count[int]] | None = None
# Recently logged-in players of this process: the "friends" of board.players and presence.
_known_players: deque[str] = deque(maxlen=1000)


def uses(*features: str) -> Callable[[F], F]:
    """Mark a task as needing these socket ops or admin routes (`admin:...`)."""

    def mark(task: F) -> F:
        task.gs_features = features  # type: ignore[attr-defined]
        return task

    return mark


def new_player_id(prefix: str, region: str) -> str:
    """A player id no other Locust process and no earlier run uses."""
    global _process_tag
    if _process_tag is None or _process_tag[0] != os.getpid():
        _process_tag = (os.getpid(), secrets.token_hex(3), itertools.count(1))
    _, tag, numbers = _process_tag
    return f"{prefix}-{region}-{tag}-{next(numbers)}"


def known_players(count: int) -> list[str]:
    """Up to `count` players of this process, at random."""
    pool = list(_known_players)
    return random.sample(pool, min(count, len(pool)))


def _pick_region(regions: tuple[tuple[str, float], ...]) -> str:
    names = [name for name, _ in regions]
    return random.choices(names, weights=[weight for _, weight in regions])[0]


def _keep_supported(tasks: list[Any], supported: Callable[[tuple[str, ...]], bool]) -> list[Any]:
    return [task for task in tasks if supported(getattr(task, "gs_features", ()))]


def _login(response: Any) -> tuple[str, str] | None:
    """(player id, token) of a 201 login reply."""
    if response.status_code != 201:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    token, player_id = body.get("token"), body.get("player_id")
    if not isinstance(token, str) or not isinstance(player_id, str):
        return None
    return player_id, token


class MatchNotFound(Exception):
    """A ticket that expired or waited past `--gs-match-timeout`."""


class GameUser(User):
    """A player: one session (`POST /v1/sessions`) and one game socket, both its own."""

    abstract = True
    # The key of this class's weight in `--gs-mix`.
    mix_key: ClassVar[str] = ""
    # Whether the player follows its boards (board.subscribe) for pushes.
    subscribes: ClassVar[bool] = False

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.settings: LoadSettings = settings_from_options(environment.parsed_options)
        self.region = _pick_region(self.settings.regions)
        self.skill = player_skill()
        self.player_id = new_player_id(self.settings.player_prefix, self.region)
        # A device credential of 16..128 [A-Za-z0-9_.:-]: the local id, padded.
        self.device_id = f"lt.{self.player_id}".ljust(16, "0")
        self.http = HttpSession(
            base_url=self.host, request_event=environment.events.request, user=self
        )
        self.http.trust_env = False
        self.client = GameSocket(
            environment.events.request,
            timeout_s=self.settings.call_timeout_s,
            context={"player_id": self.player_id, "region": self.region},
        )
        self.client.reconnect = self.relogin
        # The socket ops the server offers (all of them unless probed).
        self.offered: frozenset[str] = SOCKET_OPS
        # Boards this player has a score on: only there does it have a rank to look at.
        self.boards_played: set[str] = set()

    def wait_time(self) -> float:
        return random.uniform(self.settings.think_min_s, self.settings.think_max_s)

    def on_start(self) -> None:
        for _ in range(_LOGIN_ATTEMPTS):
            if self.login():
                break
            gevent.sleep(_LOGIN_RETRY_S)
        offered = socket_capabilities(self.client) if self.settings.ops == "auto" else None
        if offered is not None:
            self.offered = offered
            tasks = _keep_supported(type(self).tasks, lambda need: set(need) <= offered)
            # Locust needs at least one task; an idle one stands in when nothing is offered.
            self.tasks = tasks or [GameUser.idle]
        if self.subscribes:
            self.subscribe()

    def on_stop(self) -> None:
        self.client.close()

    def login(self) -> bool:
        """A new session, then the socket: what a game client does when it starts.

        The player logs in with a device credential named after its local id; the
        server's account id for that device is the player's id from then on.
        """
        body: dict[str, Any] = {"device_id": self.device_id, "region": self.region}
        headers = {}
        if self.settings.client_key:
            headers["Authorization"] = f"Bearer {self.settings.client_key}"
        with self.http.post(
            "/v1/sessions", json=body, headers=headers, name="/v1/sessions", catch_response=True
        ) as response:
            login = _login(response)
            if login is None:
                response.failure(f"status {response.status_code}: {response.text[:200]}")
                return False
        self.player_id, token = login
        self.client.context["player_id"] = self.player_id
        ws_url = str(self.host).replace("http", "ws", 1).rstrip("/") + f"/v1/ws?token={token}"
        if not self.client.connect(ws_url):
            return False
        _known_players.append(self.player_id)
        return True

    def submit_score(self, board: str, score: int, metadata: dict[str, Any]) -> None:
        if self.client.call("score.submit", board=board, score=score, metadata=metadata):
            self.boards_played.add(board)

    def played_board(self) -> str | None:
        """A board this player has a score on (an unranked player has no rank to see)."""
        return random.choice(sorted(self.boards_played)) if self.boards_played else None

    def find_match(self) -> FinishedMatch | None:
        """Join the queue and wait for `match.found`; the wait is reported as MATCH."""
        started = time.perf_counter()
        joined = self.client.call(
            "match.join", queue=self.settings.queue, properties=match_properties(self.region)
        )
        ticket = joined.get("ticket") if joined else None
        if not isinstance(ticket, str):
            return None
        deadline = started + self.settings.match_timeout_s
        push = self.client.wait_ticket(ticket, min(_STATUS_AFTER_S, self.settings.match_timeout_s))
        if push is None:
            self.client.call("match.status", ticket=ticket)
            push = self.client.wait_ticket(ticket, max(0.0, deadline - time.perf_counter()))
        waited_ms = (time.perf_counter() - started) * 1000
        match = match_from_push(push) if push and push.get("event") == "match.found" else None
        if match is None:
            outcome = "expired" if push else f"no match.found in {self.settings.match_timeout_s} s"
            self.client.report(MATCH_TYPE, "match.found", waited_ms, MatchNotFound(outcome))
            if push is None:
                self.client.call("match.cancel", ticket=ticket)
            return None
        self.client.report(MATCH_TYPE, "match.found", waited_ms)
        return match

    def idle(self) -> None:
        """Nothing to do against a server that offers none of this user's ops."""

    def relogin(self) -> bool:
        """After a lost socket: a new session and socket, and the subscriptions again."""
        if not self.login():
            return False
        if self.subscribes:
            self.subscribe()
        return True

    def subscribe(self) -> None:
        if "board.subscribe" not in self.offered:
            return
        for board in self.settings.boards:
            self.client.call("board.subscribe", board=board, top=self.settings.subscribe_top)


class GameServerUser(HttpUser):
    """A trusted game server: the admin API with the admin key (one per process by default)."""

    abstract = True
    # Results are reported as matches end; the wait inside a task does the pacing.
    wait_time = between(0.05, 0.25)

    def on_start(self) -> None:
        self.settings: LoadSettings = settings_from_options(self.environment.parsed_options)
        self.client.headers["Authorization"] = f"Bearer {self.settings.admin_key}"
        if self.settings.ops == "auto":
            routes = admin_capabilities(str(self.host).rstrip("/"), dict(self.client.headers))
            tasks = _keep_supported(type(self).tasks, lambda need: set(need) <= routes)
            # Locust needs at least one task; an idle one stands in when nothing is offered.
            self.tasks = tasks or [GameServerUser.idle]

    def idle(self) -> None:
        """Nothing to do for a server that offers none of this user's routes."""


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    add_arguments(parser)


@events.init.add_listener
def _apply_mix(environment: Environment, **_: Any) -> None:
    """Weights of the player classes from `--gs-mix`; game servers from `--gs-admin-users`."""
    settings = settings_from_options(environment.parsed_options)
    weights = dict(settings.mix)
    for user_class in environment.user_classes:
        if issubclass(user_class, GameUser) and user_class.mix_key:
            user_class.weight = weights.get(user_class.mix_key, 0.0)
        elif issubclass(user_class, GameServerUser):
            # Without the admin key a game server could do nothing but fail.
            count = settings.admin_users if settings.admin_key else 0
            user_class.fixed_count = count
            user_class.weight = 1 if count else 0
    thresholds.register(environment, settings)
