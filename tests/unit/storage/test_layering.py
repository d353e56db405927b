"""The shared storage package is feature-free plumbing that every feature's store uses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[3] / "domain"
STORAGE = DOMAIN / "storage"
FEATURES = ("leaderboards", "matchmaking", "sessions", "accounts", "parties", "abuse")
# The features whose stores take the process's one storage object and nothing else.
OVER_STORAGE = ("matchmaking", "sessions", "accounts", "parties", "abuse")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(STORAGE.glob("*.py")), ids=lambda p: p.name)
def test_storage_imports_no_feature_and_no_delivery_layer(path: Path) -> None:
    for name in imported_modules(path):
        assert not name.startswith("gameserver")
        assert not any(name.startswith(f"domain.{feature}") for feature in FEATURES)
    # Its messages reach every feature's clients: none names one feature.
    assert "leaderboard" not in path.read_text().lower()


@pytest.mark.parametrize("feature", FEATURES)
def test_every_feature_reaches_the_shards_through_the_shared_caller(feature: str) -> None:
    users = [
        path.name
        for path in sorted((DOMAIN / feature).glob("*.py"))
        if "domain.storage.shard_calls" in imported_modules(path)
    ]
    assert users, f"no module of {feature} uses domain.storage.shard_calls"


@pytest.mark.parametrize("feature", OVER_STORAGE)
def test_a_feature_reaches_valkey_only_through_the_storage_layer(feature: str) -> None:
    for path in sorted((DOMAIN / feature).glob("*.py")):
        direct = sorted(
            name
            for name in imported_modules(path)
            if name == "valkey" or name.startswith("valkey.")
        )
        assert not direct, f"{feature}/{path.name} imports {direct}: use domain.storage instead"
