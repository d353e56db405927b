"""Session fixtures: one Valkey cluster for the whole run, a client, and a clean keyspace.

With VALKEY_NODES set the tests use that cluster; otherwise an embedded cluster starts on
free ports in a temporary folder and stops when the session ends, failed, interrupted or
terminated; a later session stops the cluster of a run that was killed outright.
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
from gameserver.settings import Settings, settings_from_env
from gameserver.valkey_client import connect_cluster
from tests.cluster_helpers import (
    flush_cluster,
    new_session_cluster_folder,
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
    )
    if not _external_nodes():
        return settings
    # An external cluster may need the credentials and TLS of the environment.
    env = settings_from_env()
    return settings.with_overrides(
        valkey_username=env.valkey_username,
        valkey_password=env.valkey_password,
        valkey_tls=env.valkey_tls,
    )


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
        yield None
        return
    stop_orphaned_session_clusters()
    folder = new_session_cluster_folder()
    try:
        cluster = start_embedded_cluster(folder)
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
    """The session's cluster client, without flushing (for session-scoped fixtures)."""
    client = await connect_cluster(_test_settings(cluster_seeds))
    try:
        yield client
    finally:
        await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def clean_valkey(valkey_session: ValkeyCluster) -> ValkeyCluster:
    """The cluster client after FLUSHALL on every primary, replicas caught up."""
    await flush_cluster(valkey_session)
    return valkey_session


@pytest_asyncio.fixture(loop_scope="session")
async def valkey(clean_valkey: ValkeyCluster) -> ValkeyCluster:
    """A connected cluster client on an empty keyspace (Valkey Functions stay loaded)."""
    return clean_valkey
