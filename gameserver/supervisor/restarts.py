"""The supervisor's restart counts: written by `up` to a file under its data dir, read
by its gateways and worker at each `/metrics` scrape."""

from __future__ import annotations

import json
import os
from pathlib import Path

# Set by `up` in its children's environment: the file to read.
STATE_ENV = "GAMESERVER_SUPERVISOR_STATE"
PROCESS_KINDS = ("gateway", "worker", "valkey")
_METRIC = "gameserver_supervisor_restarts_total"


def state_path(data_dir: Path) -> Path:
    return data_dir / "supervisor.json"


def write_restarts(path: Path, restarts: dict[str, int]) -> None:
    """Replace the file at once, so that a reader never sees half of it."""
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"restarts": restarts, "supervisor_pid": os.getpid()}, handle)
    os.replace(temporary, path)


def read_restarts(path: Path) -> dict[str, int]:
    try:
        raw = json.loads(path.read_text())
        return {str(k): int(v) for k, v in raw["restarts"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def render_restarts(env: dict[str, str] | None = None) -> bytes:
    """Prometheus text of the restart counts; empty when no supervisor started us."""
    source = os.environ if env is None else env
    raw = source.get(STATE_ENV)
    if not raw:
        return b""
    restarts = read_restarts(Path(raw))
    lines = [
        f"# HELP {_METRIC} Processes `gameserver up` started again after they died.",
        f"# TYPE {_METRIC} counter",
    ]
    for kind in sorted({*PROCESS_KINDS, *restarts}):
        lines.append(f'{_METRIC}{{process="{kind}"}} {restarts.get(kind, 0)}')
    return ("\n".join(lines) + "\n").encode()
