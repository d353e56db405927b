"""CPU and memory of the processes under test (gateway, Valkey nodes) and of this client."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """User plus system CPU seconds of these processes so far; None if any is gone."""
    total = 0.0
    try:
        for pid in pids:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    except psutil.Error:
        return None
    return total


def rss_bytes(pid: int) -> int | None:
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return None


def total_rss(pids: Sequence[int]) -> int | None:
    """The summed resident memory of these processes; None if there are none or one is gone."""
    sizes = [rss_bytes(pid) for pid in pids]
    if not sizes or any(size is None for size in sizes):
        return None
    return sum(size for size in sizes if size is not None)


# Cores used over a phase: this client, the gateway, the Valkey nodes (None: unknown).
CpuUse = tuple[float | None, float | None, float | None]


@dataclass
class CpuMeter:
    """Cores used by the client, the gateway and the Valkey nodes over one phase."""

    gateway_pids: Sequence[int] = ()
    valkey_pids: Sequence[int] = ()

    def start(self) -> None:
        self._wall = time.perf_counter()
        self._client = client_cpu_seconds()
        self._gateway = cpu_seconds(self.gateway_pids) if self.gateway_pids else None
        self._valkey = cpu_seconds(self.valkey_pids) if self.valkey_pids else None

    def stop(self) -> CpuUse:
        wall = time.perf_counter() - self._wall
        client = (client_cpu_seconds() - self._client) / wall
        gateway = _rate(self._gateway, cpu_seconds(self.gateway_pids), wall)
        valkey = _rate(self._valkey, cpu_seconds(self.valkey_pids), wall)
        return round(client, 2), gateway, valkey


def _rate(before: float | None, after: float | None, wall: float) -> float | None:
    if before is None or after is None:
        return None
    return round((after - before) / wall, 2)


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit towards `wanted` (children inherit it).

    The soft limit goes up to the hard one; a privileged process may raise the hard limit
    too. Returns the soft limit in force afterwards.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, wanted)
    if target > hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))
            return target
        except (ValueError, OSError):
            target = hard
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fd_headroom(pid: int) -> int | None:
    """File descriptors process `pid` may still open (its soft limit minus those open)."""
    try:
        process = psutil.Process(pid)
        soft = process.rlimit(psutil.RLIMIT_NOFILE)[0]
        return int(soft - process.num_fds())
    except (psutil.Error, AttributeError):
        return None


def own_fd_headroom() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft - len(os.listdir("/proc/self/fd"))


def machine() -> dict[str, object]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": os.uname().release,
        # Other work on the machine skews every figure: the 1-minute load when the run began.
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
