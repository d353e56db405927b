"""The embedded Valkey cluster that `gameserver up` and `gameserver cluster` manage."""

from gameserver.embedded.cluster import (
    ClusterStatus,
    EmbeddedCluster,
    NodeStatus,
    cluster_down,
    cluster_status,
    cluster_up,
)
from gameserver.embedded.ports import find_free_base_port

__all__ = [
    "ClusterStatus",
    "EmbeddedCluster",
    "NodeStatus",
    "cluster_down",
    "cluster_status",
    "cluster_up",
    "find_free_base_port",
]
