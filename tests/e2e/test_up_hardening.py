"""`gameserver up` hardened: clear refusals before anything starts, secrets kept quiet,
TLS and a private admin listener."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gameserver.embedded import EmbeddedCluster, find_free_base_port
from gameserver.embedded.lock import DataDirLock
from tests.gateway_harness import env_without_settings, free_port, read_banner, up_command
from tests.tls_helpers import self_signed_certificate

_READY_TIMEOUT_S = 40.0


def _refused(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, env=env_without_settings(), timeout=60
    )


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    assert all(word in lines[0] for word in words), lines[0]


def test_up_on_a_busy_port_says_so_before_starting_the_cluster(tmp_path: Path) -> None:
    valkey_port = find_free_base_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _refused(up_command(tmp_path / "data", port, valkey_port))
    _assert_one_clear_line(result, str(port), "--port")
    # Nothing was started: the cluster's first port is still free.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", valkey_port))


def test_up_on_a_busy_admin_port_says_so(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        admin_port = taken.getsockname()[1]
        command = up_command(
            tmp_path / "data", free_port(), find_free_base_port(), "--admin-port", str(admin_port)
        )
        result = _refused(command)
    _assert_one_clear_line(result, str(admin_port), "--admin-port")


def test_up_on_a_data_dir_another_process_manages_says_so(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    lock = DataDirLock(EmbeddedCluster(data_dir).valkey_dir / "cluster.lock")
    lock.acquire()
    try:
        result = _refused(up_command(data_dir, free_port(), find_free_base_port()))
    finally:
        lock.release()
    _assert_one_clear_line(result, "another running process")


@pytest.mark.parametrize("action", ["up", "down"])
def test_cluster_up_or_down_on_a_data_dir_up_manages_says_so(tmp_path: Path, action: str) -> None:
    data_dir = tmp_path / "data"
    lock = DataDirLock(EmbeddedCluster(data_dir).valkey_dir / "cluster.lock")
    lock.acquire()
    try:
        command = [sys.executable, "-m", "gameserver", "cluster", action, "--data-dir"]
        command += [str(data_dir), "--valkey-port", str(find_free_base_port())]
        result = _refused(command)
    finally:
        lock.release()
    _assert_one_clear_line(result, f"cluster {action}", "another running process")


def test_up_refuses_a_signing_secret_other_than_the_one_its_data_dir_kept(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "secret").write_text("the-secret-earlier-starts-used\n")
    valkey_port = find_free_base_port()
    command = up_command(data_dir, free_port(), valkey_port)
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env_without_settings(GAMESERVER_SECRET="another-secret"),
        timeout=60,
    )
    _assert_one_clear_line(result, "GAMESERVER_SECRET", str(data_dir / "secret"))
    with socket.socket() as probe:  # nothing was started
        probe.bind(("127.0.0.1", valkey_port))


def test_up_with_a_key_certificate_and_admin_port(tmp_path: Path) -> None:
    """The operator's key is never printed; https only; admin calls only on their port."""
    certificate = self_signed_certificate(tmp_path)
    port, admin_port, valkey_port = free_port(), free_port(), find_free_base_port()
    admin_key = "operator-chosen-admin-key-0123456789"
    command = up_command(
        tmp_path / "data",
        port,
        valkey_port,
        "--certfile",
        str(certificate.certfile),
        "--keyfile",
        str(certificate.keyfile),
        "--admin-port",
        str(admin_port),
    )
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env_without_settings(GAMESERVER_ADMIN_KEY=admin_key),
    )
    try:
        text = "".join(read_banner(process, "Ctrl-C", _READY_TIMEOUT_S))
        assert "Ctrl-C" in text, text
        assert admin_key not in text
        assert f"https://127.0.0.1:{port}" in text and f"wss://127.0.0.1:{port}/v1/ws" in text
        context = certificate.client_context()
        headers = {"Authorization": f"Bearer {admin_key}"}
        with httpx.Client(verify=context, headers=headers) as https:
            assert https.get(f"https://127.0.0.1:{port}/readyz").status_code == 200
            assert https.get(f"https://127.0.0.1:{port}/admin/v1/boards").status_code == 404
            assert https.get(f"https://127.0.0.1:{admin_port}/admin/v1/boards").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    # The admin call is in the access log, without the key.
    assert "GET /admin/v1/boards 200 from 127.0.0.1" in output
    assert admin_key not in output
    assert process.returncode == 0


@pytest.mark.parametrize("flags", [["--certfile", "x.pem"], ["--keyfile", "k.pem"]])
def test_a_certificate_needs_its_key(tmp_path: Path, flags: list[str]) -> None:
    result = _refused(up_command(tmp_path / "data", free_port(), find_free_base_port(), *flags))
    _assert_one_clear_line(result, "--certfile and --keyfile")
