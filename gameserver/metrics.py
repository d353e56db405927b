"""Prometheus metrics of one gateway or worker process, in a registry of its own."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from starlette.types import Scope

from domain.storage.auto_pipeline import NodeCounts

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
# A ticket's wait until its match: from instant to a queue's longest maximum wait.
_WAIT_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# How a session was opened: POST /v1/sessions by credential, or the trusted-server login.
LOGIN_KINDS = ("device", "provider", "dev", "trusted")


class RecentCount:
    """How many events happened in the last `window_s` seconds, in one-second buckets."""

    def __init__(self, window_s: int = 60, clock: Callable[[], float] = time.monotonic) -> None:
        self._window_s = window_s
        self._clock = clock
        self._buckets: deque[list[int]] = deque()  # [second, count], oldest first

    def add(self, count: int = 1) -> None:
        second = int(self._clock())
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += count
        else:
            self._buckets.append([second, count])
        self._drop_old(second)

    def total(self) -> int:
        self._drop_old(int(self._clock()))
        return sum(count for _, count in self._buckets)

    def _drop_old(self, second: int) -> None:
        while self._buckets and self._buckets[0][0] <= second - self._window_s:
            self._buckets.popleft()


class _QueueStats(Protocol):
    async def list_queue_stats(self) -> list[dict[str, Any]]: ...


class _NodeCountsCollector(Collector):
    """Valkey round trips and failed round trips by node, read from the storage layer's
    plain integer counters at scrape time (no labels touched on the hot path)."""

    def __init__(self) -> None:
        self.sources: list[Mapping[str, NodeCounts]] = []

    def collect(self) -> Iterator[CounterMetricFamily]:
        trips = CounterMetricFamily(
            "gameserver_valkey_round_trips",
            "Batches of commands sent to a Valkey node and answered or failed, by node.",
            labels=["node"],
        )
        errors = CounterMetricFamily(
            "gameserver_valkey_errors",
            "Round trips to a Valkey node that failed (connection lost, timeout), by node.",
            labels=["node"],
        )
        totals: dict[str, tuple[int, int]] = {}
        for source in self.sources:
            for node, counts in list(source.items()):
                sent, failed = totals.get(node, (0, 0))
                totals[node] = (sent + counts.round_trips, failed + counts.errors)
        for node, (sent, failed) in sorted(totals.items()):
            trips.add_metric([node], sent)
            errors.add_metric([node], failed)
        yield trips
        yield errors


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

        self.board_writes = Counter(
            "gameserver_board_writes",
            "Score writes a board accepted, by board.",
            ["board"],
            registry=self.registry,
        )
        self.board_pushes = Counter(
            "gameserver_board_pushes",
            "Board pushes (rank.changed, board.top) queued to sockets, by board.",
            ["board"],
            registry=self.registry,
        )
        self.sessions_online = Gauge(
            "gameserver_sessions_online",
            "Sessions with a game socket logged in on this gateway.",
            registry=self.registry,
        )
        self.logins = Counter(
            "gameserver_logins",
            "Sessions opened, by credential kind (device, provider, dev, trusted).",
            ["kind"],
            registry=self.registry,
        )
        for kind in LOGIN_KINDS:
            self.logins.labels(kind)
        # The same logins over the last minute, for the gateway's report to the cluster
        # (gameserver/gateway/figures.py): the dashboard's logins per minute.
        self.recent_logins = RecentCount()
        # Matchmaking: counted by the worker that forms the matches (its own /metrics);
        # the waiting tickets and the oldest wait are read from Valkey at each scrape.
        self.matches = Counter(
            "gameserver_matchmaking_matches",
            "Matches this worker formed and committed, by queue.",
            ["queue"],
            registry=self.registry,
        )
        self.match_wait = Histogram(
            "gameserver_matchmaking_wait_seconds",
            "How long each matched ticket waited, from its join to its match, by queue.",
            ["queue"],
            buckets=_WAIT_BUCKETS,
            registry=self.registry,
        )
        self.tickets_waiting = Gauge(
            "gameserver_matchmaking_tickets_waiting",
            "Tickets searching in a queue (all workers, read from Valkey), by queue.",
            ["queue"],
            registry=self.registry,
        )
        self.oldest_wait = Gauge(
            "gameserver_matchmaking_oldest_wait_seconds",
            "Wait of the oldest searching ticket of a queue (0 when none), by queue.",
            ["queue"],
            registry=self.registry,
        )
        self._valkey_nodes = _NodeCountsCollector()
        self.registry.register(self._valkey_nodes)

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

    def push_counter(self, event: str) -> Any:
        """The counter of one push event, for a caller that pushes it often (no lookup
        per push)."""
        return self._child(self.pushes, event)

    def count_request(self, op: str, seconds: float) -> None:
        self._child(self.requests, op).inc()
        self._child(self.latency, op).observe(seconds)

    def count_board_write(self, board: str) -> None:
        self._child(self.board_writes, board).inc()

    def board_push_counter(self, board: str) -> Any:
        """The counter of one board's pushes, kept by its feed (no lookup per push)."""
        return self._child(self.board_pushes, board)

    def count_login(self, kind: str) -> None:
        self._child(self.logins, kind).inc()
        self.recent_logins.add()

    def matches_made(self, queue: str, matches: int, waits_s: Sequence[float]) -> None:
        """A worker committed `matches` of `queue` whose tickets waited `waits_s`."""
        if matches <= 0:
            return
        self._child(self.matches, queue).inc(matches)
        histogram = self._child(self.match_wait, queue)
        for wait in waits_s:
            histogram.observe(max(0.0, wait))

    def watch_valkey_nodes(self, counts: Mapping[str, NodeCounts]) -> None:
        """Export the round trips and errors of a storage layer's node counters."""
        if not any(source is counts for source in self._valkey_nodes.sources):
            self._valkey_nodes.sources.append(counts)

    async def refresh_queues(self, matchmaking: _QueueStats) -> None:
        """Set the queue gauges from Valkey (a scrape-time read, cheaper than tracking)."""
        rows = await matchmaking.list_queue_stats()
        failures: dict[str, int] = {}
        for row in rows:
            queue = str(row["queue"])
            self._child(self.tickets_waiting, queue).set(row["waiting"])
            self._child(self.oldest_wait, queue).set(row["oldest_wait_s"] or 0.0)
            failures[queue] = int(row["allocator_failures"])
        self.set_allocator_failures(failures)

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

    async def scrape(self, matchmaking: _QueueStats) -> bytes:
        """The text of a scrape: the gauges read from Valkey first (a failed read leaves
        them as they were, so a scrape during a failover still answers)."""
        with contextlib.suppress(Exception):
            await self.refresh_queues(matchmaking)
        return self.render()


def count_refusal(scope: Scope, reason: str) -> None:
    """Count a refusal from ASGI middleware, which runs outside any route's services."""
    state = getattr(scope.get("app"), "state", None)
    services = getattr(state, "services", None)
    if services is not None:
        services.metrics.count_refusal(reason)
