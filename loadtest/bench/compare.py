"""The gateway against raw valkey-py, op by op, same cluster, same concurrency.

Every phase reports the CPU each server process spent per operation served (the
headline: it moves far less with other load than throughput does), beside throughput,
latency, the client's own CPU and how busy the machine was.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from loadtest.bench import admin as admin_api
from loadtest.bench.client_procs import (
    GATEWAY_KIND,
    LOGIN_KIND,
    RAW_KIND,
    ClientProcesses,
    Share,
)
from loadtest.bench.gateway_clients import create_sessions, device_id_for
from loadtest.bench.latency import PhaseResult, Samples, summarise
from loadtest.bench.processes import CpuMeter, PhaseCpu, ServerProcesses
from loadtest.bench.profile import Profile, read_raw, record
from loadtest.bench.raw_clients import (
    RAW_BOARD_KEY,
    RAW_EQUIVALENTS,
    connect_cluster,
    fill_board,
)

BENCH_BOARD = "bench"
GATEWAY = "gateway"
RAW = "raw valkey-py"
LOGIN_OP = "device.login"
RAW_LAYOUT = f"one sorted set ({RAW_BOARD_KEY})"
# A client process using this share of a core or more may be what limits the phase.
CLIENT_BOUND_CORES = 0.9


@dataclass(frozen=True)
class Target:
    url: str
    admin_key: str
    valkey_nodes: tuple[tuple[str, int], ...]
    gateway_pids: tuple[int, ...] = ()
    valkey_pids: tuple[int, ...] = ()
    client_key: str | None = None
    # The raw baseline's Valkey login (username, password); None for an open cluster.
    valkey_login: tuple[str, str] | None = None
    worker_pids: tuple[int, ...] = ()
    # (name, pid) of each Valkey node, e.g. ("7000", 1234); default: named by pid.
    valkey_named: tuple[tuple[str, int], ...] = ()

    @property
    def processes(self) -> ServerProcesses:
        named = self.valkey_named or tuple((str(pid), pid) for pid in self.valkey_pids)
        return ServerProcesses(self.gateway_pids, self.worker_pids, named)

    def meter(self, client_pids: tuple[int, ...] = ()) -> CpuMeter:
        return CpuMeter(self.processes, client_pids)


@dataclass(frozen=True)
class CompareConfig:
    ops: tuple[str, ...] = ("ping", "score.submit", "board.rank", "board.top")
    concurrency: int = 64
    warmup_s: float = 1.0
    duration_s: float = 5.0
    board_size: int = 10_000
    run_tag: str = "b"
    # Sub-boards of each board measured (the raw baseline runs beside the first).
    layouts: tuple[int, ...] = (1,)
    client_procs: int = 1
    paced: bool = True
    # Where py-spy's samples of the gateways go, for each measured gateway phase.
    profile_dir: Path | None = None


@dataclass
class CompareResult:
    board: str
    board_size: int
    phases: list[PhaseResult] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    paced_submit: PhaseResult | None = None
    notes: list[str] = field(default_factory=list)
    # layout label -> board name
    boards: dict[str, str] = field(default_factory=dict)
    # (phase name, samples) of each gateway phase profiled.
    profiles: list[tuple[str, Profile]] = field(default_factory=list)


def layout_label(sub_boards: int) -> str:
    return f"{sub_boards} sub-board" + ("" if sub_boards == 1 else "s")


def phase_result(
    target: str,
    operation: str,
    concurrency: int,
    duration_s: float,
    samples: Samples,
    cpu: PhaseCpu | None,
    *,
    layout: str | None = None,
    client_procs: int = 1,
) -> PhaseResult:
    """The phase's figures, with CPU per operation served for every process measured."""
    base = replace(
        summarise(target, operation, concurrency, duration_s, samples),
        layout=layout,
        client_procs=client_procs,
    )
    if cpu is None:
        return base
    # A raw phase's server is Valkey alone; the gateway and worker idle beside it.
    server = cpu.valkey if target == RAW else cpu.server
    per_op: dict[str, float] = {}
    if base.ops_per_s > 0:
        for name, cores in (
            ("server", server),
            ("gateway", cpu.gateway),
            ("worker", cpu.worker),
            ("valkey", cpu.valkey),
            ("client", cpu.client),
        ):
            if cores is not None:
                per_op[name] = round(cores / base.ops_per_s * 1e6, 1)
    return replace(
        base,
        client_cpu=cpu.client,
        gateway_cpu=cpu.gateway,
        worker_cpu=cpu.worker,
        valkey_cpu=cpu.valkey,
        valkey_node_cpu=dict(cpu.valkey_nodes),
        us_per_op=per_op,
        other_cpu=cpu.other,
        load_before=cpu.load_before,
        load_after=cpu.load_after,
        busy=cpu.busy_reasons,
        client_bound=cpu.client is not None and cpu.client >= CLIENT_BOUND_CORES * client_procs,
    )


async def _measure(meter: CpuMeter, at: float, duration_s: float) -> PhaseCpu:
    await asyncio.sleep(max(0.0, at - time.time()))
    meter.start()
    await asyncio.sleep(duration_s)
    return meter.stop()


async def _profile(
    pids: tuple[int, ...], at: float, duration_s: float, out: Path, name: str
) -> Profile:
    await asyncio.sleep(max(0.0, at - time.time()))
    return read_raw(await record(pids, duration_s, out, name))


