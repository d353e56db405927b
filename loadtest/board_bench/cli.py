"""`python -m loadtest.board_bench`: the board benchmark as one documented command.

Without --valkey-nodes it starts its own embedded cluster (3 primaries + 3 replicas, AOF
everysec, as the product runs it) on free ports in a temporary folder and stops it at the
end (as its admin user); with --valkey-nodes it uses that cluster, logging in with
VALKEY_USERNAME/VALKEY_PASSWORD (an admin: it reads INFO and CONFIG; no TLS), and deletes
its board and raw set afterwards. Markdown goes to stdout, progress to stderr, everything to --json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from gameserver.embedded import EmbeddedCluster
from gameserver.embedded.free_ports import start_on_free_ports
from gameserver.gc_policy import tune_collector
from gameserver.settings import Settings
from loadtest.board_bench import nodes
from loadtest.board_bench.players import MAX_PLAYERS, SCORE_BITS
from loadtest.board_bench.report import markdown
from loadtest.board_bench.runner import RunConfig, buckets_for, run_bench
from loadtest.gameserver_up import env_login

_WARMUP_SHARE = 10
_MAX_WARMUP = 2_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.board_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--players", type=int, default=10_000_000, help="board size (10M)")
    parser.add_argument("--sub-boards", type=int, default=6, help="sub-boards of the board (6)")
    parser.add_argument(
        "--buckets", type=int, help="lookup buckets per sub-board (default: 4096, more if needed)"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="asyncio tasks per phase")
    parser.add_argument("--samples", type=int, default=20_000, help="measured calls per phase")
    parser.add_argument(
        "--warmup", type=int, help="unmeasured calls before each phase (default: samples/10)"
    )
    parser.add_argument("--checks", type=int, default=50, help="players whose rank is checked")
    parser.add_argument("--seed", type=int, default=1, help="scores and sampled players")
    parser.add_argument("--phase-timeout", type=float, default=300.0, help="seconds per phase")
    parser.add_argument("--valkey-nodes", help="host:port,... of a cluster to use instead")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    return parser


def _config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> RunConfig:
    if not 1 <= args.players <= MAX_PLAYERS:
        parser.error(f"--players must be in 1..{MAX_PLAYERS}")
    for flag in ("sub_boards", "concurrency", "samples"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    warmup = args.warmup
    if warmup is None:
        warmup = min(args.samples // _WARMUP_SHARE, _MAX_WARMUP)
    return RunConfig(
        players=args.players,
        sub_boards=args.sub_boards,
        buckets=args.buckets or buckets_for(args.players, args.sub_boards),
        concurrency=args.concurrency,
        samples=args.samples,
        warmup=max(warmup, 0),
        seed=args.seed,
        checks=max(args.checks, 0),
        phase_timeout_s=args.phase_timeout,
    )


def _run(coro: Coroutine[Any, Any, dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Run on uvloop, as the gateway does under uvicorn, when it is installed, and
    with the gateway's garbage collection thresholds (the service runs in this process)."""
    tune_collector()
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro), "asyncio"
    return uvloop.run(coro), "uvloop"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # As KeyboardInterrupt the `finally` blocks still stop the cluster.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def _start_cluster(parent: Path) -> EmbeddedCluster:
    return start_on_free_ports(parent, Settings().cluster_node_timeout_ms)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    config = _config(args, parser)
    signal.signal(signal.SIGTERM, _interrupt)
    head: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", "-m", "loadtest.board_bench", *argv]),
        "machine": nodes.machine(),
        "load_average_start": nodes.load_average(),
    }
    if args.valkey_nodes:
        seeds_list = _parse_nodes(args.valkey_nodes, parser)
        body, loop = _run(run_bench(seeds_list, config, remove_after=True, login=env_login()))
        cluster_kind = "external"
    else:
        folder = Path(tempfile.mkdtemp(prefix="board-bench-"))
        try:
            cluster = _start_cluster(folder)
            try:
                seeds_list = list(cluster.seeds)
                admin = cluster.credentials.admin
                login = (admin.username, admin.password)
                body, loop = _run(run_bench(seeds_list, config, remove_after=False, login=login))
            finally:
                cluster.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        cluster_kind = "embedded 3 primaries + 3 replicas"
    doc = _document(head, body, config, loop, cluster_kind, seeds_list)
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    print(markdown(doc))
    return 0 if doc["check"]["ok"] else 1


def _parse_nodes(raw: str, parser: argparse.ArgumentParser) -> list[tuple[str, int]]:
    seeds = []
    for part in raw.split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            parser.error(f"--valkey-nodes entry {part!r} is not host:port")
        seeds.append((host, int(port)))
    return seeds


def _document(
    head: dict[str, Any],
    body: dict[str, Any],
    config: RunConfig,
    loop: str,
    cluster_kind: str,
    seeds: list[tuple[str, int]],
) -> dict[str, Any]:
    valkey = dict(body.pop("valkey"))
    valkey.update(cluster=cluster_kind, nodes=[f"{h}:{p}" for h, p in seeds])
    return {
        "date": head["date"],
        "command": head["command"],
        "machine": head["machine"],
        "load_average": {
            "start": head["load_average_start"],
            "after_load": body.pop("load_average_after_load"),
            "end": nodes.load_average(),
        },
        "config": {
            **config.__dict__,
            "board": body.pop("board"),
            "raw_key": body.pop("raw_key"),
            "player_id_chars": 8,
            "score_bits": SCORE_BITS,
            "event_loop": loop,
        },
        "valkey": valkey,
        **body,
    }
