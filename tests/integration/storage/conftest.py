"""The storage layer's tests write made-up keys (`ap:`, `nl:`, ...) outside every
feature's prefix and delete functions on purpose: they run as the admin user. The
features' tests run the same layer as the `gameserver` user."""

from __future__ import annotations

import pytest
import pytest_asyncio
from valkey.asyncio.cluster import ValkeyCluster

from gameserver.settings import Settings
from tests.cluster_helpers import admin_settings


@pytest_asyncio.fixture(loop_scope="session")
async def valkey(clean_valkey: ValkeyCluster, admin_valkey: ValkeyCluster) -> ValkeyCluster:
    return admin_valkey


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return admin_settings(settings)
