"""The bench's results as JSON and as markdown tables, with the project's goals beside them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loadtest.bench.capacity import CapacityResult
from loadtest.bench.compare import GATEWAY, CompareResult
from loadtest.bench.fanout import FanoutResult
from loadtest.bench.latency import PhaseResult
from loadtest.bench.raw_clients import RAW_EQUIVALENTS

# Nakama 3.x on this machine, 64 concurrent clients (docs/baselines.md).
NAKAMA = {
    "score.submit": 3_500.0,
    "board.top": 1_800.0,
    "board.around": 2_900.0,
    "login": 4_900.0,
    "socket_kib": 40.0,
}


@dataclass(frozen=True)
class Goal:
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run


def ratios(compare: CompareResult) -> list[dict[str, Any]]:
    """Gateway ops/s over raw ops/s for every pair measured."""
    rows = []
    for op, raw_names in RAW_EQUIVALENTS.items():
        # The raw baseline runs beside the first layout measured.
        gateway = _gateway(compare, op)
        for raw_name in raw_names:
            raw = next((p for p in compare.phases if p.operation == raw_name), None)
            if gateway is None or raw is None or raw.ops_per_s == 0:
                continue
            rows.append(
                {
                    "op": op,
                    "raw": raw_name,
                    "ratio": round(gateway.ops_per_s / raw.ops_per_s, 3),
                    "p99_ratio": round(gateway.p99_ms / raw.p99_ms, 2) if raw.p99_ms else None,
                }
            )
    return rows


def _gateway(compare: CompareResult | None, op: str) -> PhaseResult | None:
    if compare is None:
        return None
    return next((p for p in compare.phases if p.target == GATEWAY and p.operation == op), None)


def goals(
    compare: CompareResult | None, fanout: FanoutResult | None, capacity: CapacityResult | None
) -> list[Goal]:
    found: list[Goal] = []
    for row in ratios(compare) if compare else []:
        found.append(
            Goal(
                f"{row['op']} >= 0.5x raw {row['raw']}", f"{row['ratio']:.2f}x", row["ratio"] >= 0.5
            )
        )
    paced = compare.paced_submit if compare else None
    found.append(
        Goal(
            "score.submit p99 <= 5 ms at half of peak",
            f"{paced.p99_ms:.2f} ms at {paced.ops_per_s:.0f}/s" if paced else "not measured",
            paced.p99_ms <= 5.0 if paced else None,
        )
    )
    lag = fanout.lag_p99_ms if fanout and not fanout.unavailable else None
    found.append(
        Goal(
            "push lag p99 <= 50 ms",
            f"{lag:.1f} ms" if lag is not None else "not measured",
            lag <= 50.0 if lag is not None else None,
        )
    )
    if fanout and not fanout.unavailable:
        best = max(fanout.received_per_s, fanout.queued_per_s or 0.0)
        found.append(
            Goal(
                ">= 50k push deliveries/s per gateway process",
                f"{fanout.received_per_s:.0f}/s received"
                + (f", {fanout.queued_per_s:.0f}/s queued" if fanout.queued_per_s else ""),
                best >= 50_000,
            )
        )
    else:
        found.append(Goal(">= 50k push deliveries/s per gateway process", "not measured", None))
    if capacity and capacity.rss_per_socket_kib is not None:
        found.append(
            Goal(
                "20,000 sockets per process at <= 16 KiB each",
                f"{capacity.sockets} sockets, {capacity.rss_per_socket_kib:.1f} KiB each",
                capacity.sockets >= 20_000 and capacity.rss_per_socket_kib <= 16.0,
            )
        )
    else:
        found.append(Goal("20,000 sockets per process at <= 16 KiB each", "not measured", None))
    for op in ("score.submit", "board.top", "board.around"):
        phase = _gateway(compare, op)
        if phase is not None:
            need = 3 * NAKAMA[op]
            found.append(
                Goal(
                    f"{op} >= 3x Nakama ({need:.0f}/s)",
                    f"{phase.ops_per_s:.0f}/s",
                    phase.ops_per_s >= need,
                )
            )
    if capacity and capacity.sessions_per_s:
        need = 3 * NAKAMA["login"]
        found.append(
            Goal(
                f"login >= 3x Nakama ({need:.0f}/s)",
                f"{capacity.sessions_per_s:.0f}/s",
                capacity.sessions_per_s >= need,
            )
        )
    if capacity and capacity.rss_per_socket_kib is not None:
        need = NAKAMA["socket_kib"] / 3
        found.append(
            Goal(
                f"memory per socket <= 1/3 of Nakama ({need:.1f} KiB)",
                f"{capacity.rss_per_socket_kib:.1f} KiB",
                capacity.rss_per_socket_kib <= need,
            )
        )
    return found


def _cpu(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def busy_summary(busy: list[PhaseResult], total: int) -> str:
    """One line on the phases measured on a busy machine: how loaded, how crowded."""
    loads = [p.load_before for p in busy if p.load_before is not None]
    others = [p.other_cpu for p in busy if p.other_cpu is not None]
    found = []
    if loads:
        found.append(f"1-minute load {min(loads):.2f}-{max(loads):.2f} before them")
    if others:
        found.append(f"other processes used {min(others):.2f}-{max(others):.2f} cores")
    return (
        f"**Busy machine**: {len(busy)} of {total} phases ran beside other work "
        f"({'; '.join(found)}). Their throughput and latency say little; CPU per op "
        "moves less."
    )


def _us(per_op: dict[str, float], name: str) -> str:
    value = per_op.get(name)
    return "-" if value is None else f"{value:,.0f}"


def markdown(
    report: dict[str, Any],
    compare: CompareResult | None,
    fanout: FanoutResult | None,
    capacity: CapacityResult | None,
) -> str:
    lines = [
        f"# gameserver bench, {report['date']}",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
        f"{report['machine']['memory_gib']} GiB; 1-minute load average "
        f"{report['machine']['load_average_1m']} at the start, "
        f"{report['machine']['load_average_1m_at_end']} at the end  ",
        f"Concurrency: {report['config']['concurrency']}; each phase "
        f"{report['config']['warmup_s']} s warm-up + {report['config']['duration_s']} s measured"
        + (
            f"; {gateways} gateway processes (cores and memory summed over them)."
            if (gateways := report["config"].get("gateways") or 1) > 1
            else "; one gateway process."
        ),
        "",
    ]
    if compare is not None:
        phases = compare.phases + ([compare.paced_submit] if compare.paced_submit else [])
        busy = [p for p in phases if p.busy]
        lines += [
            f"## Server CPU per operation (board of {compare.board_size} players)",
            "",
            "Microseconds of CPU per operation served, over the measured window: every "
            "server process (gateway, worker, Valkey nodes; a raw phase's server is Valkey "
            "alone), then each, then the client's own.",
            "",
            "| target | operation | layout | server us/op | gateway | worker | valkey "
            "| client us/op | ops/s | p50 ms | p99 ms | errors | client cores (procs) "
            "| other cores | load before -> after | busy |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: | ---: | ---: | --- | --- |",
        ]
        for p in phases:
            us = p.us_per_op
            client = f"{_cpu(p.client_cpu)} ({p.client_procs})" + (
                " **client-bound**" if p.client_bound else ""
            )
            lines.append(
                f"| {p.target} | {p.operation} | {p.layout or '-'} | {_us(us, 'server')} | "
                f"{_us(us, 'gateway')} | {_us(us, 'worker')} | {_us(us, 'valkey')} | "
                f"{_us(us, 'client')} | {p.ops_per_s:,.0f} | {p.p50_ms:.2f} | "
                f"{p.p99_ms:.2f} | {p.errors} | {client} | {_cpu(p.other_cpu)} | "
                f"{_cpu(p.load_before)} -> {_cpu(p.load_after)} | "
                f"{'yes' if p.busy else 'no'} |"
            )
        lines += [
            "",
            "Cores per process (client / gateway / worker / Valkey, then each Valkey node):",
            "",
        ]
        for p in phases:
            nodes = ", ".join(f"{n} {c:.2f}" for n, c in sorted(p.valkey_node_cpu.items()))
            lines.append(
                f"- {p.target} {p.operation} ({p.layout or '-'}): {_cpu(p.client_cpu)} / "
                f"{_cpu(p.gateway_cpu)} / {_cpu(p.worker_cpu)} / {_cpu(p.valkey_cpu)}"
                + (f"; nodes: {nodes}" if nodes else "")
            )
        if busy:
            lines += ["", busy_summary(busy, len(phases))]
        lines += [
            "",
            "| op | raw equivalent | gateway/raw ops/s | gateway/raw p99 |",
            "| --- | --- | ---: | ---: |",
        ]
        for row in ratios(compare):
            p99 = "-" if row["p99_ratio"] is None else f"{row['p99_ratio']:.2f}"
            lines.append(f"| {row['op']} | {row['raw']} | {row['ratio']:.2f}x | {p99}x |")
        for op, why in compare.unavailable.items():
            lines.append(f"\n{op}: not measured ({why})")
        for note in compare.notes:
            lines.append(f"\nNote: {note}")
        lines.append("")
    if fanout is not None:
        lines += ["## Push fan-out", ""]
        queued = (
            "n/a (gameserver_pushes_total did not count them)"
            if fanout.queued_per_s is None
            else f"{fanout.queued_per_s:,.0f}"
        )
        if fanout.unavailable:
            lines.append(f"Not measured: {fanout.unavailable}")
        else:
            lines += [
                f"{fanout.subscribers} subscribers of one board, {fanout.writes} new top scores "
                f"in {fanout.duration_s} s: {queued} pushes/s queued by "
                f"the gateway, {fanout.received_per_s:,.0f}/s received "
                f"({dict(fanout.received)}); lag p50 {fanout.lag_p50_ms} ms, p99 "
                f"{fanout.lag_p99_ms} ms; {fanout.pushes_without_ts} pushes without `ts`; "
                f"{fanout.sockets_closed} sockets closed; cores: client "
                f"{_cpu(fanout.client_cpu)}, gateway {_cpu(fanout.gateway_cpu)}, worker "
                f"{_cpu(fanout.worker_cpu)}, Valkey {_cpu(fanout.valkey_cpu)}; gateway CPU per "
                f"delivery {fanout.gateway_us_per_delivery} us"
                + (f" (**busy machine**: {'; '.join(fanout.busy)})" if fanout.busy else "")
                + ".",
            ]
        lines.append("")
    if capacity is not None:
        lines += ["## Socket capacity", ""]
        limit = f" (limited by the {capacity.limited_by})" if capacity.limited_by else ""
        lines += [
            f"{capacity.sockets} idle sockets of {capacity.requested} requested{limit}; "
            f"gateway RSS {capacity.gateway_rss_before_mib} -> {capacity.gateway_rss_after_mib} "
            f"MiB = {capacity.rss_per_socket_kib} KiB per socket; sessions "
            f"{capacity.sessions_per_s:,.0f}/s, connects {capacity.connects_per_s:,.0f}/s; "
            f"{capacity.pings_ok}/{capacity.pings_sent} sampled sockets answered a ping; "
            f"closed by the server before the count: {capacity.close_codes or 'none'}; "
            f"failed handshakes: {capacity.connect_failures}"
            + (f" (first: {capacity.first_failure})" if capacity.first_failure else "")
            + ".",
            "",
        ]
    lines += ["## Goals", "", "| goal | measured | met |", "| --- | --- | --- |"]
    for goal in goals(compare, fanout, capacity):
        met = "n/a" if goal.met is None else ("yes" if goal.met else "**no**")
        lines.append(f"| {goal.goal} | {goal.measured} | {met} |")
    return "\n".join(lines) + "\n"
