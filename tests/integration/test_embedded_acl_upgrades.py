"""During a rolling upgrade the embedded cluster's nodes agree on what the services' user
may run: a node started again keeps what its running peers grant (an earlier release's
EVALSHA, say), nodes adopted from an earlier owner gain this release's grants, and only
a cluster stopped whole starts again with this release's rules alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gameserver.embedded import EmbeddedCluster
from tests.cluster_helpers import start_embedded_cluster

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="inspects /proc")

# What the release before matchmaking's function library granted and used: its Lua ran
# as scripts (SCRIPT LOAD, EVALSHA). This release grants neither.
EARLIER_RELEASE = ("+evalsha", "+script|load")
EVALSHA = ("EVALSHA", "0" * 40, "1", "mm:{q}:tickets")


def _dry_run(cluster: EmbeddedCluster, port: int, *command: str) -> str:
    """OK, or why the node refuses `command` to the `gameserver` user."""
    node = next(n for n in cluster.nodes if n.port == port)
    with node.client() as admin:
        return str(admin.call("ACL", "DRYRUN", cluster.credentials.gameserver.username, *command))


def _grant_everywhere(cluster: EmbeddedCluster, *rules: str) -> None:
    for node in cluster.nodes:
        with node.client() as admin:
            admin.call("ACL", "SETUSER", cluster.credentials.gameserver.username, *rules)


def _replica_port(cluster: EmbeddedCluster) -> int:
    return next(n.port for n in cluster.status().nodes if n.role == "replica")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[EmbeddedCluster]:
    cluster = start_embedded_cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_a_node_started_again_keeps_what_its_running_peers_grant(
    cluster: EmbeddedCluster,
) -> None:
    # The cluster runs an earlier release's processes, which call EVALSHA.
    _grant_everywhere(cluster, *EARLIER_RELEASE)
    port = _replica_port(cluster)
    assert "no permissions" in _dry_run(cluster, port, "FLUSHALL")

    cluster.kill_node(port)
    cluster.restart_node(port)

    assert _dry_run(cluster, port, *EVALSHA) == "OK"
    assert _dry_run(cluster, port, "SCRIPT", "LOAD", "return 1") == "OK"
    # This release's own rules hold beside them, and nothing more was let in.
    assert _dry_run(cluster, port, "WAITAOF", "1", "1", "100") == "OK"
    assert "no permissions" in _dry_run(cluster, port, "FLUSHALL")
    assert "no permissions" in _dry_run(cluster, port, "GET", "other:{q}")


def test_a_cluster_stopped_whole_starts_again_with_this_release_rules_alone(
    cluster: EmbeddedCluster,
) -> None:
    _grant_everywhere(cluster, *EARLIER_RELEASE)
    cluster.stop()
    cluster.start()
    for node in cluster.nodes:
        assert "no permissions" in _dry_run(cluster, node.port, *EVALSHA)
        assert _dry_run(cluster, node.port, "WAITAOF", "1", "1", "100") == "OK"


def test_adopted_nodes_gain_this_release_grants_and_a_crashed_cluster_keeps_its_own(
    tmp_path: Path,
) -> None:
    first = start_embedded_cluster(tmp_path)
    second = EmbeddedCluster(first.data_dir, first.base_port)
    try:
        # Nodes of an earlier release: EVALSHA granted, WAITAOF not yet.
        _grant_everywhere(first, *EARLIER_RELEASE)
        _grant_everywhere(first, "-waitaof")
        first.release()  # its owner goes away, the nodes keep running

        second.start()  # adopts them
        for node in second.nodes:
            assert _dry_run(second, node.port, "WAITAOF", "1", "1", "100") == "OK"
            assert _dry_run(second, node.port, *EVALSHA) == "OK"

        # A node dies with no supervisor; the next owner starts all six again.
        second.kill_node(_replica_port(second))
        second.release()
        third = EmbeddedCluster(first.data_dir, first.base_port)
        second = third
        third.start()
        for node in third.nodes:
            assert _dry_run(third, node.port, *EVALSHA) == "OK"
    finally:
        second.stop()
