"""`gameserver restore`: a new embedded cluster holding a backup's data.

A restore starts a new embedded cluster on a fresh data dir and loads every RDB of the
archive (gameserver/embedded/backup.py) into it: a throwaway valkey-server (no cluster
mode, loopback, its own password) opens each file, and its keys are DUMPed and
RESTOREd, with their time to live, into the cluster, which places them by slot. The new
cluster may differ from the old one in ports and layout. The data dir's token-signing
secret, when the archive holds it, is written into the new data dir: `up` there signs
and hashes credentials with it, so every device and provider login finds its account.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import valkey
from valkey.cluster import ClusterNode, ValkeyCluster
from valkey.exceptions import BusyLoadingError
from valkey.exceptions import ConnectionError as ValkeyConnectionError

from gameserver.embedded.backup import (
    ARCHIVE_FORMAT,
    MANIFEST,
    Manifest,
    PrimaryCopy,
)
from gameserver.embedded.cluster import EmbeddedCluster, recorded_base_port
from gameserver.embedded.credentials import CREDENTIALS_FILE, load_credentials
from gameserver.embedded.node import SERVER_UMASK, valkey_server_binary
from gameserver.embedded.private_dir import make_private
from gameserver.secrets_store import SECRET_FILE

_LOAD_TIMEOUT_S = 600.0
_SCAN_COUNT = 500


def restore_embedded(
    archive: Path, data_dir: Path, base_port: int, keep_running: bool = False
) -> Manifest:
    """A new embedded cluster on `data_dir` (which holds none yet) with the archive's data.

    The cluster is stopped afterwards unless `keep_running`; its AOF holds the data.
    """
    data_dir = data_dir.resolve()
    if recorded_base_port(data_dir) is not None or load_credentials(data_dir) is not None:
        raise RuntimeError(f"{data_dir} already holds a cluster: restore into a fresh data dir")
    with tempfile.TemporaryDirectory(prefix="gameserver-restore-") as folder:
        work = Path(folder)
        manifest = _read_archive(archive, work)
        cluster = EmbeddedCluster(data_dir, base_port)
        # What this restore makes in the data dir; removed if it fails (a busy port, a
        # bad file), so that the same command can be run again.
        made = [data_dir / CREDENTIALS_FILE]
        if not cluster.valkey_dir.exists():
            made.append(cluster.valkey_dir)
        try:
            if manifest.secret and _restore_secret(work / SECRET_FILE, data_dir / SECRET_FILE):
                made.append(data_dir / SECRET_FILE)
            _load_into(cluster, manifest, work, keep_running)
        except BaseException:
            for path in made:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            raise
    return manifest


def _load_into(
    cluster: EmbeddedCluster, manifest: Manifest, work: Path, keep_running: bool
) -> None:
    """Start the new cluster, load every RDB of the archive into it, then stop it (or
    release it, with `keep_running`)."""
    cluster.start()
    try:
        admin = cluster.credentials.admin
        nodes = [ClusterNode(h, p) for h, p in cluster.seeds]  # type: ignore[no-untyped-call]
        target: Any = ValkeyCluster(
            startup_nodes=nodes, username=admin.username, password=admin.password
        )
        try:
            for primary in manifest.primaries:
                restored = _load_rdb(work / primary.file, target)
                if restored != primary.keys:
                    raise RuntimeError(
                        f"{primary.file}: {restored} keys restored, {primary.keys} backed up"
                    )
            # Every restored key is on a replica before the restore says it is done.
            target.execute_command("WAIT", 1, 10_000, target_nodes=ValkeyCluster.PRIMARIES)
        finally:
            target.close()
    except BaseException:
        cluster.stop()
        raise
    if keep_running:
        cluster.release()
    else:
        cluster.stop()


def _read_archive(archive: Path, work: Path) -> Manifest:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(work, filter="data")
        raw = json.loads((work / MANIFEST).read_text())
    except (tarfile.TarError, EOFError, ValueError, FileNotFoundError) as exc:
        raise RuntimeError(f"{archive} is not a whole backup archive ({exc})") from exc
    if raw.get("format") != ARCHIVE_FORMAT:
        raise RuntimeError(f"{archive}: archive format {raw.get('format')} is not supported")
    primaries = [PrimaryCopy(**entry) for entry in raw["primaries"]]
    return Manifest(
        raw["format"],
        raw["created_unix_s"],
        primaries,
        raw.get("paused_ms", 0.0),
        bool(raw.get("secret", False)),
    )


def _restore_secret(source: Path, target: Path) -> bool:
    """The backed-up signing secret into the new data dir (0600), before any cluster;
    whether it wrote the file (False: the same secret was there already)."""
    value = source.read_bytes()
    if target.exists():
        if target.read_bytes().strip() != value.strip():
            raise RuntimeError(
                f"{target} holds another signing secret: restore into a fresh data dir"
            )
        return False
    make_private(target.parent)
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(value)
    return True


def _load_rdb(rdb: Path, target: Any) -> int:
    """RESTORE every key of one RDB file into `target`; how many keys."""
    restored = 0
    with _rdb_server(rdb) as source:
        cursor = 0
        while True:
            cursor, keys = source.scan(cursor, count=_SCAN_COUNT)
            if keys:
                reads = source.pipeline(transaction=False)
                for key in keys:
                    reads.pttl(key)
                    reads.dump(key)
                replies = reads.execute()
                writes = target.pipeline()
                for key, ttl, payload in zip(keys, replies[::2], replies[1::2], strict=True):
                    if payload is None or ttl == -2:  # expired meanwhile
                        continue
                    writes.restore(key, max(int(ttl), 0), payload, replace=True)
                    restored += 1
                writes.execute()
            if cursor == 0:
                return restored


@contextlib.contextmanager
def _rdb_server(rdb: Path) -> Iterator[Any]:
    """A throwaway valkey-server that loaded `rdb`, on a free loopback port."""
    password = secrets.token_urlsafe(24)
    port = _free_port()
    folder = rdb.parent
    command = [
        str(valkey_server_binary()),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(folder),
        "--dbfilename", rdb.name,
        "--appendonly", "no",
        "--save", "",
        "--requirepass", password,
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        umask=SERVER_UMASK,
    )
    client: Any = valkey.Valkey(host="127.0.0.1", port=port, password=password)
    try:
        _wait_loaded(client, process)
        yield client
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_loaded(client: Any, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _LOAD_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError("valkey-server could not load a backed-up RDB file")
        try:
            client.ping()
            return
        except (ValkeyConnectionError, BusyLoadingError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
