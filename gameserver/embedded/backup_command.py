"""The `gameserver backup DEST` and `gameserver restore ARCHIVE` commands."""

from __future__ import annotations

import argparse
import sys

from gameserver.embedded.backup import backup_embedded, restore_embedded
from gameserver.settings import Settings


def run_backup_command(args: argparse.Namespace, settings: Settings) -> int:
    data_dir = settings.data_dir.resolve()
    try:
        if args.command == "backup":
            manifest = backup_embedded(data_dir, args.dest, args.valkey_port)
            print(
                f"backed up {manifest.keys} keys of {len(manifest.primaries)} primaries "
                f"into {args.dest.resolve()}"
            )
        else:
            manifest = restore_embedded(args.archive, data_dir, settings.valkey_port)
            print(
                f"restored {manifest.keys} keys into a new cluster in {data_dir} "
                f"(ports {settings.valkey_port}-{settings.valkey_port + 5}); "
                f"start it with `gameserver up --data-dir {data_dir}`"
            )
    except (RuntimeError, OSError) as exc:
        print(f"gameserver {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0
