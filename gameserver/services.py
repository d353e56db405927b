"""The services of one process, built once in the app's lifespan (the composition root)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import Clock
from domain.sessions.service import SessionService
from gameserver.gateway.registry import ConnectionRegistry
from gameserver.metrics import Metrics
from gameserver.push.control import PlayerMessenger
from gameserver.settings import Settings


@dataclass
class Services:
    settings: Settings
    clock: Clock
    cluster: ValkeyCluster
    sessions: SessionService
    metrics: Metrics
    registry: ConnectionRegistry
    messenger: PlayerMessenger
    # Feature services join here as they land; typed where they are wired.
    features: dict[str, Any] = field(default_factory=dict)
