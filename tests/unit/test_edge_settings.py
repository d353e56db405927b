"""The settings of the gateway's edge: flags and environment variables, checked at start."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gameserver.cli import _settings, build_parser
from gameserver.runner import listening_sockets
from gameserver.settings import Settings, settings_from_env
from tests.gateway_harness import free_port


@pytest.mark.parametrize("command", ["up", "serve"])
def test_up_and_serve_take_a_certificate_and_an_admin_port(command: str) -> None:
    args = build_parser().parse_args(
        [command, "--certfile", "c.pem", "--keyfile", "k.pem", "--admin-port", "9001"]
    )
    settings = _settings(args)
    assert settings.certfile == Path("c.pem") and settings.keyfile == Path("k.pem")
    assert settings.admin_port == 9001


def test_the_edge_limits_come_from_the_environment() -> None:
    settings = settings_from_env(
        {
            "GAMESERVER_LOGIN_RATE_PER_S": "2.5",
            "GAMESERVER_LOGIN_BURST": "7",
            "GAMESERVER_TRUSTED_PROXIES": "10.0.0.0/8, ::1",
            "GAMESERVER_ALLOWED_ORIGINS": "https://a.example,https://b.example",
            "GAMESERVER_MAX_SOCKETS_PER_ADDRESS": "0",
            "GAMESERVER_MAX_ADMIN_SOCKETS_AWAITING_KEY_PER_ADDRESS": "3",
            "GAMESERVER_MAX_BODY_BYTES": "2048",
            "GAMESERVER_ADMIN_PORT": "9001",
        }
    )
    assert (settings.login_rate_per_s, settings.login_burst) == (2.5, 7)
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1")
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.max_sockets_per_address == 0 and settings.max_body_bytes == 2048
    assert settings.max_admin_sockets_awaiting_key_per_address == 3
    assert settings.admin_port == 9001


def test_the_defaults_are_the_documented_ones() -> None:
    settings = settings_from_env({})
    assert (settings.login_rate_per_s, settings.login_burst) == (10.0, 50)
    assert settings.trusted_proxies == () and settings.allowed_origins == ()
    assert settings.admin_port is None and settings.certfile is None
    assert settings == Settings()


def test_a_trusted_proxy_that_is_no_address_stops_the_start() -> None:
    with pytest.raises(ValueError, match="proxy.local"):
        settings_from_env({"GAMESERVER_TRUSTED_PROXIES": "proxy.local"})


def test_listening_sockets_say_tcp_so_asyncio_turns_nagle_off() -> None:
    # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; with proto 0
    # every response written in two parts (headers, body) waited ~40 ms for an ACK.
    settings = Settings(port=free_port(), admin_port=free_port())
    sockets = listening_sockets(settings)
    try:
        assert [s.proto for s in sockets] == [socket.IPPROTO_TCP, socket.IPPROTO_TCP]
    finally:
        for sock in sockets:
            sock.close()
