"""`gameserver up`, as a studio runs it: ready, serving, stopped cleanly, data kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from gameserver.embedded import find_free_base_port
from tests.gateway_harness import free_port

_READY_TIMEOUT_S = 30.0


def _start_up(data_dir: Path, port: int, valkey_port: int) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAMESERVER_", "VALKEY_"))}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gameserver",
            "up",
            "--port",
            str(port),
            "--valkey-port",
            str(valkey_port),
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + _READY_TIMEOUT_S
    lines: list[str] = []
    admin_key = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("admin key: "):
            admin_key = line.removeprefix("admin key: ").strip()
            return process, admin_key
    process.kill()
    process.wait()
    raise AssertionError("gameserver up did not print its banner:\n" + "".join(lines))


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    assert process.stdout is not None
    process.stdout.close()


def _valkey_servers_under(data_dir: Path) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid", "name", "cwd", "cmdline"]):
        try:
            if "valkey-server" in " ".join(proc.info["cmdline"] or []) and str(data_dir) in (
                proc.info["cwd"] or ""
            ):
                found.append(proc.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_up_serves_stops_cleanly_and_keeps_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port, valkey_port = free_port(), find_free_base_port()
    base = f"http://127.0.0.1:{port}"

    process, admin_key = _start_up(data_dir, port, valkey_port)
    try:
        assert httpx.get(base + "/readyz").status_code == 200
        assert len(_valkey_servers_under(data_dir)) == 6
        created = httpx.post(base + "/v1/sessions", json={"player_id": "p1"})
        assert created.status_code == 201
    finally:
        _stop(process)
    assert _valkey_servers_under(data_dir) == []

    process, second_key = _start_up(data_dir, port, valkey_port)
    try:
        view = httpx.get(
            base + "/admin/v1/players/p1", headers={"Authorization": f"Bearer {second_key}"}
        ).json()
        assert view["session"]["session_id"] == created.json()["session_id"]
    finally:
        _stop(process)
    assert _valkey_servers_under(data_dir) == []
