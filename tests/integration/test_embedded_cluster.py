"""The embedded cluster: formation, persistence, clean stops, crashed owners."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from valkey.cluster import ValkeyCluster as SyncValkeyCluster
from valkey.exceptions import ValkeyClusterException, ValkeyError

import gameserver.embedded.cluster as cluster_module
from gameserver.embedded import (
    EmbeddedCluster,
    cluster_down,
    cluster_status,
    cluster_up,
    find_free_base_port,
)
from gameserver.embedded.node import pid_alive
from tests.cluster_helpers import start_embedded_cluster

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="inspects /proc")


def valkey_pids_under(folder: Path) -> set[int]:
    """Every running valkey-server whose working directory lies in `folder`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"valkey-server" in cmdline and cwd.is_relative_to(folder.resolve()):
            if pid_alive(int(entry.name)):
                found.add(int(entry.name))
    return found


def admin_client(cluster: EmbeddedCluster, host: str, port: int) -> SyncValkeyCluster:
    login = cluster.credentials.admin
    return SyncValkeyCluster(host=host, port=port, username=login.username, password=login.password)


def node_ids(cluster: EmbeddedCluster) -> dict[int, str]:
    ids = {}
    for node in cluster.nodes:
        with node.client() as admin:
            ids[node.port] = str(admin.call("CLUSTER MYID"))
    return ids


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    cluster = start_embedded_cluster(tmp_path_factory.mktemp("embedded"))
    try:
        yield cluster
    finally:
        cluster.stop()


def test_three_primaries_own_all_slots_and_each_has_its_own_replica(
    cluster: EmbeddedCluster,
) -> None:
    base = cluster.base_port
    with cluster.nodes[0].client() as admin:
        slots = admin.call("CLUSTER SLOTS")
    ranges = sorted(
        (start, end, primary[1], [r[1] for r in replicas])
        for start, end, primary, *replicas in slots
    )
    assert ranges == [
        (0, 5460, base, [base + 3]),
        (5461, 10922, base + 1, [base + 4]),
        (10923, 16383, base + 2, [base + 5]),
    ]


def test_every_node_keeps_an_aof_and_listens_on_loopback_only(cluster: EmbeddedCluster) -> None:
    for node in cluster.nodes:
        with node.client() as admin:
            config = dict(admin.call("CONFIG GET", "*"))
        assert config["appendonly"] == "yes"
        assert config["appendfsync"] == "everysec"
        assert config["bind"] == "127.0.0.1"
        assert config["cluster-enabled"] == "yes"
        assert config["cluster-node-timeout"] == "2000"
        assert Path(config["dir"]) == cluster.valkey_dir / str(node.port)
        assert (node.node_dir / "appendonlydir").is_dir()


def test_status_reports_each_node_and_the_cluster_state(cluster: EmbeddedCluster) -> None:
    status = cluster.status()
    assert status.cluster_state == "ok"
    assert [n.port for n in status.nodes] == [port for _, port in cluster.seeds]
    assert [n.role for n in status.nodes] == ["primary"] * 3 + ["replica"] * 3
    assert all(n.alive and n.pid and n.cluster_state == "ok" for n in status.nodes)
    assert {n.pid for n in status.nodes} == valkey_pids_under(cluster.data_dir)


def test_a_second_owner_of_the_same_folder_is_refused(cluster: EmbeddedCluster) -> None:
    other = EmbeddedCluster(cluster.data_dir, cluster.base_port)
    with pytest.raises(RuntimeError, match="managed by another running process"):
        other.start()


def test_data_survives_stop_and_start_without_forming_a_new_cluster(
    cluster: EmbeddedCluster,
) -> None:
    ids_before = node_ids(cluster)
    host, port = cluster.seeds[0]
    client = admin_client(cluster, host, port)
    try:
        for i in range(50):
            client.set(f"key:{i}", f"value:{i}")
    finally:
        client.close()  # type: ignore[no-untyped-call]
    pids = {n.pid for n in cluster.status().nodes}

    cluster.stop()
    assert not any(pid_alive(pid) for pid in pids if pid)
    assert valkey_pids_under(cluster.data_dir) == set()
    assert cluster.status().cluster_state == "down"

    cluster.start()
    assert node_ids(cluster) == ids_before
    client = admin_client(cluster, host, port)
    try:
        assert [client.get(f"key:{i}") for i in range(50)] == [
            f"value:{i}".encode() for i in range(50)
        ]
    finally:
        client.close()  # type: ignore[no-untyped-call]


