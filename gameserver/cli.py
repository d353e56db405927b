"""The `gameserver` command: up, serve, worker, cluster, backup, restore, bench."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from gameserver.settings import Settings, settings_from_env


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="listen port (default 8000)")
    parser.add_argument("--certfile", type=Path, default=None, help="serve https/wss: certificate")
    parser.add_argument("--keyfile", type=Path, default=None, help="serve https/wss: private key")
    parser.add_argument(
        "--admin-port", type=int, default=None, help="serve the admin API and /metrics only here"
    )


def _add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help="default ./.gameserver")
    parser.add_argument("--valkey-port", type=int, default=None, help="first of 6 ports (7000)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gameserver", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="embedded cluster + gateway + workers")
    _add_server_flags(up)
    _add_cluster_flags(up)
    up.add_argument("--gateways", type=int, default=None, help="gateway processes on the port (1)")
    up.add_argument("--demo", action="store_true", default=None, help="serve the demo at /demo")
    up.add_argument(
        "--worker-metrics-port",
        type=int,
        default=None,
        help="the worker's /healthz, /readyz and /metrics (default: a free port, printed)",
    )
    up.add_argument(
        "--gateway-metrics-port",
        type=int,
        default=None,
        help="gateway i's own /healthz, /readyz and /metrics on this port + i - 1 "
        "(default: free ports, printed)",
    )

    serve = commands.add_parser("serve", help="one gateway against VALKEY_NODES")
    _add_server_flags(serve)
    serve.add_argument(
        "--reuse-port",
        action="store_true",
        help="share the port with other gateway processes of this host (SO_REUSEPORT)",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="this process's own /healthz, /readyz and /metrics (not shared)",
    )

    worker = commands.add_parser("worker", help="background workers against VALKEY_NODES")
    worker.add_argument(
        "--metrics-port", type=int, default=None, help="serve /healthz, /readyz, /metrics here"
    )

    cluster = commands.add_parser("cluster", help="the embedded Valkey cluster alone")
    cluster.add_argument("action", choices=["up", "down", "status", "prune-functions"])
    _add_cluster_flags(cluster)
    cluster.add_argument(
        "--idle-s", type=float, default=None, help="prune-functions: unused this long (600)"
    )

    backup = commands.add_parser("backup", help="snapshot the embedded cluster into DEST")
    backup.add_argument("dest", type=Path, help="the archive to write (tar.gz)")
    _add_cluster_flags(backup)
    restore = commands.add_parser("restore", help="a new embedded cluster from a backup")
    restore.add_argument("archive", type=Path, help="an archive `gameserver backup` wrote")
    _add_cluster_flags(restore)

    bench = commands.add_parser("bench", help="gateway vs raw Valkey, side by side")
    bench.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    settings = settings_from_env()
    return settings.with_overrides(
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        certfile=getattr(args, "certfile", None),
        keyfile=getattr(args, "keyfile", None),
        admin_port=getattr(args, "admin_port", None),
        metrics_port=getattr(args, "metrics_port", None) if args.command == "serve" else None,
        data_dir=getattr(args, "data_dir", None),
        valkey_port=getattr(args, "valkey_port", None),
        gateways=getattr(args, "gateways", None),
        demo=getattr(args, "demo", None),
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["bench"]:
        # Forwarded whole: argparse's REMAINDER drops options that lead it (`--mode ...`).
        return _bench(arguments[1:])
    args = build_parser().parse_args(arguments)
    settings = _settings(args)
    if args.command == "up":
        from gameserver.runner import run_up

        return run_up(settings, args.worker_metrics_port, args.gateway_metrics_port)
    if args.command == "serve":
        from gameserver.runner import run_serve

        return run_serve(settings, reuse_port=args.reuse_port)
    if args.command == "worker":
        from gameserver.runner import run_worker

        return run_worker(settings, args.metrics_port)
    if args.command == "cluster" and args.action == "prune-functions":
        from gameserver.maintenance import run_prune_functions

        return run_prune_functions(settings, args.idle_s)
    if args.command == "cluster":
        return _cluster(args.action, settings, _explicit_valkey_port(args))
    if args.command in ("backup", "restore"):
        from gameserver.maintenance import run_backup_command

        return run_backup_command(args, settings)
    raise AssertionError(args.command)


def _bench(arguments: Sequence[str]) -> int:
    return subprocess.call([sys.executable, "-m", "loadtest.bench", *arguments], env=os.environ)


def _explicit_valkey_port(args: argparse.Namespace) -> int | None:
    """The Valkey port the operator asked for (flag or environment), else None: then the
    port recorded in the data dir applies, not the settings' default."""
    if getattr(args, "valkey_port", None) is not None:
        return int(args.valkey_port)
    raw = os.environ.get("GAMESERVER_VALKEY_PORT")
    return int(raw) if raw else None


def _cluster(action: str, settings: Settings, valkey_port: int | None) -> int:
    from gameserver.embedded.cluster import (
        EmbeddedCluster,
        cluster_down,
        cluster_up,
        recorded_base_port,
    )
    from gameserver.embedded.shards import EXIT_CODES, format_report, shard_report

    data_dir = settings.data_dir.resolve()
    if action == "up":
        port = valkey_port or recorded_base_port(data_dir) or settings.valkey_port
        try:
            seeds = cluster_up(data_dir, port, settings.cluster_node_timeout_ms)
        except (RuntimeError, ValueError, OSError) as exc:  # a busy data dir or port
            print(f"gameserver cluster up: {exc}", file=sys.stderr)
            return 1
        print("VALKEY_NODES=" + ",".join(f"{h}:{p}" for h, p in seeds))
        # stdout stays one line a shell can read; the login is for the operator's eyes.
        print(
            f"Valkey logins in {data_dir / 'credentials.json'}: `serve` and `worker` use its "
            "gameserver user (VALKEY_USERNAME, VALKEY_PASSWORD)",
            file=sys.stderr,
        )
        return 0
    if action == "down":
        try:
            cluster_down(data_dir, valkey_port)
        except (RuntimeError, ValueError, OSError) as exc:  # `up` manages it, say
            print(f"gameserver cluster down: {exc}", file=sys.stderr)
            return 1
        return 0
    port = valkey_port or recorded_base_port(data_dir) or settings.valkey_port
    report = shard_report(EmbeddedCluster(data_dir, port))
    print(f"cluster {report.cluster_state} (data in {data_dir}, ports {port}-{port + 5})")
    for line in format_report(report):
        print(line)
    return EXIT_CODES[report.health]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
