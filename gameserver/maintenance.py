"""Operators' commands: `gameserver backup DEST`, `gameserver restore ARCHIVE` and
`gameserver cluster prune-functions`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from domain.storage.library_versions import DEFAULT_IDLE_S, prune
from gameserver.embedded.backup import backup_embedded
from gameserver.embedded.cluster import recorded_base_port
from gameserver.embedded.credentials import load_credentials
from gameserver.embedded.ports import node_ports
from gameserver.embedded.restore import restore_embedded
from gameserver.settings import Settings
from gameserver.valkey_client import connect_cluster


def run_backup_command(args: argparse.Namespace, settings: Settings) -> int:
    data_dir = settings.data_dir.resolve()
    try:
        if args.command == "backup":
            manifest = backup_embedded(data_dir, args.dest, args.valkey_port)
            print(
                f"backed up {manifest.keys} keys of {len(manifest.primaries)} primaries "
                f"into {args.dest.resolve()} (writes held {manifest.paused_ms:.1f} ms)"
            )
        else:
            manifest = restore_embedded(args.archive, data_dir, settings.valkey_port)
            port = settings.valkey_port
            # `up` starts the cluster on its default ports unless told the recorded ones.
            port_flag = "" if port == Settings().valkey_port else f" --valkey-port {port}"
            secret = " and the token-signing secret" if manifest.secret else ""
            print(
                f"restored {manifest.keys} keys{secret} into a new cluster in {data_dir} "
                f"(ports {port}-{port + 5}); "
                f"start it with `gameserver up --data-dir {data_dir}{port_flag}`"
            )
    except (RuntimeError, OSError) as exc:
        print(f"gameserver {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


def run_prune_functions(settings: Settings, idle_s: float | None = None) -> int:
    """Delete the function libraries no running process has heartbeated for `idle_s`.

    Against VALKEY_NODES with the login the environment gives (an administrator's:
    FUNCTION DELETE is not the services' right), else against the embedded cluster of
    the data dir with its admin login.
    """
    try:
        admin = _admin_settings(settings)
        pruned = asyncio.run(_prune(admin, DEFAULT_IDLE_S if idle_s is None else idle_s))
    except (RuntimeError, OSError) as exc:
        print(f"gameserver cluster prune-functions: {exc}", file=sys.stderr)
        return 1
    for name in pruned:
        print(f"deleted {name}")
    print(f"{len(pruned)} function libraries deleted")
    return 0


def _admin_settings(settings: Settings) -> Settings:
    if settings.valkey_nodes:
        return settings
    data_dir = settings.data_dir.resolve()
    credentials = load_credentials(data_dir)
    base_port = recorded_base_port(data_dir)
    if credentials is None or base_port is None:
        raise RuntimeError(f"no VALKEY_NODES and no embedded cluster in {data_dir}")
    return settings.with_overrides(
        valkey_nodes=tuple(("127.0.0.1", port) for port in node_ports(base_port)),
        valkey_username=credentials.admin.username,
        valkey_password=credentials.admin.password,
    )


async def _prune(settings: Settings, idle_s: float) -> list[str]:
    cluster = await connect_cluster(settings, attempts=3)
    try:
        # The cluster's clock, not this machine's: the heartbeats use the processes' own.
        seconds, micros = await cluster.time(target_nodes=cluster.get_random_node())
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        return await prune(cluster, now_ms, round(idle_s * 1000))
    finally:
        await cluster.aclose()
