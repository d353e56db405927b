"""Admin player endpoints: the key, the player view and ending a session."""

from __future__ import annotations

import httpx
import pytest

from domain.matchmaking.ratings import DEFAULT_RATING
from tests.game_client import game_client
from tests.gateway_harness import Gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 403), ({"Authorization": "Basic x"}, 401)],
)
async def test_admin_calls_need_the_admin_key(
    gateway: Gateway, headers: dict[str, str], status: int
) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url, headers=headers) as http:
        assert (await http.get("/admin/v1/players/p1")).status_code == status
        assert (await http.delete("/admin/v1/players/p1/session")).status_code == status


async def test_the_player_view_shows_session_and_presence(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1"), gateway.admin() as admin:
        body = (await admin.get("/admin/v1/players/p1")).json()
        assert body["presence"] == "online"
        assert body["session"]["connected"] is True
        offline = (await admin.get("/admin/v1/players/nobody")).json()
        assert offline["presence"] == "offline" and offline["session"] is None


async def test_ending_a_session_closes_its_socket_with_4403(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client, gateway.admin() as admin:
        await client.ok("ping")
        assert (await admin.delete("/admin/v1/players/p1/session")).status_code == 204
        assert await client.wait_closed() == 4403
        assert (await admin.get("/admin/v1/players/p1")).json()["presence"] == "offline"
        assert (await admin.delete("/admin/v1/players/p1/session")).status_code == 404


async def test_a_bad_player_id_is_a_bad_request(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        response = await admin.get("/admin/v1/players/bad%20id")
        assert response.status_code == 400


async def test_the_player_view_shows_the_default_rating_before_any_rated_match(
    gateway: Gateway,
) -> None:
    async with gateway.admin() as admin:
        view = (await admin.get("/admin/v1/players/p1")).json()
    assert view["rating"] == DEFAULT_RATING.to_dict()
    assert set(view["rating"]) == {"mu", "sigma", "ordinal"}
