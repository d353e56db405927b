"""The folder layout is the architecture: these rules keep the layers apart.

- `domain/` speaks the game's words: it never imports the delivery layer or web stacks.
- Inside `domain/`, only the store modules (and the shared `domain/storage/`) talk to
  Valkey; rules, models and services are plain Python.
- `gameserver/` never spells a Valkey key: key names live in the features' stores.
- The composition root builds every service once, each with its collaborators: nothing
  it built is changed afterwards (no cycle patched by assignment, `Services` frozen).
"""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import pytest

from gameserver.services import Services

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_MODULES = sorted((ROOT / "domain").rglob("*.py"))
GATEWAY_MODULES = sorted((ROOT / "gameserver").rglob("*.py"))
DELIVERY = ("gameserver", "starlette", "uvicorn", "websockets", "locust", "httpx")
# Modules that own a feature's keys and round trips.
STORE_NAMES = ("store.py", "keys.py", "calls.py")
KEY_PREFIXES = ("sess:", "lb:", "mm:", "gw:", "party:", "abuse:", "acct:")
# The composition root, and the attributes it may set: its own (`self`) and Starlette's
# places for an app's state and routing.
COMPOSITION_ROOT = ("gameserver/services.py", "gameserver/app.py")
ROOT_MAY_SET = ("self.", "app.state.", "app.router.")


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


def _assigned_attributes(path: Path) -> list[str]:
    assigned = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
        ):
            assigned.append(f"setattr({ast.unparse(node.args[0])}, ...)")
        while targets:
            target = targets.pop()
            if isinstance(target, ast.Attribute):
                assigned.append(ast.unparse(target))
            elif isinstance(target, (ast.Tuple, ast.List)):
                targets.extend(target.elts)
            elif isinstance(target, (ast.Starred, ast.Subscript)):
                targets.append(target.value)  # `a.b[k] = v` changes `a.b`
    return assigned


@pytest.mark.parametrize("name", COMPOSITION_ROOT)
def test_the_composition_root_changes_nothing_it_built(name: str) -> None:
    for attribute in _assigned_attributes(ROOT / name):
        assert attribute.startswith(ROOT_MAY_SET), (name, attribute)


def test_services_cannot_change_once_built() -> None:
    assert Services.__dataclass_params__.frozen  # type: ignore[attr-defined]
    hints = typing.get_type_hints(Services)
    for field in dataclasses.fields(Services):
        assert typing.get_origin(hints[field.name]) not in (list, dict, set), field.name
