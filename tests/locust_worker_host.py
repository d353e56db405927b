"""A Locust add-on for tests: each worker process sends its users to its own gateway.

    locust -f loadtest/locustfile.py,tests/locust_worker_host.py --worker ...

A worker takes the master's `--host` over its own; with no host on the master and
`GS_WORKER_HOST` set in a worker's environment, that worker's users go to that URL.
With `GS_FALLBACK_HOST` too, a user whose gateway refuses connections (it was killed)
moves to that one, as a game client behind a load balancer would: its HTTP requests go
there from the next one on, and its next login (after the lost socket) logs in there.
"""

from __future__ import annotations

import os
from typing import Any

from locust import events
from locust.clients import HttpSession
from locust.env import Environment
from requests.exceptions import ConnectionError as RequestsConnectionError

from loadtest.users import GameUser


def _aim_at_own_gateway(environment: Environment, **_: object) -> None:
    host = os.environ.get("GS_WORKER_HOST")
    if host:
        for user_class in environment.user_classes:
            user_class.host = host
    fallback = os.environ.get("GS_FALLBACK_HOST")
    if fallback:
        _fall_back_to(fallback)


def _fall_back_to(fallback: str) -> None:
    request = HttpSession.request
    login = GameUser.login

    def request_or_move(self: HttpSession, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        response = request(self, method, url, *args, **kwargs)
        if isinstance(getattr(response, "error", None), RequestsConnectionError):
            self.base_url = fallback
        return response

    def login_where_the_session_goes(self: GameUser) -> bool:
        self.host = self.http.base_url
        return login(self)

    HttpSession.request = request_or_move  # type: ignore[method-assign]
    GameUser.login = login_where_the_session_goes  # type: ignore[method-assign]


events.init.add_listener(_aim_at_own_gateway)
