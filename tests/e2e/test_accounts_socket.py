"""account.get/update/link/unlink and session.logout on the game socket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.game_client import device_login, game_client
from tests.gateway_harness import Gateway, gateway_settings, running_gateway
from tests.identity_tokens import SigningKey, provider, write_jwks

pytestmark = pytest.mark.usefixtures("clean_valkey")

DEVICE = "device-0123456789abcdef"
OTHER_DEVICE = "device-fedcba9876543210"


async def test_account_get_describes_the_callers_account(gateway: Gateway) -> None:
    login = (await device_login(gateway.base_url, DEVICE)).json()
    async with game_client(gateway.base_url, login["player_id"], token=login["token"]) as c:
        account = await c.ok("account.get")
    assert account["player_id"] == login["player_id"]
    assert account["display_name"] is None and account["created_at"] > 0
    assert account["links"] == [{"kind": "device"}]


async def test_account_update_sets_the_display_name(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        updated = await client.ok("account.update", display_name="Zoë the 2nd")
        assert updated["display_name"] == "Zoë the 2nd"
        assert (await client.ok("account.get"))["display_name"] == "Zoë the 2nd"


@pytest.mark.parametrize("name", ["", "x" * 33, "tab\there", "\x00", None, 7, "   "])
async def test_a_bad_display_name_is_refused_and_changes_nothing(
    gateway: Gateway, name: object
) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        await client.ok("account.update", display_name="Ann")
        reply = await client.call("account.update", display_name=name)
        assert reply["error"]["code"] == "bad_request"
        assert (await client.ok("account.get"))["display_name"] == "Ann"


async def test_a_linked_device_logs_into_the_same_account(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        account = await client.ok("account.link", device_id=DEVICE)
        assert account["links"] == [{"kind": "device"}]
    login = (await device_login(gateway.base_url, DEVICE)).json()
    assert login["player_id"] == "p1" and login["created"] is False


async def test_linking_another_accounts_device_is_a_conflict(gateway: Gateway) -> None:
    owner = (await device_login(gateway.base_url, DEVICE)).json()["player_id"]
    async with game_client(gateway.base_url, "p1") as client:
        reply = await client.call("account.link", device_id=DEVICE)
        assert reply["error"]["code"] == "conflict"
        assert (await client.ok("account.get"))["links"] == []
    assert (await device_login(gateway.base_url, DEVICE)).json()["player_id"] == owner


async def test_a_new_device_replaces_the_accounts_old_one(gateway: Gateway) -> None:
    login = (await device_login(gateway.base_url, DEVICE)).json()
    async with game_client(gateway.base_url, login["player_id"], token=login["token"]) as c:
        await c.ok("account.link", device_id=OTHER_DEVICE)
    moved = (await device_login(gateway.base_url, OTHER_DEVICE)).json()
    assert moved["player_id"] == login["player_id"]
    fresh = (await device_login(gateway.base_url, DEVICE)).json()
    assert fresh["created"] is True and fresh["player_id"] != login["player_id"]


async def test_unlinking_the_last_credential_is_a_conflict(gateway: Gateway) -> None:
    login = (await device_login(gateway.base_url, DEVICE)).json()
    async with game_client(gateway.base_url, login["player_id"], token=login["token"]) as c:
        reply = await c.call("account.unlink", kind="device")
        assert reply["error"]["code"] == "conflict"
        assert (await c.ok("account.get"))["links"] == [{"kind": "device"}]
    again = (await device_login(gateway.base_url, DEVICE)).json()
    assert again["player_id"] == login["player_id"]


@pytest.mark.parametrize(
    "fields",
    [{}, {"kind": "password"}, {"kind": "provider"}, {"kind": "provider", "provider": "x"}],
)
async def test_a_bad_unlink_is_a_bad_request(gateway: Gateway, fields: dict[str, str]) -> None:
    login = (await device_login(gateway.base_url, DEVICE)).json()
    async with game_client(gateway.base_url, login["player_id"], token=login["token"]) as c:
        reply = await c.call("account.unlink", **fields)
        assert reply["error"]["code"] == "bad_request"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"device_id": "short"},
        {"device_id": DEVICE, "provider": "x", "id_token": "a.b.c"},
        {"provider": "nobody", "id_token": "a.b.c"},
    ],
)
async def test_a_bad_link_is_a_bad_request(gateway: Gateway, fields: dict[str, str]) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        reply = await client.call("account.link", **fields)
        assert reply["error"]["code"] == "bad_request"
        assert (await client.ok("account.get"))["links"] == []


async def test_a_provider_link_then_device_unlink_keeps_the_provider_login(
    cluster_seeds: tuple[tuple[str, int], ...], tmp_path: Path
) -> None:
    key = SigningKey.make("k1", "ES256")
    path = write_jwks(tmp_path / "jwks.json", key)
    settings = gateway_settings(
        cluster_seeds, "gw-id", auth_providers=json.dumps(provider("filed", jwks_file=str(path)))
    )
    async with running_gateway(settings) as gateway:
        login = (await device_login(gateway.base_url, DEVICE)).json()
        player = login["player_id"]
        async with game_client(gateway.base_url, player, token=login["token"]) as client:
            linked = await client.ok("account.link", provider="filed", id_token=key.token("s1"))
            assert linked["links"] == [
                {"kind": "device"},
                {"kind": "provider", "provider": "filed"},
            ]
            bad = await client.call("account.link", provider="filed", id_token="x.y.z")
            assert bad["error"]["code"] == "unauthorized"
            unlinked = await client.ok("account.unlink", kind="device")
            assert unlinked["links"] == [{"kind": "provider", "provider": "filed"}]
        by_token = await device_login(gateway.base_url, DEVICE)
        assert by_token.json()["player_id"] != player
        async with game_client(gateway.base_url, "p2") as other:
            taken = await other.call("account.link", provider="filed", id_token=key.token("s1"))
            assert taken["error"]["code"] == "conflict"


async def test_logout_replies_then_closes_and_the_token_is_refused_on_every_gateway(
    gateway: Gateway, cluster_seeds: tuple[tuple[str, int], ...]
) -> None:
    login = (await device_login(gateway.base_url, DEVICE)).json()
    player, token = login["player_id"], login["token"]
    async with running_gateway(gateway_settings(cluster_seeds, "gw-b")) as second:
        async with game_client(gateway.base_url, player, token=token) as client:
            reply = await client.call("session.logout")
            assert reply["ok"] is True
            assert await client.wait_closed() == 1000
        for where in (gateway, second):
            async with game_client(where.base_url, player, token=token) as again:
                assert await again.wait_closed() == 4401


async def test_update_link_and_unlink_answer_as_account_get(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        replies = [
            await client.ok("account.update", display_name="n" * 32),
            await client.ok("account.link", device_id=DEVICE),
            await client.ok("account.link", device_id=OTHER_DEVICE),
        ]
        current = await client.ok("account.get")
    fields = {"player_id", "display_name", "created_at", "links"}
    for reply in [*replies, current]:
        assert fields <= set(reply), reply
        assert (reply["player_id"], reply["display_name"]) == ("p1", "n" * 32)
        assert reply["created_at"] == current["created_at"]
    assert [r["links"] for r in replies] == [[], [{"kind": "device"}], [{"kind": "device"}]]
