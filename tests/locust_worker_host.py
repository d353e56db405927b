"""A Locust add-on for tests: each worker process sends its users to its own gateway.

    locust -f loadtest/locustfile.py,tests/locust_worker_host.py --worker ...

A worker takes the master's `--host` over its own; with no host on the master and
`GS_WORKER_HOST` set in a worker's environment, that worker's users go to that URL.
"""

from __future__ import annotations

import os

from locust import events
from locust.env import Environment


def _aim_at_own_gateway(environment: Environment, **_: object) -> None:
    host = os.environ.get("GS_WORKER_HOST")
    if host:
        for user_class in environment.user_classes:
            user_class.host = host


events.init.add_listener(_aim_at_own_gateway)
