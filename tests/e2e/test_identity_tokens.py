"""Logins with identity tokens: JWTs checked against the provider's JWKS (file or URL)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.gateway_harness import Gateway, gateway_settings, running_gateway
from tests.identity_tokens import AUDIENCE, SigningKey, jwks_server, provider, write_jwks

pytestmark = pytest.mark.usefixtures("clean_valkey")

Seeds = tuple[tuple[str, int], ...]


def _gateway(seeds: Seeds, providers: dict[str, Any]) -> Any:
    settings = gateway_settings(seeds, "gw-id", auth_providers=json.dumps(providers))
    return running_gateway(settings)


async def _login(gateway: Gateway, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        return await http.post("/v1/sessions", json=body)


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return {alg: SigningKey.make(f"k-{alg}", alg) for alg in ("RS256", "ES256", "EdDSA")}


@pytest.fixture
async def file_gateway(
    cluster_seeds: Seeds, keys: dict[str, SigningKey], tmp_path: Path
) -> AsyncIterator[Gateway]:
    path = write_jwks(tmp_path / "jwks.json", *keys.values())
    async with _gateway(cluster_seeds, provider("filed", jwks_file=str(path))) as gateway:
        yield gateway


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
async def test_a_signed_identity_token_logs_in_and_keys_the_account_by_subject(
    file_gateway: Gateway, keys: dict[str, SigningKey], algorithm: str
) -> None:
    key = keys[algorithm]
    first = await _login(file_gateway, {"provider": "filed", "id_token": key.token("user-1")})
    assert first.status_code == 201, first.text
    assert first.json()["created"] is True
    again = await _login(file_gateway, {"provider": "filed", "id_token": key.token("user-1")})
    assert again.json()["player_id"] == first.json()["player_id"]
    assert again.json()["created"] is False
    other = await _login(file_gateway, {"provider": "filed", "id_token": key.token("user-2")})
    assert other.json()["player_id"] != first.json()["player_id"]


def _refused_tokens(key: SigningKey, stranger: SigningKey) -> dict[str, str]:
    now = int(time.time())
    return {
        "expired": key.token("u", exp=now - 600, iat=now - 900),
        "not yet valid": key.token("u", nbf=now + 600),
        "another audience": key.token("u", aud="other-game"),
        "another issuer": key.token("u", iss="https://evil.example"),
        "no expiry": key.token("u", exp=None),
        "signed by another key": stranger.token("u"),
        "unsigned": jwt.encode({"sub": "u", "iss": "x", "aud": AUDIENCE}, None, algorithm="none"),
        "hmac": jwt.encode({"sub": "u"}, "secret-secret-secret-secret-long", algorithm="HS256"),
        "garbage": "not.a.jwt",
    }


async def test_a_bad_identity_token_is_unauthorized(
    file_gateway: Gateway, keys: dict[str, SigningKey]
) -> None:
    # Same key id, other key material: the signature check, not the kid, refuses it.
    stranger = SigningKey.make(keys["RS256"].kid, "RS256")
    for why, token in _refused_tokens(keys["RS256"], stranger).items():
        response = await _login(file_gateway, {"provider": "filed", "id_token": token})
        assert response.status_code == 401, (why, response.text)
        assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("signer", "named"), [("ES256", "RS256"), ("RS256", "ES256"), ("EdDSA", "RS256")]
)
async def test_a_token_whose_algorithm_is_not_its_named_keys_is_unauthorized(
    file_gateway: Gateway, keys: dict[str, SigningKey], signer: str, named: str
) -> None:
    # Signed with one provider key, naming another key of another type by its kid.
    forged = SigningKey(keys[named].kid, signer, keys[signer].private).token("u")
    response = await _login(file_gateway, {"provider": "filed", "id_token": forged})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"


async def test_an_unknown_provider_is_a_bad_request(
    file_gateway: Gateway, keys: dict[str, SigningKey]
) -> None:
    token = keys["RS256"].token("u")
    response = await _login(file_gateway, {"provider": "nobody", "id_token": token})
    assert response.status_code == 400


async def test_a_rotated_key_is_fetched_from_the_jwks_url(cluster_seeds: Seeds) -> None:
    old, new = SigningKey.make("old"), SigningKey.make("new", "ES256")
    with jwks_server(old) as server:
        where = provider("web", jwks_url=server.url, refresh_min_s=0)
        async with _gateway(cluster_seeds, where) as gateway:
            first = await _login(gateway, {"provider": "web", "id_token": old.token("u")})
            assert first.status_code == 201, first.text
            assert server.fetches == 1
            server.keys = [new]
            second = await _login(gateway, {"provider": "web", "id_token": new.token("u")})
            assert second.status_code == 201, second.text
            assert second.json()["player_id"] == first.json()["player_id"]
            assert server.fetches == 2


async def test_unknown_key_ids_refetch_the_jwks_at_most_once_per_interval(
    cluster_seeds: Seeds,
) -> None:
    known = SigningKey.make("known")
    with jwks_server(known) as server:
        where = provider("web", jwks_url=server.url, refresh_min_s=3600)
        async with _gateway(cluster_seeds, where) as gateway:
            ok = await _login(gateway, {"provider": "web", "id_token": known.token("u")})
            assert ok.status_code == 201
            for i in range(5):
                made_up = SigningKey.make(f"made-up-{i}")
                response = await _login(
                    gateway, {"provider": "web", "id_token": made_up.token("u")}
                )
                assert response.status_code == 401
            assert server.fetches == 1
