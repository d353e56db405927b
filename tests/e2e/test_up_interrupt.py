"""Ctrl-C (SIGINT) stops `gameserver up` and every process it started."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import psutil

from gameserver.embedded import find_free_base_port
from tests.gateway_harness import env_without_settings, free_port, read_banner, up_command


def _ignore_sigint() -> None:
    # What a non-interactive shell does to a job it starts with `&`.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_sigint_stops_up_and_its_cluster_even_when_started_in_the_background(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        up_command(data_dir, free_port(), find_free_base_port()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env_without_settings(),
        preexec_fn=_ignore_sigint,
    )
    children: list[psutil.Process] = []
    try:
        lines = read_banner(process, "admin key: ", 30.0)
        assert lines and lines[-1].startswith("admin key: "), "".join(lines)
        children = psutil.Process(process.pid).children(recursive=True)
        assert children
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == []
    finally:
        for child in children:  # only what this test's `up` started, by pid
            if child.is_running():
                child.kill()
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
