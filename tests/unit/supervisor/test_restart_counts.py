"""The supervisor's restart counts, as the gateways and the worker show them."""

from __future__ import annotations

from pathlib import Path

from gameserver.supervisor.restarts import STATE_ENV, render_restarts, write_restarts


def test_restart_counts_render_per_process_kind_with_zeros(tmp_path: Path) -> None:
    state = tmp_path / "supervisor.json"
    write_restarts(state, {"worker": 2})
    text = render_restarts({STATE_ENV: str(state)}).decode()
    assert 'gameserver_supervisor_restarts_total{process="worker"} 2' in text
    assert 'gameserver_supervisor_restarts_total{process="gateway"} 0' in text
    assert 'gameserver_supervisor_restarts_total{process="valkey"} 0' in text
    assert "# TYPE gameserver_supervisor_restarts_total counter" in text
    assert state.stat().st_mode & 0o777 == 0o600


def test_a_process_no_supervisor_started_shows_no_restart_counts() -> None:
    assert render_restarts({}) == b""
