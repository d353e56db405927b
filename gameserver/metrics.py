"""Prometheus metrics of one gateway process, in a registry of its own (no globals)."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.types import Scope

# Why the gateway's edge refused something (docs/protocol.md, "Transport and limits").
EDGE_REFUSALS = (
    "login_rate",
    "sockets_per_address",
    "origin",
    "message_flood",
    "body_too_large",
    "admin_key_throttle",
)

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # The process's CPU, memory and file descriptors, and its garbage collections.
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "gameserver_requests",
            "Requests handled, by op or route.",
            ["op"],
            registry=self.registry,
        )
        self.errors = Counter(
            "gameserver_errors",
            "Error replies, by op and code.",
            ["op", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gameserver_request_seconds",
            "Time to handle a request, by op or route.",
            ["op"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sockets_open = Gauge(
            "gameserver_sockets_open",
            "Game sockets open on this gateway.",
            registry=self.registry,
        )
        self.pushes = Counter(
            "gameserver_pushes",
            "Server pushes queued to sockets, by event.",
            ["event"],
            registry=self.registry,
        )
        self.slow_consumers = Counter(
            "gameserver_slow_consumers_closed",
            "Sockets closed because their queue was full.",
            registry=self.registry,
        )
        self.refused_writes = Counter(
            "gameserver_refused_writes",
            "Score writes a board's rules refused, by board and reason.",
            ["board", "reason"],
            registry=self.registry,
        )
        self.edge_refusals = Counter(
            "gameserver_edge_refusals",
            "Requests and sockets refused by an abuse limit, by reason.",
            ["reason"],
            registry=self.registry,
        )
        for reason in EDGE_REFUSALS:
            self.edge_refusals.labels(reason)
        self.allocator_failures = Gauge(
            "gameserver_matchmaking_allocator_failures",
            "Allocator calls that failed or timed out so far (all workers), by queue.",
            ["queue"],
            registry=self.registry,
        )

        for event in ("rank.changed", "board.top", "match.found"):
            # Exported at 0 from the start: a rate over a series that appears only with
            # its first push reads as missing data, not as zero.
            self.pushes.labels(event)
        # Labelled children by label values: `labels()` takes a lock and builds a key on
        # every call, a fifth of the gateway's CPU during a push fan-out.
        self._children: dict[tuple[str, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (metric._name, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def count_push(self, event: str) -> None:
        self._child(self.pushes, event).inc()

    def count_request(self, op: str, seconds: float) -> None:
        self._child(self.requests, op).inc()
        self._child(self.latency, op).observe(seconds)

    def count_refused_write(self, board: str, reason: str) -> None:
        self._child(self.refused_writes, board, reason).inc()

    def count_refusal(self, reason: str) -> None:
        self._child(self.edge_refusals, reason).inc()

    def count_error(self, op: str, code: str) -> None:
        self._child(self.errors, op, code).inc()

    def set_allocator_failures(self, by_queue: dict[str, int]) -> None:
        for queue, count in by_queue.items():
            self._child(self.allocator_failures, queue).set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def count_refusal(scope: Scope, reason: str) -> None:
    """Count a refusal from ASGI middleware, which runs outside any route's services."""
    state = getattr(scope.get("app"), "state", None)
    services = getattr(state, "services", None)
    if services is not None:
        services.metrics.count_refusal(reason)
