"""One command for a headless Locust run against a fresh `gameserver up`, reports included.

    python -m loadtest.run -t 60s -u 200 -r 50
    python -m loadtest.run -t 60s --shape 200@100/20,200@1/30,400@200/10
    python -m loadtest.run --url http://127.0.0.1:8000 --admin-key KEY -t 60s -- --processes 2

It starts `gameserver up` on free ports in a temporary data dir (unless --url is given),
runs `locust --headless` with loadtest/locustfile.py, writes Locust's CSV files and HTML
report into --out, stops the server and exits with Locust's exit code (the thresholds).
Arguments after `--` go to Locust unchanged.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from loadtest.extras import require_test_extras

HERE = Path(__file__).resolve().parent
LOCUSTFILE = HERE / "locustfile.py"
SHAPEFILE = HERE / "shapes.py"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-u", "--users", type=int, default=100)
    parser.add_argument("-r", "--spawn-rate", type=float, default=50.0)
    parser.add_argument("-t", "--run-time", default="60s")
    parser.add_argument("--shape", help="use loadtest/shapes.py with these stages (GS_SHAPE)")
    parser.add_argument("--max-fail-ratio", default="0.01", help="exit 1 above it")
    parser.add_argument("--max-p95-ms", help="exit 1 when the p95 of calls is above it")
    parser.add_argument("--max-push-p95-ms", help="exit 1 when the p95 of push lag is above it")
    parser.add_argument("--out", type=Path, help="report folder (default loadtest/reports/...)")
    parser.add_argument("--url", help="a running gateway instead of a fresh `gameserver up`")
    parser.add_argument("--admin-key", help="its admin key (for the trusted game server)")
    parser.add_argument("locust_args", nargs="*", help="after `--`: more Locust arguments")
    return parser


def locust_command(args: argparse.Namespace, url: str, admin_key: str, out: Path) -> list[str]:
    files = f"{LOCUSTFILE},{SHAPEFILE}" if args.shape else str(LOCUSTFILE)
    command = [
        sys.executable, "-m", "locust", "-f", files, "--headless",
        "--host", url,
        "--csv", str(out / "run"), "--csv-full-history",
        "--html", str(out / "run.html"),
        f"--gs-admin-key={admin_key}",  # "=": a key may start with "-"
        "--gs-max-fail-ratio", args.max_fail_ratio,
    ]  # fmt: skip
    if not args.shape:
        command += ["-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.run_time]
    else:
        command += ["--gs-shape", args.shape]
    if args.max_p95_ms:
        command += ["--gs-max-p95-ms", args.max_p95_ms]
    if args.max_push_p95_ms:
        command += ["--gs-max-push-p95-ms", args.max_push_p95_ms]
    return command + list(args.locust_args)


def main(argv: Sequence[str] | None = None) -> int:
    require_test_extras("python -m loadtest.run", ("locust", "psutil", "websocket"))
    from loadtest.gameserver_up import start_gameserver, stop_gameserver, valkey_servers_of

    args = build_parser().parse_args(argv)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = (args.out or HERE / "reports" / f"run-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.url:
        command = locust_command(args, args.url, args.admin_key or "", out)
        print(" ".join(command), flush=True)
        return subprocess.call(command, env=os.environ)
    data_dir = Path(tempfile.mkdtemp(prefix="gameserver-loadtest-"))
    try:
        process, server = start_gameserver(data_dir)
    except BaseException:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    print(f"gameserver up at {server.url} (pid {server.pid}, data {data_dir})", flush=True)
    try:
        command = locust_command(args, server.url, server.admin_key, out)
        print(" ".join(command), flush=True)
        code = subprocess.call(command, env=os.environ)
    finally:
        stop_gameserver(process)
        shutil.copyfile(server.log_path, out / "gameserver-up.log")
        if not valkey_servers_of(data_dir):
            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"reports: {out}/run_stats.csv, run_stats_history.csv, run_failures.csv, run.html")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
