"""How long writes stop when a Valkey primary dies: a measurement on an embedded cluster.

    python -m tests.failover_outage [--rounds 2] [--node-timeout-ms 2000]

Starts an embedded cluster (3 primaries, 3 replicas) on free ports in a temporary
folder. A writer sets one key as fast as it can, one write at a time, and notes when each
write was acknowledged; the primary of that key's slot is killed with SIGKILL and, as
`gameserver up` does, started again 2 x node timeout + 1 s later (it rejoins as the
replica of the promoted node). The outage is the longest gap between two acknowledged
writes from the kill on: the last write before it and the first after. Two kinds of
write, each `--rounds` times:

- `SET`: acknowledged by the primary alone; back once a replica is promoted;
- `SET` + `WAIT 1`: acknowledged once a replica has it, as the services' writes are; back
  once the promoted node has a replica again (the restarted old primary, synced).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import valkey
from valkey.crc import key_slot

from gameserver.embedded.free_ports import start_on_free_ports

KEY = "outage:{probe}"
TIMEOUT_S = 0.3


class Unacknowledged(Exception):
    pass


def _primary_of(seeds: list[tuple[str, int]], login: dict[str, str]) -> tuple[str, int]:
    slot = key_slot(KEY.encode())
    for host, port in seeds:
        try:
            client = valkey.Valkey(host, port, socket_timeout=TIMEOUT_S, **login)
            ranges: Any = client.execute_command("CLUSTER", "SLOTS")
            client.close()
        except (valkey.ValkeyError, OSError):
            continue
        for start, end, primary, *_ in ranges:
            if start <= slot <= end:
                return str(
                    primary[0].decode() if isinstance(primary[0], bytes) else primary[0]
                ), int(primary[1])
    raise RuntimeError("no node answers CLUSTER SLOTS")


def _write(
    seeds: list[tuple[str, int]],
    login: dict[str, str],
    wait: bool,
    stop: threading.Event,
    acks: list[float],
) -> None:
    client: valkey.Valkey | None = None
    n = 0
    while not stop.is_set():
        try:
            if client is None:
                host, port = _primary_of(seeds, login)
                client = valkey.Valkey(
                    host, port, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S, **login
                )
            n += 1
            client.set(KEY, n)
            if wait and int(client.execute_command("WAIT", 1, int(TIMEOUT_S * 1000))) < 1:
                raise Unacknowledged
            acks.append(time.monotonic())
        except (valkey.ValkeyError, OSError, Unacknowledged):
            if client is not None:
                client.close()
            client = None
            time.sleep(0.01)


def measure(rounds: int, node_timeout_ms: int) -> None:
    parent = Path(tempfile.mkdtemp(prefix="gameserver-outage-"))
    cluster = start_on_free_ports(parent, node_timeout_ms)
    try:
        admin = cluster.credentials.admin
        login = {"username": admin.username, "password": admin.password}
        seeds = cluster.seeds
        restart_after_s = 2 * node_timeout_ms / 1000 + 1
        for wait in [False] * rounds + [True] * rounds:
            acks: list[float] = []
            stop = threading.Event()
            writer = threading.Thread(target=_write, args=(seeds, login, wait, stop, acks))
            writer.start()
            time.sleep(1.0)
            _, port = _primary_of(seeds, login)
            killed_at = time.monotonic()
            cluster.kill_node(port)
            time.sleep(max(0.0, restart_after_s - (time.monotonic() - killed_at)))
            cluster.restart_node(port, timeout_s=60)
            time.sleep(1.0)
            stop.set()
            writer.join(10)
            # The longest pause between two acknowledged writes around the kill.
            window = [t for t in acks if t >= killed_at - 0.5]
            gap = max(b - a for a, b in zip(window, window[1:], strict=False))
            kind = "SET + WAIT 1" if wait else "SET"
            print(
                f"{kind:>12}: writes stopped for {gap:.2f} s "
                f"(killed primary {port}; {len(acks)} writes acknowledged)",
                flush=True,
            )
    finally:
        cluster.stop()
        shutil.rmtree(parent, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.failover_outage", description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--node-timeout-ms", type=int, default=2000)
    args = parser.parse_args()
    measure(args.rounds, args.node_timeout_ms)


if __name__ == "__main__":
    main()
