"""The bench's arithmetic and its report (no server needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

from loadtest.bench.cli import build_parser, resolve
from loadtest.bench.client_procs import GATEWAY_KIND, Share, split
from loadtest.bench.compare import GATEWAY, RAW, CompareResult, phase_result
from loadtest.bench.latency import PhaseResult, Samples, percentile, summarise
from loadtest.bench.processes import PhaseCpu
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


def cpu(**cores: float) -> PhaseCpu:
    return PhaseCpu(
        wall_s=2.0,
        client=cores.get("client", 0.4),
        gateway=cores.get("gateway", 0.5),
        worker=cores.get("worker", 0.1),
        valkey=cores.get("valkey", 0.4),
        valkey_nodes={"7000": 0.3, "7001": 0.1},
        other=cores.get("other", 0.0),
        load_before=cores.get("load", 0.5),
        load_after=0.5,
        cores=2,
    )


def test_cpu_per_op_divides_each_process_cores_by_the_ops_served() -> None:
    samples = Samples(latencies=[0.001] * 2000)
    result = phase_result(GATEWAY, "board.rank", 64, 2.0, samples, cpu(), layout="1 sub-board")
    # 1,000 ops/s: 1 core of server (0.5 + 0.1 + 0.4) is 1,000 us per op.
    assert result.us_per_op == {
        "server": 1000.0,
        "gateway": 500.0,
        "worker": 100.0,
        "valkey": 400.0,
        "client": 400.0,
    }
    assert result.valkey_node_cpu == {"7000": 0.3, "7001": 0.1}
    assert result.busy == [] and not result.client_bound


def test_a_raw_phase_counts_only_valkey_as_its_server() -> None:
    samples = Samples(latencies=[0.001] * 2000)
    result = phase_result(RAW, "ZREVRANK", 64, 2.0, samples, cpu(gateway=0.05, worker=0.01))
    assert result.us_per_op["server"] == result.us_per_op["valkey"] == 400.0


def test_a_phase_beside_other_work_is_flagged_busy_and_a_saturated_client_bound() -> None:
    samples = Samples(latencies=[0.001] * 2000)
    loaded = phase_result(GATEWAY, "ping", 64, 2.0, samples, cpu(load=3.5))
    crowded = phase_result(GATEWAY, "ping", 64, 2.0, samples, cpu(other=0.8))
    assert loaded.busy and "load 3.50 > 2 cores" in loaded.busy[0]
    assert crowded.busy and "0.80 cores" in crowded.busy[0]
    saturated = phase_result(GATEWAY, "ping", 64, 2.0, samples, cpu(client=0.95))
    assert saturated.client_bound
    shared = phase_result(GATEWAY, "ping", 64, 2.0, samples, cpu(client=0.95), client_procs=2)
    assert not shared.client_bound


def test_callers_are_dealt_over_client_processes_and_a_pace_shared() -> None:
    share = Share(
        GATEWAY_KIND,
        "board.top",
        "http://x",
        tokens=("t0", "t1", "t2", "t3", "t4"),
        members=("p0", "p1", "p2", "p3", "p4"),
        rate_per_s=100.0,
    )
    parts = split(share, 2)
    assert [p.members for p in parts] == [("p0", "p2", "p4"), ("p1", "p3")]
    assert [p.tokens for p in parts] == [("t0", "t2", "t4"), ("t1", "t3")]
    assert [p.rate_per_s for p in parts] == [50.0, 50.0]
    assert len(split(share, 9)) == 5


def test_the_hot_path_preset_fills_what_the_flags_leave_open() -> None:
    args: argparse.Namespace = resolve(
        build_parser().parse_args(["--preset", "hot-path", "--duration", "3"])
    )
    assert (args.concurrency, args.board_size, args.layouts) == (64, 2000, "1,6")
    assert args.duration == 3 and args.client_procs == 2 and "device.login" in args.ops
    plain = resolve(build_parser().parse_args([]))
    assert (plain.duration, plain.client_procs, plain.layouts) == (5.0, 1, "1")
