"""Where a gateway's CPU goes during a measured phase: py-spy's samples, by area.

`gameserver bench --profile` runs `py-spy record` on each gateway process for exactly
the measured window of every gateway phase (raw stacks, one file per phase and
process), then sums each sample by its innermost frame into areas. py-spy samples
Python frames: time spent in C under a Python frame (a socket write inside
`transport.write`, epoll and socket reads inside the event loop's `run`) counts to
that frame, which is what sorts the system calls into their areas below.

py-spy comes with the `profile` extra (`pip install -e '.[profile]'`) and needs the
right to read another process's memory (ptrace: root, or the same user with
`kernel.yama.ptrace_scope` 0).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_RATE_HZ = 250

# The frames whose own time is the write of a reply to a client socket: the game
# socket's direct write (gameserver/gateway/socket_protocol.py), uvicorn's awaited
# WebSocket send and its HTTP response.
_CLIENT_WRITES = frozenset(
    {
        "GameSocketProtocol.send_text_now",
        "WebSocketsSansIOProtocol.send",
        "RequestResponseCycle.send",
    }
)
# (area, test on the innermost frame's function and file), first match wins.
Frame = tuple[str, str]
AREAS: tuple[tuple[str, Callable[[Frame], bool]], ...] = (
    (
        "event loop: polling, socket reads, callbacks (uvloop)",
        lambda f: f[1].endswith("asyncio/runners.py") or "uvloop" in f[1],
    ),
    (
        "client socket writes (a WebSocket frame or an HTTP response each)",
        lambda f: f[0] in _CLIENT_WRITES,
    ),
    ("Valkey socket writes", lambda f: f[0] == "NodeLink._write"),
    (
        "WebSocket protocol (uvicorn, websockets: parsing, framing)",
        lambda f: "uvicorn/" in f[1] or "websockets/" in f[1],
    ),
    (
        "storage layer (domain/storage: batching, RESP, replies)",
        lambda f: "domain/storage/" in f[1],
    ),
    ("feature code (domain/)", lambda f: "domain/" in f[1]),
    ("gateway code (gameserver/)", lambda f: "gameserver/" in f[1]),
    ("asyncio (tasks, futures, queues)", lambda f: "asyncio/" in f[1]),
    # py-spy names files relative to their sys.path entry: a package's module has a folder.
    ("metrics, other libraries", lambda f: "/" in f[1] and not f[1].startswith("<")),
)
OTHER = "other (interpreter, dataclass inits, standard library)"


@dataclass
class Profile:
    """Samples of one phase, all its gateway processes together."""

    samples: int = 0
    areas: Counter[str] = field(default_factory=Counter)
    functions: Counter[str] = field(default_factory=Counter)


def parse_frame(text: str) -> Frame:
    """'func (path/to/file.py:12)' -> ('func', 'path/to/file.py')."""
    name, _, rest = text.rpartition(" (")
    if not name:
        return text, ""
    return name, rest.rstrip(")").rpartition(":")[0]


def area_of(frame: Frame) -> str:
    return next((name for name, test in AREAS if test(frame)), OTHER)


_LIBRARY = re.compile(r".*/(?:site-packages|python3\.\d+)/")


def _short(path: str) -> str:
    """A file as a reader knows it: relative to the libraries or to the repository."""
    short = _LIBRARY.sub("", path)
    if short != path:
        return short
    for root in ("domain/", "gameserver/", "loadtest/"):
        if root in path:
            return root + path.split(root, 1)[1]
    return path


def read_raw(paths: Sequence[Path]) -> Profile:
    """Sum py-spy's raw (collapsed) stacks: 'frame;frame;... count' per line."""
    profile = Profile()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            leaf = parse_frame(stack.rpartition(";")[2])
            profile.samples += n
            profile.areas[area_of(leaf)] += n
            profile.functions[f"{leaf[0]} ({_short(leaf[1])})"] += n
    return profile


PROFILE_INSTALL = "pip install -e '.[profile]'"


async def record(pids: Sequence[int], duration_s: float, out: Path, name: str) -> list[Path]:
    """py-spy record on each pid for `duration_s`; the raw stack files written."""
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit(f"--profile needs py-spy: {PROFILE_INSTALL}")
    # The bench made `out` before any phase ran.
    paths = [out / f"profile-{name}-{pid}.txt" for pid in pids]
    procs = [
        await asyncio.create_subprocess_exec(
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(round(duration_s)),
            "--rate",
            str(SAMPLE_RATE_HZ),
            "--format",
            "raw",
            "--output",
            str(path),
            "--nonblocking",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        for pid, path in zip(pids, paths, strict=True)
    ]
    for proc in procs:
        await proc.wait()
    return [path for path, proc in zip(paths, procs, strict=True) if proc.returncode == 0]


def render(profiles: Sequence[tuple[str, Profile]], top: int = 12) -> str:
    """Markdown: each phase's share of gateway samples by area, then its top functions."""
    lines = [
        "# Where the gateway's CPU goes",
        "",
        "Shares of py-spy samples of the gateway processes during each measured window,",
        "by the innermost frame (loadtest/bench/profile.py says how frames are sorted).",
        "",
    ]
    names = [name for name, _ in profiles]
    lines += ["| area | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    areas = [name for name, _ in AREAS] + [OTHER]
    for area in areas:
        cells = [
            f"{100 * p.areas[area] / p.samples:.1f}%" if p.samples else "-" for _, p in profiles
        ]
        lines.append(f"| {area} | " + " | ".join(cells) + " |")
    lines.append("| samples | " + " | ".join(str(p.samples) for _, p in profiles) + " |")
    for name, p in profiles:
        lines += ["", f"## {name}: top functions by own samples", ""]
        for function, n in p.functions.most_common(top):
            lines.append(f"- {100 * n / max(1, p.samples):.1f}% {function}")
    return "\n".join(lines) + "\n"
