from __future__ import annotations

import ast
from pathlib import Path

import orjson
import pytest

from loadtest import matchmaking_sim

PACKAGE = Path(__file__).resolve().parents[3] / "domain" / "matchmaking"
FORBIDDEN = ("gameserver", "starlette", "uvicorn", "websockets")
# Only the store module speaks to Valkey; the others get the client type from it.
VALKEY_ALLOWED = {"store.py"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_matchmaking_imports_no_delivery_layer_and_valkey_only_in_the_store(
    path: Path,
) -> None:
    roots = {name.split(".")[0] for name in imported_modules(path)}
    assert roots.isdisjoint(FORBIDDEN)
    if path.name not in VALKEY_ALLOWED:
        assert "valkey" not in roots


def test_the_simulation_command_runs(capsys: pytest.CaptureFixture[str]) -> None:
    matchmaking_sim.main(
        [
            "--seconds",
            "4",
            "--warmup",
            "1",
            "--rate",
            "200",
            "--pass-tickets",
            "400",
            "--pass-runs",
            "1",
            "--json",
        ]
    )
    result = orjson.loads(capsys.readouterr().out)
    assert [q["queue"] for q in result["queues"]] == ["duel", "fives"]
    assert all(q["matches"] > 0 for q in result["queues"])
    assert set(result["pass"]) == {"duel", "fives", "fives_parties"}
