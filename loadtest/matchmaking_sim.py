"""Matchmaking simulation: Poisson arrivals into duel, 5v5, match_on and free-for-all queues.

    python -m loadtest.matchmaking_sim [--rate 2000] [--seconds 60] [--tick 0.5] [--json]

Players arrive as a Poisson process at `--rate` tickets per second into each queue; their
rating mu is normal (mean 25, sd `--skill-sd`) and sigma uniform in [2, 4] (players with
some history). A share of the 5v5 tickets are parties of 2 to 5. Every `--tick` seconds
of simulated time the queue's pool goes through `form_matches`, exactly as a worker tick
does, minus Valkey. Reported per queue: wait p50/p95/p99, skill spread per match (max -
min mu), the share of matches with P(win) in [0.45, 0.55], and the CPU time of each pass.
`modes` is a 5v5 queue with `match_on: ["mode"]` whose tickets pick one of 3 modes (50%,
30%, 20%): each mode is a partition of its own, as in the worker. `ffa` is a free-for-all
queue of 4 to 8 players (`fill_wait_s` 5) at `--ffa-rate`; its fairness figure is
max |P(win) - 1/n|, and the share of full (8-player) matches is reported.
Then one pass over 20,000 waiting tickets is timed on its own (best and median of runs).
The first `--warmup` seconds are left out of the wait and fairness figures.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from domain.matchmaking.models import QueueConfig
from domain.matchmaking.rules import Candidate, MatchPlan, expired, form_matches

DUEL = QueueConfig(name="duel")
FIVES = QueueConfig(name="fives", team_size=5, teams=2)
MODES = QueueConfig(name="modes", team_size=5, teams=2, match_on=("mode",))
MODE_SHARES = (("ctf", 0.5), ("tdm", 0.3), ("koth", 0.2))
FFA = QueueConfig.from_dict({"name": "ffa", "min_players": 4, "max_players": 8, "fill_wait_s": 5})


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100.0 * len(ordered))) - 1]


@dataclass
class QueueRun:
    queue: QueueConfig
    party_share: float
    rate: float = 0.0
    # One pool per partition: per `match_on` value here (the worker's partitions).
    pools: dict[str, list[Candidate]] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    spreads: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    pass_ms: list[float] = field(default_factory=list)
    pool_sizes: list[int] = field(default_factory=list)
    arrived: int = 0
    expired: int = 0
    serial: int = 0


def new_ticket(run: QueueRun, rnd: random.Random, at: float, skill_sd: float) -> Candidate:
    size = 1
    if run.queue.team_size > 1 and rnd.random() < run.party_share:
        size = rnd.randint(2, run.queue.team_size)
    mus = [rnd.gauss(25.0, skill_sd) for _ in range(size)]
    sigmas = [rnd.uniform(2.0, 4.0) for _ in range(size)]
    run.serial += 1
    players = tuple(f"{run.queue.name}-{run.serial}-{i}" for i in range(size))
    return Candidate(
        f"{run.queue.name}-{run.serial}", players, sum(mus), sum(s * s for s in sigmas), at
    )


def spread(plan: MatchPlan) -> float:
    skills = [c.skill for c in plan.tickets]
    return max(skills) - min(skills)


def partition_of(run: QueueRun, rnd: random.Random) -> str:
    if not run.queue.match_on:
        return ""
    pick, total = rnd.random(), 0.0
    for mode, share in MODE_SHARES:
        total += share
        if pick < total:
            return mode
    return MODE_SHARES[-1][0]


def tick(run: QueueRun, now: float, counting: bool) -> None:
    started = time.process_time()
    waiting = 0
    for key, pool in run.pools.items():
        due = expired(pool, now, run.queue.max_wait_s)
        if due:
            gone = {c.ticket_id for c in due}
            pool = [c for c in pool if c.ticket_id not in gone]
            run.expired += len(due) if counting else 0
        plans = form_matches(run.queue, pool, now)
        waiting += len(pool)
        matched = {c.ticket_id for p in plans for c in p.tickets}
        run.pools[key] = [c for c in pool if c.ticket_id not in matched]
        if counting:
            for plan in plans:
                run.waits += [now - c.created_at for c in plan.tickets]
                run.spreads.append(spread(plan))
                run.gaps.append(plan.fairness_gap)
                run.sizes.append(sum(c.size for c in plan.tickets))
    run.pass_ms.append((time.process_time() - started) * 1000)
    run.pool_sizes.append(waiting)


def simulate(args: argparse.Namespace) -> list[QueueRun]:
    rnd = random.Random(args.seed)
    runs = [
        QueueRun(DUEL, 0.0, args.rate),
        QueueRun(FIVES, args.party_share, args.rate),
        QueueRun(MODES, args.party_share, args.rate),
        QueueRun(FFA, 0.0, args.ffa_rate),
    ]
    now = 0.0
    for _ in range(round(args.seconds / args.tick)):
        for run in runs:
            # Poisson arrivals within the tick, at uniform times.
            arrivals = _poisson(rnd, run.rate * args.tick)
            run.arrived += arrivals if now >= args.warmup else 0
            for _ in range(arrivals):
                ticket = new_ticket(run, rnd, now + rnd.uniform(0, args.tick), args.skill_sd)
                run.pools.setdefault(partition_of(run, rnd), []).append(ticket)
        now += args.tick
        for run in runs:
            tick(run, now, counting=now > args.warmup)
    return runs


def _poisson(rnd: random.Random, lam: float) -> int:
    # Normal approximation: the rates here put hundreds of arrivals in every tick.
    return max(0, round(rnd.gauss(lam, math.sqrt(lam)))) if lam > 50 else _knuth(rnd, lam)


def _knuth(rnd: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rnd.random()
        if p <= limit:
            return k
        k += 1


def pass_benchmark(queue: QueueConfig, party_share: float, n: int, runs: int) -> dict[str, float]:
    rnd = random.Random(7)
    run = QueueRun(queue, party_share)
    now = 1_000.0
    pool = [new_ticket(run, rnd, now - rnd.uniform(0, 10), 5.0) for _ in range(n)]
    times = []
    for _ in range(runs):
        started = time.process_time()
        plans = form_matches(queue, pool, now)
        times.append((time.process_time() - started) * 1000)
    return {
        "tickets": n,
        "matches": len(plans),
        "best_ms": min(times),
        "median_ms": statistics.median(times),
    }


def report(run: QueueRun, seconds: float) -> dict[str, Any]:
    fair = sum(1 for g in run.gaps if g <= 0.05)
    return {
        "queue": run.queue.name,
        "arrived_per_s": run.arrived / seconds,
        "matches": len(run.gaps),
        "expired": run.expired,
        "wait_p50_s": percentile(run.waits, 50),
        "wait_p95_s": percentile(run.waits, 95),
        "wait_p99_s": percentile(run.waits, 99),
        "spread_p50": percentile(run.spreads, 50),
        "spread_p95": percentile(run.spreads, 95),
        "fair_share": fair / len(run.gaps) if run.gaps else math.nan,
        "mean_win_gap": statistics.fmean(run.gaps) if run.gaps else math.nan,
        "pool_mean": statistics.fmean(run.pool_sizes),
        "pass_ms_p50": percentile(run.pass_ms, 50),
        "pass_ms_max": max(run.pass_ms),
        "players_per_match_p50": percentile(run.sizes, 50),
        "full_share": (
            sum(1 for n in run.sizes if n == run.queue.players_per_match) / len(run.sizes)
            if run.sizes
            else math.nan
        ),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2000.0, help="tickets/s into each queue")
    parser.add_argument("--seconds", type=float, default=60.0, help="simulated duration")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--tick", type=float, default=0.5, help="seconds between passes")
    parser.add_argument("--ffa-rate", type=float, default=200.0, help="tickets/s into ffa")
    parser.add_argument("--skill-sd", type=float, default=5.0)
    parser.add_argument("--party-share", type=float, default=0.2, help="5v5 tickets in parties")
    parser.add_argument("--pass-tickets", type=int, default=20_000)
    parser.add_argument("--pass-runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    measured = args.seconds - args.warmup
    queues = [report(run, measured) for run in simulate(args)]
    passes = {
        "duel": pass_benchmark(DUEL, 0.0, args.pass_tickets, args.pass_runs),
        "fives": pass_benchmark(FIVES, 0.0, args.pass_tickets, args.pass_runs),
        "fives_parties": pass_benchmark(FIVES, args.party_share, args.pass_tickets, args.pass_runs),
    }
    if args.json:
        result = {"queues": queues, "pass": passes}
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for q in queues:
        print(
            f"{q['queue']:>6}: {q['arrived_per_s']:.0f} tickets/s, {q['matches']} matches, "
            f"{q['expired']} expired; wait p50 {q['wait_p50_s']:.2f} s, p95 "
            f"{q['wait_p95_s']:.2f} s, p99 {q['wait_p99_s']:.2f} s; spread p50 "
            f"{q['spread_p50']:.2f}, p95 {q['spread_p95']:.2f}; P(win) in [0.45, 0.55]: "
            f"{q['fair_share']:.1%}; pool {q['pool_mean']:.0f}; pass p50 "
            f"{q['pass_ms_p50']:.1f} ms, max {q['pass_ms_max']:.1f} ms; full matches "
            f"{q['full_share']:.1%}"
        )
    for name, p in passes.items():
        print(
            f"one pass over {p['tickets']} tickets ({name}): best {p['best_ms']:.0f} ms, "
            f"median {p['median_ms']:.0f} ms, {p['matches']} matches"
        )


if __name__ == "__main__":
    main()
