"""POST /v1/sessions: credentials, signed tokens, one live session per player, client key;
and the trusted server's POST /admin/v1/sessions."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.sessions.store import session_key
from tests.game_client import create_session, device_id_for, device_login, game_client
from tests.gateway_harness import ADMIN_KEY, Gateway, gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")

DEVICE = "device-0123456789abcdef"


async def test_a_session_has_token_id_player_and_expiry(gateway: Gateway) -> None:
    created = await create_session(gateway.base_url, "p1", region="eu")
    assert created["player_id"] == "p1"
    assert created["expires_in"] == 60
    assert created["created"] is True
    assert created["token"] and created["session_id"]


async def test_a_first_device_login_creates_an_account_with_a_random_id(
    gateway: Gateway,
) -> None:
    first = await device_login(gateway.base_url, DEVICE, region="eu")
    assert first.status_code == 201, first.text
    body = first.json()
    assert re.fullmatch(r"[a-z0-9]{16}", body["player_id"])
    assert body["created"] is True and body["token"] and body["expires_in"] == 60
    again = (await device_login(gateway.base_url, DEVICE)).json()
    assert again["player_id"] == body["player_id"] and again["created"] is False
    other = (await device_login(gateway.base_url, DEVICE + "x")).json()
    assert other["player_id"] != body["player_id"] and other["created"] is True


async def test_a_device_login_opens_the_socket_as_its_player(gateway: Gateway) -> None:
    login = (await device_login(gateway.base_url, DEVICE, display_name="Ann")).json()
    async with game_client(gateway.base_url, login["player_id"], token=login["token"]) as c:
        account = await c.ok("account.get")
    assert account["player_id"] == login["player_id"] and account["display_name"] == "Ann"
    assert account["links"] == [{"kind": "device"}]


async def test_the_device_id_is_never_stored(
    gateway: Gateway, valkey: ValkeyCluster, admin_valkey: ValkeyCluster
) -> None:
    await device_login(gateway.base_url, DEVICE)
    for node in admin_valkey.get_primaries():
        async for key in admin_valkey.scan_iter(target_nodes=node):
            assert DEVICE.encode() not in key
            kind = await admin_valkey.type(key)
            if kind == b"hash":
                for field, value in (await admin_valkey.hgetall(key)).items():
                    assert DEVICE.encode() not in field + value, key
            elif kind == b"string":
                assert DEVICE.encode() not in (await valkey.get(key) or b""), key


async def test_a_bare_player_id_login_is_forbidden_without_dev_login(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        response = await http.post("/v1/sessions", json={"player_id": "victim"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


async def test_dev_login_allows_a_bare_player_id(
    cluster_seeds: tuple[tuple[str, int], ...],
) -> None:
    async with running_gateway(gateway_settings(cluster_seeds, "gw-dev", dev_login=True)) as gw:
        async with httpx.AsyncClient(base_url=gw.base_url) as http:
            response = await http.post("/v1/sessions", json={"player_id": "p1"})
    assert response.status_code == 201, response.text
    assert response.json()["player_id"] == "p1"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"region": "eu"},
        {"device_id": "short"},
        {"device_id": "x" * 129},
        {"device_id": 7},
        {"device_id": "has space 0123456789"},
        {"device_id": DEVICE, "region": "bad region!"},
        {"device_id": DEVICE, "display_name": ""},
        {"device_id": DEVICE, "display_name": "x" * 33},
        {"device_id": DEVICE, "display_name": "bell\x07"},
        {"device_id": DEVICE, "player_id": "p1"},
        {"device_id": DEVICE, "provider": "test", "id_token": "a.b.c"},
        {"provider": "test"},
        {"id_token": "a.b.c"},
        [1, 2],
    ],
)
async def test_a_bad_session_request_is_a_bad_request_and_creates_nothing(
    gateway: Gateway, valkey: ValkeyCluster, body: object, admin_valkey: ValkeyCluster
) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        response = await http.post("/v1/sessions", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"
    accounts = [k async for k in admin_valkey.scan_iter(match="acct:*")]
    assert accounts == []


@pytest.mark.parametrize(
    "device_id", ["d" * 16, "d" * 128, "Az09_.:-" * 2, "0123456789abcdef:mobile.v2_x-y"]
)
async def test_a_device_id_of_16_to_128_allowed_characters_logs_in(
    gateway: Gateway, device_id: str
) -> None:
    response = await device_login(gateway.base_url, device_id)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("device_id", ["d" * 15, "0123456789abcdef/", "0123456789abcdef+"])
async def test_a_device_id_too_short_or_with_another_character_is_a_bad_request(
    gateway: Gateway, device_id: str
) -> None:
    response = await device_login(gateway.base_url, device_id)
    assert response.status_code == 400, response.text


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
    body = {"device_id": device_id_for("p1")}
    async with running_gateway(settings) as keyed:
        async with httpx.AsyncClient(base_url=keyed.base_url) as http:
            missing = await http.post("/v1/sessions", json=body)
            wrong = await http.post(
                "/v1/sessions", json=body, headers={"Authorization": "Bearer no"}
            )
        assert missing.status_code == 401 and wrong.status_code == 401
        created = await create_session(keyed.base_url, "p1", client_key="ck")
        assert re.fullmatch(r"[a-z0-9]{16}", created["player_id"])


async def _trusted_login(gateway: Gateway, key: str | None, body: Any) -> httpx.Response:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        return await http.post("/admin/v1/sessions", json=body, headers=headers)


async def test_a_trusted_server_logs_a_named_player_in_and_creates_the_account(
    gateway: Gateway,
) -> None:
    first = await _trusted_login(gateway, ADMIN_KEY, {"player_id": "p1", "display_name": "Ann"})
    assert first.status_code == 201 and first.json()["created"] is True
    again = await _trusted_login(gateway, ADMIN_KEY, {"player_id": "p1"})
    assert again.json()["created"] is False and again.json()["player_id"] == "p1"
    async with game_client(gateway.base_url, "p1", token=again.json()["token"]) as client:
        assert (await client.ok("account.get"))["display_name"] == "Ann"


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("wrong", 403)])
async def test_the_trusted_login_needs_the_admin_key(
    gateway: Gateway, key: str | None, status: int
) -> None:
    response = await _trusted_login(gateway, key, {"player_id": "p1"})
    assert response.status_code == status


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"player_id": "bad id"},
        {"player_id": "p1", "display_name": 5},
        {"player_id": "p1", "region": "?"},
    ],
)
async def test_a_bad_trusted_login_is_a_bad_request(gateway: Gateway, body: object) -> None:
    response = await _trusted_login(gateway, ADMIN_KEY, body)
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("player_id", "status"), [("p" * 64, 201), ("A.b-C_9", 201), ("p" * 65, 400), ("p/1", 400)]
)
async def test_a_player_id_is_1_to_64_characters_of_the_id_alphabet(
    gateway: Gateway, player_id: str, status: int
) -> None:
    response = await _trusted_login(gateway, ADMIN_KEY, {"player_id": player_id})
    assert response.status_code == status, response.text


async def test_concurrent_first_logins_of_one_device_make_one_account(gateway: Gateway) -> None:
    replies = await asyncio.gather(*(device_login(gateway.base_url, DEVICE) for _ in range(20)))
    bodies = [reply.json() for reply in replies]
    assert all(reply.status_code == 201 for reply in replies)
    assert len({body["player_id"] for body in bodies}) == 1
    assert sum(body["created"] for body in bodies) == 1


async def test_a_display_name_counts_only_on_the_login_that_creates_the_account(
    gateway: Gateway,
) -> None:
    await device_login(gateway.base_url, DEVICE, display_name="Ann")
    later = (await device_login(gateway.base_url, DEVICE, display_name="Bob")).json()
    async with game_client(gateway.base_url, later["player_id"], token=later["token"]) as c:
        assert (await c.ok("account.get"))["display_name"] == "Ann"


async def test_the_trusted_login_is_not_held_to_the_per_address_login_limit(
    cluster_seeds: tuple[tuple[str, int], ...],
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-limited", login_rate_per_s=0.01, login_burst=1)
    async with running_gateway(settings) as limited:
        assert (await device_login(limited.base_url, DEVICE)).status_code == 201
        assert (await device_login(limited.base_url, DEVICE)).status_code == 429
        for player in ("p1", "p2", "p3"):
            response = await _trusted_login(limited, ADMIN_KEY, {"player_id": player})
            assert response.status_code == 201, response.text


async def test_a_closed_socket_leaves_its_session_the_whole_expiry_to_come_back(
    cluster_seeds: tuple[tuple[str, int], ...], admin_valkey: ValkeyCluster
) -> None:
    # The keepalive refreshes every 10 s: none runs while this socket is open, so only
    # the close itself can restart the idle clock.
    settings = gateway_settings(cluster_seeds, "gw-idle", session_ttl_s=30)
    async with running_gateway(settings) as gw:
        async with game_client(gw.base_url, "p1") as client:
            await client.ok("ping")
            await asyncio.sleep(2)
        async with gw.admin() as admin:
            for _ in range(100):
                view = (await admin.get("/admin/v1/players/p1")).json()
                if not view["session"]["connected"]:
                    break
                await asyncio.sleep(0.02)
        assert view["session"]["connected"] is False
        assert await admin_valkey.pttl(session_key("p1")) > 29_000


async def test_the_region_given_at_login_is_the_sessions_own(gateway: Gateway) -> None:
    trusted = await _trusted_login(gateway, ADMIN_KEY, {"player_id": "p1", "region": "eu"})
    assert trusted.status_code == 201, trusted.text
    device = (await device_login(gateway.base_url, DEVICE, region="us-east")).json()
    async with gateway.admin() as admin:
        first = (await admin.get("/admin/v1/players/p1")).json()["session"]
        second = (await admin.get(f"/admin/v1/players/{device['player_id']}")).json()["session"]
    assert (first["session_id"], first["region"]) == (trusted.json()["session_id"], "eu")
    assert (second["session_id"], second["region"]) == (device["session_id"], "us-east")
