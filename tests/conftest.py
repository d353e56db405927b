"""Session fixtures: one Valkey cluster for the whole run, a client, and a clean keyspace.

With VALKEY_NODES set the tests use that cluster; otherwise an embedded cluster starts on
free ports in a temporary folder and stops when the session ends, failed, interrupted or
terminated; a later session stops the cluster of a run that was killed outright.

The embedded cluster runs with its ACLs, as `gameserver up` does: every service of the
suite (the `settings` fixture, `valkey`, gateways, workers) logs in as the
least-privileged `gameserver` user; flushing between tests and tests that inspect or
break the cluster on purpose use `admin_valkey`. An external cluster is used with
VALKEY_USERNAME/VALKEY_PASSWORD (and VALKEY_TLS...) for both, unless
VALKEY_ADMIN_USERNAME/VALKEY_ADMIN_PASSWORD name an admin user.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import AsyncIterator, Iterator
from types import FrameType

import pytest
import pytest_asyncio
from valkey.asyncio.cluster import ValkeyCluster

from gameserver.embedded import EmbeddedCluster
from gameserver.embedded.credentials import Credential
from gameserver.settings import Settings, settings_from_env
from gameserver.valkey_client import connect_cluster
from tests.cluster_helpers import (
    ClusterLogins,
    admin_settings,
    flush_cluster,
    new_session_cluster_folder,
    refresh_links,
    register_logins,
    service_login,
    start_embedded_cluster,
    stop_orphaned_session_clusters,
)

Seeds = tuple[tuple[str, int], ...]


def _external_nodes() -> Seeds:
    return settings_from_env({"VALKEY_NODES": os.environ.get("VALKEY_NODES", "")}).valkey_nodes


def _test_settings(seeds: Seeds) -> Settings:
    settings = Settings(
        valkey_nodes=seeds,
        admin_key="test-admin-key",
        secret=b"test-secret",
        gateway_id="gw-test",
        **service_login(seeds),
    )
    if not _external_nodes():
        return settings
    # An external cluster may need the TLS settings of the environment.
    env = settings_from_env()
    return settings.with_overrides(
        valkey_tls=env.valkey_tls,
        valkey_tls_ca=env.valkey_tls_ca,
        valkey_tls_cert=env.valkey_tls_cert,
        valkey_tls_key=env.valkey_tls_key,
    )


def _external_logins() -> ClusterLogins:
    def login(username: str, password: str) -> Credential | None:
        name, secret = os.environ.get(username, ""), os.environ.get(password, "")
        return Credential(name or "default", secret) if secret else None

    service = login("VALKEY_USERNAME", "VALKEY_PASSWORD")
    admin = login("VALKEY_ADMIN_USERNAME", "VALKEY_ADMIN_PASSWORD")
    return ClusterLogins(gameserver=service, admin=admin or service)


def pytest_configure(config: pytest.Config) -> None:
    # `timeout` and friends send SIGTERM, which would end the run without teardown and
    # leave the session cluster running; as KeyboardInterrupt the teardown still runs.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # `timeout` signals both pytest and its process group: a second SIGTERM must not
    # interrupt the teardown that the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def _embedded_cluster() -> Iterator[EmbeddedCluster | None]:
    if _external_nodes():
        register_logins(_external_nodes(), _external_logins())
        yield None
        return
    stop_orphaned_session_clusters()
    folder = new_session_cluster_folder()
    try:
        cluster = start_embedded_cluster(folder)
        credentials = cluster.credentials
        register_logins(
            tuple(cluster.seeds), ClusterLogins(credentials.gameserver, credentials.admin)
        )
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster_seeds(_embedded_cluster: EmbeddedCluster | None) -> Seeds:
    """`(host, port)` seeds of the cluster every test of the session uses."""
    if _embedded_cluster is None:
        return _external_nodes()
    return tuple(_embedded_cluster.seeds)


@pytest.fixture(scope="session")
def embedded_cluster(_embedded_cluster: EmbeddedCluster | None) -> EmbeddedCluster:
    """The session's embedded cluster, for tests that kill and restart nodes."""
    if _embedded_cluster is None:
        pytest.skip("needs the embedded cluster; VALKEY_NODES points at an external one")
    return _embedded_cluster


@pytest.fixture
def settings(cluster_seeds: Seeds) -> Settings:
    return _test_settings(cluster_seeds)


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def valkey_session(cluster_seeds: Seeds) -> AsyncIterator[ValkeyCluster]:
    """The session's cluster client as the `gameserver` user, without flushing (for
    session-scoped fixtures)."""
    client = await connect_cluster(_test_settings(cluster_seeds))
    try:
        yield client
    finally:
        await client.aclose()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def admin_valkey_session(cluster_seeds: Seeds) -> AsyncIterator[ValkeyCluster]:
    """The session's cluster client as the `admin` user."""
    client = await connect_cluster(admin_settings(_test_settings(cluster_seeds)))
    try:
        yield client
    finally:
        await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def admin_valkey(admin_valkey_session: ValkeyCluster) -> ValkeyCluster:
    """A client with every right, for what a test does behind the services' back:
    listing keys, reading INFO, killing connections, deleting functions."""
    return admin_valkey_session


@pytest_asyncio.fixture(loop_scope="session")
async def clean_valkey(
    valkey_session: ValkeyCluster, admin_valkey_session: ValkeyCluster
) -> ValkeyCluster:
    """The `gameserver` client after FLUSHALL (as admin) on every primary, replicas
    caught up."""
    await flush_cluster(admin_valkey_session)
    await refresh_links(valkey_session)
    return valkey_session


@pytest_asyncio.fixture(loop_scope="session")
async def valkey(clean_valkey: ValkeyCluster) -> ValkeyCluster:
    """A connected cluster client on an empty keyspace (Valkey Functions stay loaded)."""
    return clean_valkey
