"""What Kubernetes does to a gateway on a rollout or a scale-down, done to a real one.

The pod gets SIGTERM (after its preStop wait): the gateway closes every game socket with
1001 (going away) and exits by itself within the grace period; the client reconnects
with its token through the Service and lands on a gateway that is still up.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml

from gameserver.errors import CLOSE_GOING_AWAY
from tests.deploy.paths import KUBERNETES
from tests.game_client import game_client
from tests.gateway_harness import (
    gateway_process,
    gateway_settings,
    serve_env,
    wait_until_serving,
)

pytestmark = pytest.mark.usefixtures("clean_valkey")

Seeds = tuple[tuple[str, int], ...]


def _grace_period_s() -> int:
    for document in yaml.safe_load_all((KUBERNETES / "base" / "gateway.yaml").read_text()):
        if document["kind"] == "Deployment":
            pod = document["spec"]["template"]["spec"]
            pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
            return int(pod["terminationGracePeriodSeconds"]) - int(pre_stop[-1])
    raise AssertionError("no gateway Deployment")


@pytest.fixture
def container_gateway(cluster_seeds: Seeds) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`gameserver serve` started as the image starts it: settings from the environment."""
    settings = gateway_settings(cluster_seeds, "gw-stopping")
    process = subprocess.Popen(
        [sys.executable, "-m", "gameserver", "serve"],
        env=serve_env(settings, GAMESERVER_HOST="127.0.0.1", GAMESERVER_PORT=str(settings.port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{settings.port}"
    try:
        wait_until_serving(process, base_url)
        yield process, base_url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


async def _terminate_with_a_client(
    process: subprocess.Popen[bytes], base_url: str
) -> tuple[int | None, str]:
    """SIGTERM the gateway while a player is connected: its close code and token."""
    async with game_client(base_url, "p1") as client:
        await client.ok("ping")
        process.send_signal(signal.SIGTERM)
        code = await client.wait_closed(timeout=_grace_period_s())
        return code, client.token


async def test_sigterm_drains_the_gateway_and_its_clients_reconnect_elsewhere(
    container_gateway: tuple[subprocess.Popen[bytes], str], cluster_seeds: Seeds
) -> None:
    process, base_url = container_gateway
    with gateway_process(gateway_settings(cluster_seeds, "gw-still-up")) as still_up:
        code, token = await _terminate_with_a_client(process, base_url)
        # Closed by the server with a "come back" code, not dropped.
        assert code == CLOSE_GOING_AWAY
        # The process ends by itself, well within the pod's grace period (uvicorn
        # re-raises the signal once its shutdown is done: exit code 143 in a container).
        assert process.wait(_grace_period_s()) in (0, -signal.SIGTERM)
        async with game_client(still_up.base_url, "p1", token=token) as reconnected:
            assert (await reconnected.ok("ping"))["ok"] is True


async def test_sigterm_closes_game_sockets_with_going_away(
    container_gateway: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, base_url = container_gateway
    code, _ = await _terminate_with_a_client(process, base_url)
    assert code == CLOSE_GOING_AWAY
