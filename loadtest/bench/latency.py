"""Latency samples of one phase and the figures a report shows of them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted samples (0.0 for none)."""
    if not sorted_samples:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_samples)))
    return sorted_samples[rank - 1]


@dataclass
class Samples:
    """Round-trip times in seconds, plus the calls that failed and why."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)

    def add_error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def merge(self, other: Samples) -> None:
        self.latencies.extend(other.latencies)
        self.errors += other.errors
        for kind, count in other.error_kinds.items():
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + count


@dataclass(frozen=True)
class PhaseResult:
    """One measured phase: a target (gateway or raw) doing one operation."""

    target: str
    operation: str
    concurrency: int
    duration_s: float
    ops: int
    errors: int
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    # Cores used during the phase: the client (all its processes), the gateway(s), the
    # worker, the Valkey nodes together and one by one (None: unknown).
    client_cpu: float | None = None
    gateway_cpu: float | None = None
    valkey_cpu: float | None = None
    error_kinds: dict[str, int] = field(default_factory=dict)
    worker_cpu: float | None = None
    valkey_node_cpu: dict[str, float] = field(default_factory=dict)
    # Microseconds of CPU per operation served: gateway, worker, valkey, server (their
    # sum), client. The headline: it moves far less with other load than ops/s does.
    us_per_op: dict[str, float] = field(default_factory=dict)
    # The board's layout ("1 sub-board", "6 sub-boards"), if the op reads or writes one.
    layout: str | None = None
    client_procs: int = 1
    # Cores the rest of the machine used meanwhile, the 1-minute load before and after,
    # and why this phase counts as measured on a busy machine (empty: quiet enough).
    other_cpu: float | None = None
    load_before: float | None = None
    load_after: float | None = None
    busy: list[str] = field(default_factory=list)
    # The client used nearly all the cores it had: the figure may be the client's limit.
    client_bound: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summarise(
    target: str, operation: str, concurrency: int, duration_s: float, samples: Samples
) -> PhaseResult:
    ordered = sorted(samples.latencies)
    return PhaseResult(
        target=target,
        operation=operation,
        concurrency=concurrency,
        duration_s=round(duration_s, 3),
        ops=len(ordered),
        errors=samples.errors,
        ops_per_s=round(len(ordered) / duration_s, 1) if duration_s > 0 else 0.0,
        p50_ms=round(percentile(ordered, 0.50) * 1000, 3),
        p99_ms=round(percentile(ordered, 0.99) * 1000, 3),
        max_ms=round((ordered[-1] if ordered else 0.0) * 1000, 3),
        error_kinds=dict(samples.error_kinds),
    )