async def run_phase(
    target: Target,
    config: CompareConfig,
    clients: ClientProcesses,
    name: str,
    share: Share,
    layout: str | None = None,
    profiles: list[tuple[str, Profile]] | None = None,
) -> PhaseResult:
    """One phase: the share's callers in every client process, CPU measured meanwhile
    (and, given `profiles` and a profile folder, the gateways' samples too)."""
    start_at = time.time() + clients.lead_s
    share = replace(
        share, warmup_s=config.warmup_s, duration_s=config.duration_s, start_at=start_at
    )
    meter = target.meter(clients.pids)
    measured_at = start_at + config.warmup_s
    phase = share.operation + (f" ({layout})" if layout else "")
    out = config.profile_dir
    if profiles is None or out is None or not target.gateway_pids:
        cpu, samples = await asyncio.gather(
            _measure(meter, measured_at, config.duration_s), clients.run(share)
        )
    else:
        label = re.sub(r"[ ()]+", "-", phase).strip("-")
        cpu, samples, profile = await asyncio.gather(
            _measure(meter, measured_at, config.duration_s),
            clients.run(share),
            _profile(target.gateway_pids, measured_at, config.duration_s, out, label),
        )
        profiles.append((phase, profile))
    return phase_result(
        name,
        share.operation,
        len(share.members),
        config.duration_s,
        samples,
        cpu,
        layout=layout,
        client_procs=clients.count,
    )


async def _fill_boards(
    target: Target, config: CompareConfig, result: CompareResult, player_ids: list[str]
) -> None:
    rng = random.Random(7)
    scores = {
        f"fill-{config.run_tag}-{i}": float(rng.randrange(1_000_000))
        for i in range(max(0, config.board_size - len(player_ids)))
    }
    # The callers are on every board before anyone asks for their rank.
    scores.update({player: 1_000_000.0 for player in player_ids})
    async with admin_api.admin_client(target.url, target.admin_key) as admin:
        for sub_boards in config.layouts:
            name = f"{BENCH_BOARD}-{sub_boards}"
            problem = await admin_api.ensure_board(admin, name, sub_boards)
            if problem:
                result.notes.append(f"board {name!r} not created ({problem})")
                continue
            accepted, refusals = await admin_api.fill_board(admin, name, scores)
            if accepted < len(scores):
                result.notes.append(
                    f"the admin API took {accepted} of {len(scores)} fill scores on {name} "
                    f"(refusals such as {refusals[:2]})"
                )
            result.boards[layout_label(sub_boards)] = name
            result.board_size = max(result.board_size, accepted)
    if result.boards:
        result.board = next(iter(result.boards.values()))
    cluster = connect_cluster(target.valkey_nodes, target.valkey_login)
    try:
        await fill_board(cluster, scores)
    finally:
        await cluster.aclose()


async def run_compare(target: Target, config: CompareConfig) -> CompareResult:
    result = CompareResult(board=BENCH_BOARD, board_size=0)
    player_ids = [f"bench-{config.run_tag}-{i}" for i in range(config.concurrency)]
    board_ops = [op for op in config.ops if op != LOGIN_OP]
    async with ClientProcesses(config.client_procs) as clients:
        if board_ops:
            await _fill_boards(target, config, result, player_ids)
        tokens = tuple(
            await create_sessions(
                target.url, player_ids, client_key=target.client_key, admin_key=target.admin_key
            )
        )
        for index, (label, board) in enumerate(result.boards.items()):
            for op in board_ops:
                share = Share(GATEWAY_KIND, op, target.url, tokens, tuple(player_ids), board=board)
                on_board = op.startswith(("board.", "score."))
                if not on_board and index > 0:
                    continue  # measured once: it reads no board
                phase = await run_phase(
                    target,
                    config,
                    clients,
                    GATEWAY,
                    share,
                    label if on_board else None,
                    result.profiles,
                )
                if phase.ops == 0 and phase.errors:
                    result.unavailable[f"{op} ({label})"] = str(phase.error_kinds)
                    continue
                result.phases.append(phase)
                if index == 0 and op in RAW_EQUIVALENTS:
                    for raw_name in RAW_EQUIVALENTS[op]:
                        raw = Share(
                            RAW_KIND,
                            raw_name,
                            target.url,
                            members=tuple(player_ids),
                            valkey_nodes=target.valkey_nodes,
                            valkey_login=target.valkey_login,
                        )
                        result.phases.append(
                            await run_phase(
                                target,
                                config,
                                clients,
                                RAW,
                                raw,
                                RAW_LAYOUT if raw_name != "PING" else None,
                            )
                        )
        if LOGIN_OP in config.ops:
            devices = tuple(
                device_id_for(f"login-{config.run_tag}-{i}") for i in range(config.concurrency)
            )
            share = Share(LOGIN_KIND, LOGIN_OP, target.url, members=devices)
            share = replace(share, client_key=target.client_key)
            result.phases.append(
                await run_phase(target, config, clients, GATEWAY, share, None, result.profiles)
            )
        peak = next(
            (p for p in result.phases if p.target == GATEWAY and p.operation == "score.submit"),
            None,
        )
        if config.paced and peak is not None and peak.ops_per_s > 0 and peak.layout:
            rate = peak.ops_per_s / 2
            share = Share(
                GATEWAY_KIND,
                "score.submit",
                target.url,
                tokens,
                tuple(player_ids),
                board=result.boards[peak.layout],
                rate_per_s=rate,
            )
            paced = await run_phase(
                target, config, clients, f"{GATEWAY} at {rate:.0f}/s (half of peak)", share
            )
            result.paced_submit = replace(paced, layout=peak.layout)
    return result
