"""`gameserver bench` (`python -m loadtest.bench`): one command, every figure.

Without --url it starts its own `gameserver up` on free ports in a temporary data dir
(per-socket rate limits lifted, so the bench measures capacity, not the limiter), runs the
phases, writes bench.json and bench.md, and stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from loadtest.bench.capacity import CapacityResult, run_capacity
from loadtest.bench.compare import CompareConfig, CompareResult, Target, run_compare
from loadtest.bench.fanout import FanoutResult, run_fanout
from loadtest.bench.processes import machine, raise_fd_limit
from loadtest.bench.profile import PROFILE_INSTALL, render
from loadtest.bench.report import goals, markdown, ratios
from loadtest.gameserver_up import (
    env_login,
    gateway_pids,
    start_gameserver,
    stop_gameserver,
    valkey_port_of,
    valkey_servers_of,
    worker_pids,
)

MODES = ("all", "compare", "fanout", "sockets")
DEFAULTS: dict[str, Any] = {
    "mode": "all",
    "concurrency": 64,
    "warmup": 1.0,
    "duration": 5.0,
    "board_size": 10_000,
    "ops": "ping,score.submit,board.rank,board.top,board.around",
    "layouts": "1",
    "client_procs": 1,
}
# Named workloads, so figures compare across rounds (docs/benchmarks.md); flags given
# beside a preset override it.
PRESETS: dict[str, dict[str, Any]] = {
    # The hot path of issue 13: 64 sockets, a 2,000-entry board, 10 s a phase, one-shard
    # and six-sub-board boards, device logins; two client processes so none is client-bound.
    "hot-path": {
        "mode": "compare",
        "concurrency": 64,
        "warmup": 2.0,
        "duration": 10.0,
        "board_size": 2_000,
        "ops": "score.submit,board.rank,board.top,board.around,device.login",
        "layouts": "1,6",
        "client_procs": 2,
    },
}
# The bench measures capacity: the per-socket message limit would only measure itself.
UNLIMITED_ENV = {"GAMESERVER_RATE_LIMIT_PER_S": "1000000", "GAMESERVER_RATE_LIMIT_BURST": "1000000"}
REPORTS = Path("loadtest") / "reports"


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """Fill options not given from the preset, then from the defaults."""
    preset = PRESETS.get(args.preset or "", {})
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, preset.get(name, default))
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gameserver bench", description=__doc__)
    parser.add_argument("--preset", choices=sorted(PRESETS), help="a named workload")
    parser.add_argument("--mode", choices=MODES, help="what to measure (all)")
    target = parser.add_argument_group("a running server instead of starting one")
    target.add_argument("--url", help="gateway base URL, e.g. http://127.0.0.1:8000")
    target.add_argument("--admin-key", help="its admin key")
    target.add_argument("--valkey-nodes", help="host:port,... of its cluster")
    target.add_argument("--gateway-pid", type=int, help="the gateway's pid (CPU and RSS)")
    target.add_argument(
        "--worker-pid", type=int, action="append", default=[], help="a worker's pid (CPU)"
    )
    target.add_argument(
        "--valkey-pid", type=int, action="append", default=[], help="a Valkey node's pid (CPU)"
    )
    target.add_argument("--client-key", help="GAMESERVER_CLIENT_KEY, if it needs one")
    own = parser.add_argument_group("the server the bench starts")
    own.add_argument("--data-dir", type=Path, help="default: a temporary folder, removed after")
    own.add_argument("--port", type=int, help="gateway port (default: a free one)")
    own.add_argument("--valkey-port", type=int, help="first of 6 Valkey ports (default: free)")
    own.add_argument(
        "--gateways", type=int, default=1, help="gateway processes it runs on the port (1)"
    )
    phases = parser.add_argument_group("phases")
    phases.add_argument("--concurrency", type=int, help="callers per phase (64)")
    phases.add_argument("--warmup", type=float, help="seconds before measuring (1)")
    phases.add_argument("--duration", type=float, help="seconds measured per phase (5)")
    phases.add_argument("--board-size", type=int, help="players on the board (10000)")
    phases.add_argument("--ops", help=f"comma-separated ({DEFAULTS['ops']}; also device.login)")
    phases.add_argument(
        "--layouts", help="sub_boards of each board measured, e.g. 1,6 (1); raw beside the first"
    )
    phases.add_argument(
        "--client-procs", type=int, help="client processes sharing the callers (1: this one)"
    )
    phases.add_argument("--subscribers", type=int, default=5_000, help="fan-out subscribers")
    phases.add_argument("--sockets", type=int, default=20_000, help="idle sockets to open")
    parser.add_argument("--out", type=Path, help="folder for bench.json and bench.md")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the gateways in every measured gateway phase: profile.md (needs the "
        "profile extra)",
    )
    return parser


@contextlib.contextmanager
def _target(args: argparse.Namespace, out: Path) -> Iterator[Target]:
    if args.url:
        if not (args.admin_key and args.valkey_nodes):
            raise SystemExit("--url needs --admin-key and --valkey-nodes too")
        nodes = tuple(
            (host, int(port))
            for host, _, port in (n.rpartition(":") for n in args.valkey_nodes.split(","))
        )
        pids = (args.gateway_pid,) if args.gateway_pid else ()
        yield Target(
            args.url.rstrip("/"),
            args.admin_key,
            nodes,
            pids,
            tuple(args.valkey_pid),
            args.client_key,
            env_login(),
            worker_pids=tuple(args.worker_pid),
            valkey_named=tuple((valkey_port_of(pid), pid) for pid in args.valkey_pid),
        )
        return
    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="gameserver-bench-")) if temporary else args.data_dir
    try:
        process, server = start_gameserver(
            data_dir,
            port=args.port,
            valkey_port=args.valkey_port,
            env=UNLIMITED_ENV,
            gateways=args.gateways,
        )
    except BaseException:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
        raise
    try:
        print(f"started gameserver up at {server.url} (pid {server.pid}, data {data_dir})")
        valkey = valkey_servers_of(data_dir)
        yield Target(
            server.url,
            server.admin_key,
            server.valkey_nodes,
            gateway_pids(server.pid),
            tuple(valkey),
            valkey_login=server.valkey_admin_login,
            worker_pids=worker_pids(server.pid),
            valkey_named=tuple((valkey_port_of(pid), pid) for pid in valkey),
        )
    finally:
        stop_gameserver(process)
        # The server's own log goes with the figures: errors it logged explain failed calls.
        shutil.copyfile(server.log_path, out / "gameserver-up.log")
        leftovers = valkey_servers_of(data_dir)
        if leftovers:
            print(f"warning: valkey-server processes {leftovers} of {data_dir} still run")
        elif temporary:
            shutil.rmtree(data_dir, ignore_errors=True)


async def _run(
    args: argparse.Namespace, target: Target, tag: str, out: Path
) -> tuple[CompareResult | None, FanoutResult | None, CapacityResult | None]:
    compare = fanout = capacity = None
    # Sockets first: the gateway's memory is measured best before other phases grew it.
    if args.mode in ("all", "sockets"):
        print(f"socket capacity: up to {args.sockets} idle sockets", flush=True)
        capacity = await run_capacity(target, args.sockets, tag)
    if args.mode in ("all", "compare"):
        config = CompareConfig(
            ops=tuple(op.strip() for op in args.ops.split(",") if op.strip()),
            concurrency=args.concurrency,
            warmup_s=args.warmup,
            duration_s=args.duration,
            board_size=args.board_size,
            run_tag=tag,
            layouts=tuple(int(n) for n in str(args.layouts).split(",") if n.strip()),
            client_procs=args.client_procs,
            profile_dir=out if args.profile else None,
        )
        print(f"comparing gateway and raw Valkey: {', '.join(config.ops)}", flush=True)
        compare = await run_compare(target, config)
    if args.mode in ("all", "fanout"):
        print(f"push fan-out to {args.subscribers} subscribers", flush=True)
        fanout = await run_fanout(
            target, args.subscribers, warmup_s=2.0, duration_s=args.duration, run_tag=tag
        )
    return compare, fanout, capacity


def _report(
    args: argparse.Namespace,
    argv: Sequence[str],
    started: datetime.datetime,
    host: dict[str, object],
    results: tuple[CompareResult | None, FanoutResult | None, CapacityResult | None],
) -> dict[str, Any]:
    compare, fanout, capacity = results
    return {
        "date": started.isoformat(timespec="seconds"),
        "command": shlex.join(["gameserver", "bench", *argv]),
        "machine": {**host, "load_average_1m_at_end": round(os.getloadavg()[0], 2)},
        "python": sys.version.split()[0],
        "config": {
            "preset": args.preset,
            "layouts": args.layouts,
            "client_procs": args.client_procs,
            "mode": args.mode,
            "concurrency": args.concurrency,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "board_size": args.board_size,
            "subscribers": args.subscribers,
            "sockets": args.sockets,
            "own_server": args.url is None,
            "gateways": args.gateways if args.url is None else None,
        },
        "compare": None
        if compare is None
        else {
            "board": compare.board,
            "board_size": compare.board_size,
            "phases": [p.as_dict() for p in compare.phases],
            "ratios": ratios(compare),
            "paced_submit": compare.paced_submit.as_dict() if compare.paced_submit else None,
            "unavailable": compare.unavailable,
            "notes": compare.notes,
        },
        "fanout": fanout.as_dict() if fanout else None,
        "sockets": capacity.as_dict() if capacity else None,
        "goals": [goal.__dict__ for goal in goals(compare, fanout, capacity)],
    }


def _event_loop_policy() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = resolve(build_parser().parse_args(argv))
    if args.profile and shutil.which("py-spy") is None:
        # Said before anything starts, not minutes later at the first measured phase.
        print(f"gameserver bench --profile needs py-spy: {PROFILE_INSTALL}", file=sys.stderr)
        return 2
    started = datetime.datetime.now().astimezone()
    host = machine()
    tag = started.strftime("%H%M%S")
    # Before any server starts: a gateway started here inherits the raised limit.
    raise_fd_limit(args.sockets + 2_000)
    _event_loop_policy()
    out = args.out or REPORTS / f"bench-{started.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    with _target(args, out) as target:
        results = asyncio.run(_run(args, target, tag, out))
    report = _report(args, argv, started, host, results)
    text = markdown(report, *results)
    (out / "bench.md").write_text(text)
    options = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    (out / "bench.json").write_bytes(orjson.dumps(report, option=options))
    print(text)
    print(f"written: {out / 'bench.json'} and {out / 'bench.md'}")
    compare = results[0]
    if compare is not None and compare.profiles:
        (out / "profile.md").write_text(render(compare.profiles))
        print(f"written: {out / 'profile.md'}")
    return 0
