"""One live session per player across gateway processes; kicks reach any gateway."""

from __future__ import annotations

import pytest

from tests.game_client import create_session, game_client
from tests.gateway_harness import Gateway, gateway_process, gateway_settings

pytestmark = pytest.mark.usefixtures("clean_valkey")


async def test_a_login_on_one_gateway_replaces_the_socket_on_another(
    gateway: Gateway, cluster_seeds: tuple[tuple[str, int], ...]
) -> None:
    with gateway_process(gateway_settings(cluster_seeds, "gw-b")) as other:
        async with game_client(other.base_url, "p1") as on_other:
            await on_other.ok("ping")
            await create_session(gateway.base_url, "p1")
            await on_other.next_event("session.replaced")
            assert await on_other.wait_closed() == 4409


async def test_an_admin_kick_reaches_the_socket_on_another_gateway(
    gateway: Gateway, cluster_seeds: tuple[tuple[str, int], ...]
) -> None:
    with gateway_process(gateway_settings(cluster_seeds, "gw-c")) as other:
        async with game_client(other.base_url, "p1") as on_other, gateway.admin() as admin:
            await on_other.ok("ping")
            assert (await admin.delete("/admin/v1/players/p1/session")).status_code == 204
            assert await on_other.wait_closed() == 4403
