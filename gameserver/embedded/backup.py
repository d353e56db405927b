"""`gameserver backup`: every primary's data and the cluster layout in one archive.

A backup pauses writes on every primary at once (CLIENT PAUSE WRITE: reads go on,
writes wait), starts a BGSAVE on each (the fork is the snapshot), and lifts the pause:
writers wait a few milliseconds, and the snapshots together are the cluster at one
instant, every acknowledged write before it and none after. Each primary's RDB file and
the cluster's layout (`manifest.json`) go into one tar.gz, with the data dir's
token-signing secret (`secret`) when it holds one: credentials are stored as HMACs under
a key derived from it, so without it no device or provider login finds its account.

`gameserver restore` (gameserver/embedded/restore.py) loads such an archive into a new
cluster. Function libraries are not part of a backup: every gateway and worker loads
its own at start-up (docs/operations.md, "Rolling upgrades").
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import valkey
from valkey.exceptions import ConnectionError as ValkeyConnectionError
from valkey.exceptions import ResponseError
from valkey.exceptions import TimeoutError as ValkeyTimeoutError

from gameserver.embedded.cluster import recorded_base_port
from gameserver.embedded.credentials import Credential, load_credentials
from gameserver.embedded.formation import CLUSTER_SLOTS
from gameserver.embedded.node import AdminClient
from gameserver.embedded.ports import node_ports
from gameserver.secrets_store import SECRET_FILE

ARCHIVE_FORMAT = 1
MANIFEST = "manifest.json"
# Writers wait at most this long if the backup dies between pause and unpause.
_PAUSE_MS = 5000
_BGSAVE_ATTEMPTS = 10
_SNAPSHOT_TIMEOUT_S = 600.0
_SCAN_COUNT = 500


@dataclass(frozen=True)
class PrimaryCopy:
    """One primary as the backup found it, and its RDB's name in the archive."""

    address: str
    node_id: str
    slots: list[list[int]]  # [first, last] ranges
    replicas: list[str]
    keys: int
    file: str


@dataclass(frozen=True)
class Manifest:
    format: int
    created_unix_s: float
    primaries: list[PrimaryCopy]
    # How long writes were held on the primaries while the snapshots forked.
    paused_ms: float = 0.0
    # Whether the archive holds the data dir's signing secret (`SECRET_FILE`).
    secret: bool = False

    @property
    def keys(self) -> int:
        return sum(primary.keys for primary in self.primaries)


def backup_embedded(data_dir: Path, dest: Path, base_port: int | None = None) -> Manifest:
    """Back up the running embedded cluster of `data_dir` into the archive `dest`."""
    data_dir = data_dir.resolve()
    credentials = load_credentials(data_dir)
    if credentials is None:
        raise RuntimeError(f"{data_dir} holds no cluster credentials (credentials.json)")
    port = base_port or recorded_base_port(data_dir)
    if port is None:
        raise RuntimeError(f"{data_dir} holds no embedded cluster")
    secret = data_dir / SECRET_FILE
    # Any node that answers tells the layout: the first one may be the one that is down.
    seed = ("127.0.0.1", port)
    for candidate in node_ports(port):
        try:
            with _client(("127.0.0.1", candidate), credentials.admin) as probe:
                probe.call("PING")
        except (ValkeyConnectionError, ValkeyTimeoutError):
            continue
        seed = ("127.0.0.1", candidate)
        break
    else:
        raise RuntimeError(
            f"no node of the cluster in {data_dir} answers (ports {port}-{port + 5}): "
            "is it running? (`gameserver cluster status`)"
        )
    return backup_cluster(seed, credentials.admin, dest, secret if secret.is_file() else None)


def backup_cluster(
    seed: tuple[str, int], admin: Credential, dest: Path, secret: Path | None = None
) -> Manifest:
    """Snapshot every primary of the cluster that `seed` belongs to into `dest`.

    The RDB files are read from the primaries' own directories: the nodes run on this
    machine (an embedded cluster, or a node's volume mounted here).
    """
    try:
        return _backup_cluster(seed, admin, dest, secret)
    except (ValkeyConnectionError, ValkeyTimeoutError) as exc:
        raise RuntimeError(
            f"a node of the cluster stopped answering ({exc}); nothing was written: "
            "try again once `gameserver cluster status` shows every primary up"
        ) from exc


def _backup_cluster(
    seed: tuple[str, int], admin: Credential, dest: Path, secret: Path | None
) -> Manifest:
    with _client(seed, admin) as first:
        primaries = _primaries(first.call("CLUSTER", "NODES"))
    with contextlib.ExitStack() as stack:
        clients = {
            address: stack.enter_context(_client(_host_port(address), admin))
            for address in primaries
        }
        saves = {a: _info(c, "persistence")["rdb_saves"] for a, c in clients.items()}
        keys, paused_ms = _snapshot_all(clients)
        copies: list[tuple[PrimaryCopy, Path]] = []
        for i, (address, client) in enumerate(sorted(clients.items())):
            _wait_for_snapshot(client, address, int(saves[address]))
            node_id, slots, replicas = primaries[address]
            folder, name = _config(client, "dir"), _config(client, "dbfilename")
            entry = PrimaryCopy(address, node_id, slots, replicas, keys[address], f"rdb/{i}.rdb")
            copies.append((entry, Path(folder) / name))
    manifest = Manifest(
        ARCHIVE_FORMAT, time.time(), [e for e, _ in copies], paused_ms, secret is not None
    )
    _write_archive(dest, manifest, copies, secret)
    return manifest


