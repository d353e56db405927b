"""Durability classes are chosen per write class from the environment."""

from __future__ import annotations

import pytest

from gameserver.settings import WRITE_CLASSES, settings_from_env


def test_every_write_class_is_replicated_by_default() -> None:
    settings = settings_from_env({})
    for write_class in WRITE_CLASSES:
        policy = settings.write_policy(write_class)
        assert (policy.wait_replicas, policy.fsync) == (1, False)


def test_each_write_class_takes_its_own_durability_class() -> None:
    settings = settings_from_env(
        {
            "GAMESERVER_DURABILITY_SCORES": "fast",
            "GAMESERVER_DURABILITY_MATCHES": "FSYNC",
            "GAMESERVER_WAIT_TIMEOUT_MS": "500",
        }
    )
    assert settings.write_policy("scores").wait_replicas == 0
    matches = settings.write_policy("matches")
    assert (matches.wait_replicas, matches.fsync) == (1, True)
    # One everysec fsync interval on top of the replica wait.
    assert matches.wait_timeout_ms == 1500
    assert settings.write_policy("sessions").fsync is False


def test_an_unknown_durability_class_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="fast, replicated, fsync"):
        settings_from_env({"GAMESERVER_DURABILITY_SESSIONS": "paranoid"})
