"""The bench's figures against its targets, as JSON-ready rows and a markdown report."""

from __future__ import annotations

from typing import Any

from loadtest.board_bench.phases import PhaseResult

MAX_BYTES_PER_PLAYER = 100.0
MAX_RANK_P99_MS = 2.0
NAKAMA_FACTOR = 3.0
# Nakama 3.x on this machine, 64 concurrent clients: (ops/s, p99 ms), docs/baselines.md.
NAKAMA = {
    "submit": (3_500.0, 34.0),
    "top": (1_800.0, 67.0),
    "around": (2_900.0, 45.0),
}
# (goal, service phase, raw phase it is compared with; None: no single raw command does it).
# `rank_1` is the same call with one task: the latency of a lone request.
PAIRS: tuple[tuple[str, str, str | None], ...] = (
    ("rank", "rank", "rank"),
    ("rank", "rank_1", "rank_1"),
    ("top", "top", "top"),
    ("around", "around", None),
    ("submit", "submit", "submit"),
    ("submit", "submit", "submit_wait"),
)


def target_of(op: str, result: PhaseResult) -> dict[str, Any]:
    """The goal for a service operation and whether `result` meets it."""
    if op == "rank":
        return {
            "goal": f"p99 <= {MAX_RANK_P99_MS:g} ms",
            "met": result.errors == 0 and result.p99_ms <= MAX_RANK_P99_MS,
        }
    ops, p99 = NAKAMA[op]
    need_ops, need_p99 = NAKAMA_FACTOR * ops, p99 / NAKAMA_FACTOR
    return {
        "goal": f">= {need_ops:,.0f}/s and p99 <= {need_p99:.1f} ms (3x Nakama)",
        "met": result.errors == 0 and result.ops_per_s >= need_ops and result.p99_ms <= need_p99,
        "nakama": {"ops_per_s": ops, "p99_ms": p99},
    }


def comparison(
    service: dict[str, PhaseResult], raw: dict[str, PhaseResult]
) -> list[dict[str, Any]]:
    rows = []
    for goal, mine_key, raw_key in PAIRS:
        mine = service[mine_key]
        other = raw.get(raw_key) if raw_key else None
        rows.append(
            {
                "op": mine_key,
                "service": _figures(mine),
                "raw": _figures(other) if other else None,
                "ops_ratio": _ratio(mine.ops_per_s, other.ops_per_s) if other else None,
                "p99_ratio": _ratio(mine.p99_ms, other.p99_ms) if other else None,
                "target": target_of(goal, mine),
            }
        )
    return rows


def _figures(result: PhaseResult) -> dict[str, Any]:
    keep = ("operation", "concurrency", "ops", "errors", "ops_per_s", "p50_ms", "p99_ms")
    return {name: getattr(result, name) for name in keep}


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


def memory_figures(before: dict[str, int], after: dict[str, int], players: int) -> dict[str, Any]:
    grown = sum(after.values()) - sum(before.values())
    return {
        "before_bytes": sum(before.values()),
        "after_bytes": sum(after.values()),
        "bytes_per_player": round(grown / players, 1),
        "nodes": {name: {"before": before[name], "after": after.get(name)} for name in before},
    }


def markdown(doc: dict[str, Any]) -> str:
    config, load, memory = doc["config"], doc["load"], doc["memory"]
    lines = [
        f"## Board bench: {config['players']:,} players, {config['sub_boards']} sub-boards, "
        f"{config['concurrency']} concurrent tasks, {config['samples']:,} samples per operation",
        "",
        f"- date {doc['date']}; machine {doc['machine']['nproc']} cores, "
        f"{_gib(doc['machine']['memory_bytes'])}, {doc['machine']['cpu']}; Valkey "
        f"{doc['valkey']['version']} ({doc['valkey']['cluster']}, appendfsync "
        f"{doc['valkey']['persistence'].get('appendfsync', '?')})",
        f"- load average (1/5/15 min): start {_avg(doc['load_average']['start'])}, "
        f"after load {_avg(doc['load_average']['after_load'])}, "
        f"end {_avg(doc['load_average']['end'])}",
        f"- command: `{doc['command']}`",
        f"- load: {load['players']:,} players in {load['seconds']:.1f} s = "
        f"**{load['players_per_s']:,.0f} players/s** (lb_submit pipelined per primary; "
        f"client {load['client_cores']:.2f} cores, Valkey {load['valkey_cores']:.2f} cores); "
        f"replicas in sync {load['replica_sync_s']:.1f} s later; raw ZADD load "
        f"{load['raw_members_per_s']:,.0f} members/s",
        f"- memory per player: primaries **{memory['primaries']['bytes_per_player']:.1f} B** "
        f"(target <= {MAX_BYTES_PER_PLAYER:g} B: {_yes(memory['met'])}), replicas "
        f"{memory['replicas']['bytes_per_player']:.1f} B",
        f"- check: {doc['check']['summary']}",
        "",
        "| service call | tasks | service ops/s | p50 ms | p99 ms | raw valkey-py | raw ops/s "
        "| raw p50 ms | raw p99 ms | ops/s service/raw | p99 service/raw | target | met |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in doc["comparison"]:
        mine, other = row["service"], row["raw"]
        raw_cells = (
            [other["operation"], _n(other["ops_per_s"]), _ms(other["p50_ms"]), _ms(other["p99_ms"])]
            if other
            else ["-", "-", "-", "-"]
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    mine["operation"],
                    str(mine["concurrency"]),
                    _n(mine["ops_per_s"]),
                    _ms(mine["p50_ms"]),
                    _ms(mine["p99_ms"]),
                    *raw_cells,
                    _x(row["ops_ratio"]),
                    _x(row["p99_ratio"]),
                    row["target"]["goal"],
                    _yes(row["target"]["met"]),
                ]
            )
            + " |"
        )
    lines += [
        "",
        "| target | operation | tasks | ops | errors | s | ops/s | p50 ms | p99 ms | max ms "
        "| client cores | Valkey cores |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in doc["phases"]:
        errors = str(p["errors"]) + (f" {p['error_kinds']}" if p["errors"] else "")
        cells = [
            p["target"], p["operation"], str(p["concurrency"]), str(p["ops"]), errors,
            f"{p['seconds']:.1f}", _n(p["ops_per_s"]), _ms(p["p50_ms"]), _ms(p["p99_ms"]),
            _ms(p["max_ms"]), f"{p['client_cores']:.2f}", f"{p['valkey_cores']:.2f}",
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _yes(met: bool) -> str:
    return "yes" if met else "no"


def _avg(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def _gib(value: int | None) -> str:
    return "? GiB" if value is None else f"{value / 2**30:.1f} GiB"
