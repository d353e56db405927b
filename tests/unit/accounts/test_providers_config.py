"""GAMESERVER_AUTH_PROVIDERS and GAMESERVER_DEV_LOGIN as read at start-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.accounts.identity import parse_providers
from gameserver.settings import settings_from_env

GOOD = {"web": {"issuer": "https://id", "audience": "game", "jwks_url": "https://id/jwks"}}


def test_providers_come_from_json_or_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(GOOD))
    for raw in (json.dumps(GOOD), str(path)):
        (provider,) = parse_providers(raw).values()
        assert (provider.name, provider.issuer, provider.audience) == ("web", "https://id", "game")
    assert parse_providers("") == {}


@pytest.mark.parametrize(
    "spec",
    [
        {"issuer": "i", "audience": "a"},
        {"issuer": "i", "audience": "a", "jwks_url": "u", "jwks_file": "f"},
        {"issuer": "i", "jwks_url": "u"},
        {"issuer": 1, "audience": "a", "jwks_url": "u"},
    ],
)
def test_a_provider_without_issuer_audience_and_one_jwks_source_is_refused(
    spec: dict[str, object],
) -> None:
    with pytest.raises(ValueError):
        parse_providers(json.dumps({"p": spec}))


@pytest.mark.parametrize(
    "url",
    [
        "http://id.example/jwks",
        "http://10.0.0.5/jwks",
        "file:///etc/jwks.json",
        "ftp://id/jwks",
        "https:///jwks",
    ],
)
def test_a_jwks_url_that_is_not_https_is_refused(url: str) -> None:
    # Keys fetched in the clear could be swapped in transit: a login as anyone.
    spec = {"issuer": "https://id", "audience": "game", "jwks_url": url}
    with pytest.raises(ValueError, match="https"):
        parse_providers(json.dumps({"p": spec}))


@pytest.mark.parametrize(
    "url",
    [
        "https://id.example/jwks",
        "http://127.0.0.1:8080/jwks",
        "http://localhost/jwks",
        "http://[::1]/j",
    ],
)
def test_a_jwks_url_over_https_or_to_a_loopback_address_is_taken(url: str) -> None:
    spec = {"issuer": "https://id", "audience": "game", "jwks_url": url}
    (provider,) = parse_providers(json.dumps({"p": spec})).values()
    assert provider.jwks_url == url


def test_dev_login_is_off_unless_turned_on() -> None:
    assert settings_from_env({}).dev_login is False
    assert settings_from_env({"GAMESERVER_DEV_LOGIN": "0"}).dev_login is False
    assert settings_from_env({"GAMESERVER_DEV_LOGIN": "1"}).dev_login is True
    raw = json.dumps(GOOD)
    assert settings_from_env({"GAMESERVER_AUTH_PROVIDERS": raw}).auth_providers == raw
