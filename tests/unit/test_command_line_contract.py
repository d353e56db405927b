"""Every command, flag and variable of the command-line contract, and its defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameserver.cli import _settings, build_parser
from gameserver.settings import settings_from_env


def test_the_defaults_are_those_of_the_contract() -> None:
    settings = settings_from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert (settings.data_dir, settings.valkey_port) == (Path(".gameserver"), 7000)
    assert (settings.login_rate_per_s, settings.login_burst) == (10, 50)
    assert settings.max_frame_bytes == 16 * 1024
    assert settings.session_ttl_s == 60
    assert settings.party_invite_ttl_s == 60
    # rank.changed at most once per 100 ms per player and board; board.top 10 a second.
    assert (settings.rank_push_interval_s, settings.top_push_interval_s) == (0.1, 0.1)
    assert settings.dev_login is False
    assert settings.client_key is None
    assert settings.config_path is None
    assert not settings.allowed_origins and not settings.trusted_proxies


@pytest.mark.parametrize("command", ["up", "serve"])
def test_up_and_serve_take_host_port_certificate_and_admin_port(command: str) -> None:
    flags = ["--host", "0.0.0.0", "--port", "9001", "--admin-port", "9002"]
    tls = ["--certfile", "/c.pem", "--keyfile", "/k.pem"]
    settings = _settings(build_parser().parse_args([command, *flags, *tls]))
    assert (settings.host, settings.port, settings.admin_port) == ("0.0.0.0", 9001, 9002)
    assert (settings.certfile, settings.keyfile) == (Path("/c.pem"), Path("/k.pem"))


def test_up_takes_the_data_dir_and_the_first_valkey_port() -> None:
    args = build_parser().parse_args(["up", "--data-dir", "/tmp/d", "--valkey-port", "7100"])
    settings = _settings(args)
    assert (settings.data_dir, settings.valkey_port) == (Path("/tmp/d"), 7100)


def test_worker_is_a_command() -> None:
    assert build_parser().parse_args(["worker"]).command == "worker"


@pytest.mark.parametrize("action", ["up", "down", "status"])
def test_cluster_takes_up_down_status_with_data_dir_and_valkey_port(action: str) -> None:
    argv = ["cluster", action, "--data-dir", "/tmp/d", "--valkey-port", "7100"]
    args = build_parser().parse_args(argv)
    assert (args.action, args.data_dir, args.valkey_port) == (action, Path("/tmp/d"), 7100)


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("VALKEY_NODES", "a:1,b:2", "valkey_nodes", (("a", 1), ("b", 2))),
        ("VALKEY_USERNAME", "u", "valkey_username", "u"),
        ("VALKEY_PASSWORD", "pw", "valkey_password", "pw"),
        ("VALKEY_TLS", "1", "valkey_tls", True),
        ("VALKEY_TLS_CA", "/ca.pem", "valkey_tls_ca", Path("/ca.pem")),
        ("VALKEY_TLS_CERT", "/c.pem", "valkey_tls_cert", Path("/c.pem")),
        ("VALKEY_TLS_KEY", "/k.pem", "valkey_tls_key", Path("/k.pem")),
        ("GAMESERVER_ADMIN_KEY", "ak", "admin_key", "ak"),
        ("GAMESERVER_SECRET", "s" * 32, "secret", b"s" * 32),
        ("GAMESERVER_CLIENT_KEY", "ck", "client_key", "ck"),
        ("GAMESERVER_CONFIG", "/g.toml", "config_path", Path("/g.toml")),
        ("GAMESERVER_AUTH_PROVIDERS", '{"p": {}}', "auth_providers", '{"p": {}}'),
        ("GAMESERVER_DEV_LOGIN", "1", "dev_login", True),
        ("GAMESERVER_LOGIN_RATE_PER_S", "3", "login_rate_per_s", 3),
        ("GAMESERVER_LOGIN_BURST", "7", "login_burst", 7),
    ],
)
def test_every_variable_of_the_contract_reaches_the_settings(
    variable: str, value: str, field: str, expected: object
) -> None:
    assert getattr(settings_from_env({variable: value}), field) == expected


def test_allowed_origins_and_trusted_proxies_are_comma_separated_lists() -> None:
    settings = settings_from_env(
        {
            "GAMESERVER_ALLOWED_ORIGINS": "https://a.example,https://b.example",
            "GAMESERVER_TRUSTED_PROXIES": "10.0.0.1,10.1.0.0/16",
        }
    )
    assert list(settings.allowed_origins) == ["https://a.example", "https://b.example"]
    assert len(settings.trusted_proxies) == 2