def test_a_port_taken_by_another_process_is_named(tmp_path: Path) -> None:
    base = find_free_base_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 4))
        squatter.listen()
        with pytest.raises(RuntimeError, match=f"port {base + 4} on 127.0.0.1 is in use"):
            EmbeddedCluster(tmp_path, base).start()
    assert valkey_pids_under(tmp_path) == set()


def test_nodes_left_by_a_crashed_owner_are_adopted(tmp_path: Path) -> None:
    base = find_free_base_port()
    crashed_owner = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from gameserver.embedded import EmbeddedCluster
        EmbeddedCluster(Path({str(tmp_path)!r}), {base}).start()
        os._exit(1)
        """
    )
    subprocess.run([sys.executable, "-c", crashed_owner], check=False, timeout=60)
    leftovers = valkey_pids_under(tmp_path)
    assert len(leftovers) == 6

    cluster = EmbeddedCluster(tmp_path, base)
    try:
        cluster.start()
        assert {n.pid for n in cluster.status().nodes} == leftovers
        assert valkey_pids_under(tmp_path) == leftovers
    finally:
        cluster.stop()
    assert valkey_pids_under(tmp_path) == set()


def test_an_unhealthy_leftover_is_stopped_and_the_cluster_restarted(tmp_path: Path) -> None:
    base = find_free_base_port()
    first = EmbeddedCluster(tmp_path, base)
    first.start()
    first.kill_node(base + 1)
    first.release()  # the owner goes away without stopping its nodes
    survivors = valkey_pids_under(tmp_path)
    assert len(survivors) == 5

    second = EmbeddedCluster(tmp_path, base)
    try:
        second.start()
        running = valkey_pids_under(tmp_path)
        assert len(running) == 6
        assert not running & survivors
        assert second.status().cluster_state == "ok"
    finally:
        second.stop()
    assert valkey_pids_under(tmp_path) == set()


def test_cluster_up_leaves_the_cluster_running_until_cluster_down(tmp_path: Path) -> None:
    base = find_free_base_port()
    try:
        seeds = cluster_up(tmp_path, base)
        assert seeds == [("127.0.0.1", base + i) for i in range(6)]
        status = cluster_status(tmp_path)
        assert status.cluster_state == "ok"
        assert {n.pid for n in status.nodes} == valkey_pids_under(tmp_path)
    finally:
        cluster_down(tmp_path)
    assert valkey_pids_under(tmp_path) == set()
    assert cluster_status(tmp_path).cluster_state == "down"


def test_a_data_dir_from_before_acls_gets_them_keeping_its_data_and_then_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = find_free_base_port()
    # An earlier release: no credentials, no ACL, nodes left running by `cluster up`.
    with monkeypatch.context() as earlier:
        earlier.setattr(cluster_module, "load_or_create_credentials", lambda data_dir: None)
        old = EmbeddedCluster(tmp_path, base)
        old.start()
        old.release()
    anonymous = SyncValkeyCluster(host="127.0.0.1", port=base)
    try:
        anonymous.set("lb:{old}:s", "kept")
    finally:
        anonymous.close()  # type: ignore[no-untyped-call]
    old_pids = valkey_pids_under(tmp_path)
    assert not (tmp_path / "credentials.json").exists()

    upgraded = EmbeddedCluster(tmp_path, base)
    try:
        upgraded.start()
        assert not valkey_pids_under(tmp_path) & old_pids  # restarted with ACLs
        login = upgraded.credentials.gameserver
        client = SyncValkeyCluster(
            host="127.0.0.1", port=base, username=login.username, password=login.password
        )
        try:
            assert client.get("lb:{old}:s") == b"kept"
        finally:
            client.close()  # type: ignore[no-untyped-call]
        with pytest.raises((ValkeyError, ValkeyClusterException)):
            SyncValkeyCluster(host="127.0.0.1", port=base).get("lb:{old}:s")
    finally:
        upgraded.stop()
    written = (tmp_path / "credentials.json").read_text()

    again = EmbeddedCluster(tmp_path, base)
    try:
        again.start()
        assert (tmp_path / "credentials.json").read_text() == written
        assert again.credentials == upgraded.credentials
        with again.nodes[0].client() as admin:
            assert admin.call("ACL WHOAMI") == "admin"
    finally:
        again.stop()
