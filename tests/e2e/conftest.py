"""End-to-end fixtures: a real gateway in this process against the test cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from tests.gateway_harness import Gateway, gateway_settings, running_gateway


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def gateway(cluster_seeds: tuple[tuple[str, int], ...]) -> AsyncIterator[Gateway]:
    async with running_gateway(gateway_settings(cluster_seeds, "gw-a")) as running:
        yield running
