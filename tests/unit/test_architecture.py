"""The folder layout is the architecture: these rules keep the layers apart.

- `domain/` speaks the game's words: it never imports the delivery layer or web stacks.
- Inside `domain/`, only the store modules (and the shared `domain/storage/`) talk to
  Valkey; rules, models and services are plain Python.
- `gameserver/` never spells a Valkey key: key names live in the features' stores.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_MODULES = sorted((ROOT / "domain").rglob("*.py"))
GATEWAY_MODULES = sorted((ROOT / "gameserver").rglob("*.py"))
DELIVERY = ("gameserver", "starlette", "uvicorn", "websockets", "locust", "httpx")
# Modules that own a feature's keys and round trips.
STORE_NAMES = ("store.py", "keys.py", "calls.py")
KEY_PREFIXES = ("sess:", "lb:", "mm:", "gw:", "party:", "abuse:", "acct:")


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def is_store(path: Path) -> bool:
    return path.parent.name == "storage" or path.name.endswith(STORE_NAMES)


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", DOMAIN_MODULES, ids=_relative)
def test_the_domain_never_imports_the_delivery_layer(path: Path) -> None:
    assert imported_roots(path).isdisjoint(DELIVERY)


@pytest.mark.parametrize("path", [p for p in DOMAIN_MODULES if not is_store(p)], ids=_relative)
def test_only_store_modules_import_valkey(path: Path) -> None:
    assert "valkey" not in imported_roots(path)


@pytest.mark.parametrize("path", GATEWAY_MODULES, ids=_relative)
def test_the_delivery_layer_spells_no_key_names(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not node.value.startswith(KEY_PREFIXES), (path.name, node.value)
