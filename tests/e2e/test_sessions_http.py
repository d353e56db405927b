"""POST /v1/sessions: signed tokens, one live session per player, client key."""

from __future__ import annotations

import httpx
import pytest

from tests.game_client import create_session, game_client
from tests.gateway_harness import Gateway, gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


async def test_a_session_has_token_id_player_and_expiry(gateway: Gateway) -> None:
    created = await create_session(gateway.base_url, "p1", region="eu")
    assert created["player_id"] == "p1"
    assert created["expires_in"] == 60
    assert created["token"] and created["session_id"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"player_id": ""},
        {"player_id": "has space"},
        {"player_id": "x" * 65},
        {"player_id": 7},
        {"player_id": "p1", "region": "bad region!"},
        [1, 2],
    ],
)
async def test_a_bad_session_request_is_a_bad_request(gateway: Gateway, body: object) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        response = await http.post("/v1/sessions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


async def test_a_body_that_is_not_json_is_a_bad_request(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        response = await http.post("/v1/sessions", content=b"{nope")
    assert response.status_code == 400


async def test_a_new_session_replaces_the_old_socket(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as old:
        await old.ok("ping")
        await create_session(gateway.base_url, "p1")
        event = await old.next_event("session.replaced")
        assert event["event"] == "session.replaced" and isinstance(event["ts"], int)
        assert await old.wait_closed() == 4409


async def test_the_replaced_token_no_longer_opens_a_socket(gateway: Gateway) -> None:
    first = await create_session(gateway.base_url, "p1")
    await create_session(gateway.base_url, "p1")
    async with game_client(gateway.base_url, "p1", token=first["token"]) as client:
        assert await client.wait_closed() == 4401


async def test_the_client_key_is_required_where_configured(
    cluster_seeds: tuple[tuple[str, int], ...],
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-keyed", client_key="ck")
    async with running_gateway(settings) as keyed:
        async with httpx.AsyncClient(base_url=keyed.base_url) as http:
            missing = await http.post("/v1/sessions", json={"player_id": "p1"})
            wrong = await http.post(
                "/v1/sessions", json={"player_id": "p1"}, headers={"Authorization": "Bearer no"}
            )
        assert missing.status_code == 401 and wrong.status_code == 401
        created = await create_session(keyed.base_url, "p1", client_key="ck")
        assert created["player_id"] == "p1"