def _primaries(nodes_text: Any) -> dict[str, tuple[str, list[list[int]], list[str]]]:
    """address -> (node id, slot ranges, replica addresses) from CLUSTER NODES."""
    primaries: dict[str, tuple[str, list[list[int]], list[str]]] = {}
    by_id: dict[str, str] = {}
    replicas: list[tuple[str, str]] = []
    if not isinstance(nodes_text, str):
        raise RuntimeError(f"unexpected CLUSTER NODES reply: {type(nodes_text).__name__}")
    for line in nodes_text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        node_id, address, flags, master = parts[0], parts[1].split("@")[0], parts[2], parts[3]
        if "fail" in flags.split(",") or "noaddr" in flags:
            continue
        if "master" in flags.split(","):
            slots = [_slot_range(part) for part in parts[8:] if not part.startswith("[")]
            if slots:
                primaries[address] = (node_id, slots, [])
                by_id[node_id] = address
        elif master != "-":
            replicas.append((master, address))
    for master, address in replicas:
        if master in by_id:
            primaries[by_id[master]][2].append(address)
    if not primaries:
        raise RuntimeError("the cluster has no primary serving slots")
    served = sum(last - first + 1 for _, slots, _ in primaries.values() for first, last in slots)
    if served != CLUSTER_SLOTS:
        # A backup without them would miss their data and still look whole.
        raise RuntimeError(
            f"{CLUSTER_SLOTS - served} slots have no primary that is up (a failover, or a "
            "shard lost); nothing was written: try again once `gameserver cluster status` "
            "shows every slot served"
        )
    return primaries


def _slot_range(part: str) -> list[int]:
    first, _, last = part.partition("-")
    return [int(first), int(last or first)]


def _snapshot_all(clients: dict[str, AdminClient]) -> tuple[dict[str, int], float]:
    """Fork a snapshot on every primary while all of them hold writes; their key counts,
    and how long (ms) the writes were held.

    A BGSAVE refused (another fork running: an AOF rewrite) lifts the pause and tries
    again a little later, a bounded number of times.
    """
    for attempt in range(1, _BGSAVE_ATTEMPTS + 1):
        paused: list[AdminClient] = []
        started = time.monotonic()
        try:
            for client in clients.values():
                client.call("CLIENT", "PAUSE", _PAUSE_MS, "WRITE")
                paused.append(client)
            keys = {address: int(client.call("DBSIZE")) for address, client in clients.items()}
            for client in clients.values():
                client.call("BGSAVE")
            _unpause(paused)
            return keys, (time.monotonic() - started) * 1000
        except ResponseError as exc:
            if attempt == _BGSAVE_ATTEMPTS:
                raise RuntimeError(f"a primary refused to snapshot: {exc}") from exc
        finally:
            _unpause(paused)
        time.sleep(0.5 * attempt)
    raise AssertionError("unreachable")


def _unpause(paused: list[AdminClient]) -> None:
    while paused:
        with contextlib.suppress(Exception):
            paused.pop().call("CLIENT", "UNPAUSE")


def _wait_for_snapshot(client: AdminClient, address: str, saves_before: int) -> None:
    deadline = time.monotonic() + _SNAPSHOT_TIMEOUT_S
    while True:
        info = _info(client, "persistence")
        if int(info["rdb_bgsave_in_progress"]) == 0 and int(info["rdb_saves"]) > saves_before:
            if info["rdb_last_bgsave_status"] != "ok":
                raise RuntimeError(f"the snapshot of {address} failed (see its log)")
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the snapshot of {address} did not finish in time")
        time.sleep(0.05)


def _write_archive(
    dest: Path, manifest: Manifest, copies: list[tuple[PrimaryCopy, Path]], secret: Path | None
) -> None:
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    # Player data: readable by its owner alone, and complete or absent.
    with (
        os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as raw,
        tarfile.open(fileobj=raw, mode="w:gz") as tar,
    ):
        body = json.dumps(asdict(manifest), indent=2).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime, info.mode = len(body), int(manifest.created_unix_s), 0o600
        tar.addfile(info, io.BytesIO(body))
        for entry, path in copies:
            tar.add(path, arcname=entry.file, recursive=False)
        if secret is not None:
            tar.add(secret, arcname=SECRET_FILE, recursive=False)
    partial.replace(dest)


@contextlib.contextmanager
def _client(address: tuple[str, int], admin: Credential) -> Iterator[AdminClient]:
    client = valkey.Valkey(
        host=address[0],
        port=address[1],
        username=admin.username,
        password=admin.password,
        decode_responses=True,
        socket_timeout=30,
    )
    try:
        yield AdminClient(client)
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def _info(client: AdminClient, section: str) -> dict[str, Any]:
    info: dict[str, Any] = client.call("INFO", section)
    return info


def _config(client: AdminClient, name: str) -> str:
    reply = client.call("CONFIG GET", name)
    if isinstance(reply, dict):
        return str(reply[name])
    return str(reply[1])
