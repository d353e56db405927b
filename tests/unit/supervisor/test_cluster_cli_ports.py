"""`gameserver cluster status|down --data-dir D` finds the ports recorded in D."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameserver.cli import main
from gameserver.embedded import find_free_base_port


def test_cluster_status_without_a_port_looks_at_the_port_recorded_in_the_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GAMESERVER_VALKEY_PORT", raising=False)
    base = find_free_base_port()
    (tmp_path / "valkey").mkdir()
    (tmp_path / "valkey" / "cluster.json").write_text(json.dumps({"base_port": base}))
    code = main(["cluster", "status", "--data-dir", str(tmp_path)])
    out = capsys.readouterr().out
    # Nothing runs there: down (2), and it looked at the recorded ports, not at 7000.
    assert code == 2
    assert f"ports {base}-{base + 5}" in out
    assert f"127.0.0.1:{base + 5}" in out and "127.0.0.1:7000" not in out
