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


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy so far (/proc/stat), 0.0 if unknown."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return 0.0
    # cpu user nice system idle iowait irq softirq steal ...: all but idle and iowait.
    ticks = [int(value) for value in fields[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _CLOCK_TICKS


@dataclass(frozen=True)
class ServerProcesses:
    """The processes whose CPU a phase costs: gateways, workers, and Valkey nodes by name."""

    gateways: tuple[int, ...] = ()
    workers: tuple[int, ...] = ()
    valkey_nodes: tuple[tuple[str, int], ...] = ()  # (name, pid), e.g. ("7000", 1234)

    @property
    def valkey(self) -> tuple[int, ...]:
        return tuple(pid for _, pid in self.valkey_nodes)

    @property
    def all(self) -> tuple[int, ...]:
        return (*self.gateways, *self.workers, *self.valkey)


@dataclass(frozen=True)
class PhaseCpu:
    """Cores used over one measured window (None: not measured), and how busy the machine was.

    `other` is the rest of the machine: every core's busy time (/proc/stat) minus the
    processes measured here (server and client), so other work shows up beside the figures.
    """

    wall_s: float
    client: float | None
    gateway: float | None
    worker: float | None
    valkey: float | None
    valkey_nodes: dict[str, float]
    other: float | None
    load_before: float
    load_after: float
    cores: int

    @property
    def server(self) -> float | None:
        parts = [c for c in (self.gateway, self.worker, self.valkey) if c is not None]
        return round(sum(parts), 3) if parts else None

    @property
    def busy_reasons(self) -> list[str]:
        """Why the machine counts as busy in this window (empty: it was quiet enough)."""
        reasons = []
        if self.load_before > self.cores:
            reasons.append(f"load {self.load_before:.2f} > {self.cores} cores before")
        if self.other is not None and self.other > BUSY_OTHER_CORES:
            reasons.append(f"other processes used {self.other:.2f} cores")
        return reasons


# Other processes using more than this many cores during a phase make it a busy-machine figure.
BUSY_OTHER_CORES = 0.25


class CpuMeter:
    """Cores used by the client, each server process and the rest of the machine, one window."""

    def __init__(self, server: ServerProcesses, client_pids: Sequence[int] = ()) -> None:
        self.server = server
        # Client processes of the bench besides this one (--client-procs).
        self.client_pids = tuple(client_pids)

    def _sample(self) -> dict[str, float | None]:
        sample: dict[str, float | None] = {
            "client": client_cpu_seconds() + (cpu_seconds(self.client_pids) or 0.0),
            "gateway": cpu_seconds(self.server.gateways) if self.server.gateways else None,
            "worker": cpu_seconds(self.server.workers) if self.server.workers else None,
            "valkey": cpu_seconds(self.server.valkey) if self.server.valkey else None,
            "machine": machine_busy_seconds(),
        }
        for name, pid in self.server.valkey_nodes:
            sample[f"node {name}"] = cpu_seconds((pid,))
        return sample

    def start(self) -> None:
        self._load = os.getloadavg()[0]
        self._wall = time.perf_counter()
        self._before = self._sample()

    def stop(self) -> PhaseCpu:
        after = self._sample()
        wall = time.perf_counter() - self._wall
        rates = {k: _rate(self._before[k], after.get(k), wall) for k in self._before}
        ours = [rates[k] for k in ("client", "gateway", "worker", "valkey")]
        machine_rate = rates["machine"]
        other = None
        if machine_rate is not None and all(r is not None for r in ours):
            other = round(max(0.0, machine_rate - sum(r for r in ours if r is not None)), 3)
        return PhaseCpu(
            wall_s=round(wall, 3),
            client=rates["client"],
            gateway=rates["gateway"],
            worker=rates["worker"],
            valkey=rates["valkey"],
            valkey_nodes={
                name: rate
                for name, _ in self.server.valkey_nodes
                if (rate := rates[f"node {name}"]) is not None
            },
            other=other,
            load_before=round(self._load, 2),
            load_after=round(os.getloadavg()[0], 2),
            cores=os.cpu_count() or 1,
        )


def _rate(before: float | None, after: float | None, wall: float) -> float | None:
    if before is None or after is None:
        return None
    return round((after - before) / wall, 3)


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
