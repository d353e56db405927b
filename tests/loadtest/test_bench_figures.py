"""The bench's arithmetic and its report (no server needed)."""

from __future__ import annotations

from pathlib import Path

from loadtest.bench.compare import GATEWAY, RAW, CompareResult
from loadtest.bench.latency import PhaseResult, Samples, percentile, summarise
from loadtest.bench.report import goals, ratios
from loadtest.gameserver_up import parse_banner


def phase(target: str, operation: str, ops_per_s: float, p99_ms: float) -> PhaseResult:
    ops = int(ops_per_s * 5)
    return PhaseResult(target, operation, 64, 5.0, ops, 0, ops_per_s, 1.0, p99_ms, 9.0)


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 0.50) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile(samples, 1.0) == 100.0
    assert percentile([], 0.99) == 0.0


def test_a_phase_summary_gives_rate_and_milliseconds() -> None:
    samples = Samples(latencies=[0.001] * 99 + [0.010])
    samples.add_error("rate_limited")
    result = summarise(GATEWAY, "ping", 64, 2.0, samples)
    assert result.ops == 100 and result.ops_per_s == 50.0
    assert result.p50_ms == 1.0 and result.p99_ms == 1.0 and result.max_ms == 10.0
    assert result.errors == 1 and result.error_kinds == {"rate_limited": 1}


def test_ratios_pair_each_gateway_op_with_its_raw_commands() -> None:
    compare = CompareResult("bench", 1000)
    compare.phases = [
        phase(GATEWAY, "score.submit", 10_000, 4.0),
        phase(RAW, "ZADD", 40_000, 2.0),
        phase(RAW, "ZADD+WAIT", 20_000, 4.0),
    ]
    assert ratios(compare) == [
        {"op": "score.submit", "raw": "ZADD", "ratio": 0.25, "p99_ratio": 2.0},
        {"op": "score.submit", "raw": "ZADD+WAIT", "ratio": 0.5, "p99_ratio": 1.0},
    ]


def test_goals_not_measured_are_neither_met_nor_missed() -> None:
    found = {goal.goal: goal.met for goal in goals(None, None, None)}
    assert found["push lag p99 <= 50 ms"] is None
    assert found["20,000 sockets per process at <= 16 KiB each"] is None


def test_the_banner_of_gameserver_up_tells_url_seeds_and_admin_key() -> None:
    banner = (
        "gameserver is up at http://127.0.0.1:8100 (game socket ws://127.0.0.1:8100/v1/ws)\n"
        "Valkey cluster: 127.0.0.1:7100,127.0.0.1:7101 (data in /tmp/d)\n"
        "admin key: abc-DEF_1\n"
    )
    running = parse_banner(banner, 42, Path("/tmp/d"), Path("/tmp/d/up.log"))
    assert running is not None
    assert running.url == "http://127.0.0.1:8100"
    assert running.valkey_nodes == (("127.0.0.1", 7100), ("127.0.0.1", 7101))
    assert running.admin_key == "abc-DEF_1"
    assert parse_banner(banner.split("admin key")[0], 42, Path("/"), Path("/x")) is None
