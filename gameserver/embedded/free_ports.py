"""Starting an embedded cluster on whatever six ports are free (tests, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from gameserver.embedded.cluster import EmbeddedCluster
from gameserver.embedded.ports import find_free_base_port

_START_ATTEMPTS = 3


def start_on_free_ports(parent: Path, node_timeout_ms: int = 2000) -> EmbeddedCluster:
    """An embedded cluster on free ports, its data in `parent/<base port>`, started.

    Another process may take the same ports between the check and the bind; the start
    then fails cleanly and the next attempt picks other ports.
    """
    for attempt in range(1, _START_ATTEMPTS + 1):
        base_port = find_free_base_port()
        cluster = EmbeddedCluster(parent / str(base_port), base_port, node_timeout_ms)
        try:
            cluster.start()
            return cluster
        except RuntimeError:
            if attempt == _START_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
