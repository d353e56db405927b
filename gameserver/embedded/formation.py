"""Forming the six nodes into one cluster and telling when that cluster is whole."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from valkey.exceptions import ResponseError, ValkeyError

from gameserver.embedded.node import Node

CLUSTER_SLOTS = 16384
SLOT_RANGES = ((0, 5460), (5461, 10922), (10923, 16383))
_POLL_S = 0.05

Layout = Literal["fresh", "formed", "mixed"]


@dataclass(frozen=True)
class NodeProbe:
    """What one node says about itself and the cluster."""

    port: int
    node_id: str
    role: Literal["primary", "replica"]
    cluster_state: str
    known_nodes: int
    slots_assigned: int
    # Replicas: linked to the primary and done with the initial sync; primaries: True.
    synced: bool
    primary_port: int | None
    # Primaries and replicas this node lists in CLUSTER SLOTS; a replica shows there only
    # once gossip has told the node its replication offset.
    nodes_serving_slots: int


def probe(node: Node) -> NodeProbe | None:
    """The node's view, or None when it does not answer."""
    try:
        with node.client(timeout_s=1.0) as admin:
            replication = admin.call("INFO", "replication")
            info = admin.call("CLUSTER INFO")
            node_id = admin.call("CLUSTER MYID")
            slots = admin.call("CLUSTER SLOTS")
    except (ValkeyError, OSError):
        return None
    is_replica = replication.get("role") == "slave"
    synced = not is_replica or (
        replication.get("master_link_status") == "up"
        and int(replication.get("master_sync_in_progress", 1)) == 0
    )
    return NodeProbe(
        port=node.port,
        node_id=str(node_id),
        role="replica" if is_replica else "primary",
        cluster_state=str(info.get("cluster_state", "unknown")),
        known_nodes=int(info.get("cluster_known_nodes", 0)),
        slots_assigned=int(info.get("cluster_slots_assigned", 0)),
        synced=synced,
        primary_port=int(replication["master_port"]) if is_replica else None,
        nodes_serving_slots=sum(len(entry) - 2 for entry in slots),
    )


def layout(probes: Sequence[NodeProbe]) -> Layout:
    """`fresh`: no node has met another; `formed`: all know each other; else `mixed`."""
    if all(p.known_nodes == 1 and p.slots_assigned == 0 for p in probes):
        return "fresh"
    if all(p.known_nodes == len(probes) for p in probes):
        return "formed"
    return "mixed"


def health_problem(probes: Sequence[NodeProbe | None], nodes: Sequence[Node]) -> str | None:
    """Why the cluster is not whole yet, or None when it is."""
    for node, p in zip(nodes, probes, strict=True):
        if p is None:
            return f"node {node.port} does not answer"
        if p.cluster_state != "ok":
            return f"node {p.port} reports cluster_state:{p.cluster_state}"
        if p.known_nodes != len(nodes) or p.slots_assigned != CLUSTER_SLOTS:
            return (
                f"node {p.port} knows {p.known_nodes} nodes and {p.slots_assigned} assigned slots"
            )
        if not p.synced:
            return f"replica {p.port} has not finished its sync with its primary"
        if p.nodes_serving_slots != len(nodes):
            return f"node {p.port} lists {p.nodes_serving_slots} nodes in CLUSTER SLOTS"
    primaries = sum(1 for p in probes if p is not None and p.role == "primary")
    if primaries != len(SLOT_RANGES):
        return f"{primaries} primaries instead of {len(SLOT_RANGES)}"
    return None


def wait_healthy(nodes: Sequence[Node], deadline: float) -> list[NodeProbe]:
    """Poll until every node reports cluster_state:ok and every replica is in sync."""
    while True:
        probes = [probe(node) for node in nodes]
        problem = health_problem(probes, nodes)
        if problem is None:
            return [p for p in probes if p is not None]
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Valkey cluster not ready: {problem}")
        time.sleep(_POLL_S)


def form_cluster(primaries: Sequence[Node], replicas: Sequence[Node], deadline: float) -> None:
    """Give each primary a third of the slots, introduce the nodes, pair replica i with
    primary i. Only for fresh nodes."""
    everyone = [*primaries, *replicas]
    # Distinct config epochs up front, as valkey-cli does, so nodes need not resolve
    # epoch collisions before the cluster settles.
    for epoch, node in enumerate(everyone, start=1):
        with node.client() as admin:
            admin.call("CLUSTER SET-CONFIG-EPOCH", epoch)
    for node, (first, last) in zip(primaries, SLOT_RANGES, strict=True):
        with node.client() as admin:
            admin.call("CLUSTER ADDSLOTSRANGE", first, last)
    with everyone[0].client() as admin:
        for other in everyone[1:]:
            admin.call("CLUSTER MEET", other.host, other.port)
    primary_ids = []
    for node in primaries:
        with node.client() as admin:
            primary_ids.append(str(admin.call("CLUSTER MYID")))
    for replica, primary_id in zip(replicas, primary_ids, strict=True):
        _replicate(replica, primary_id, deadline)


def _replicate(replica: Node, primary_id: str, deadline: float) -> None:
    # CLUSTER REPLICATE fails with "Unknown node" until gossip has reached the replica.
    with replica.client() as admin:
        while True:
            try:
                admin.call("CLUSTER REPLICATE", primary_id)
                return
            except ResponseError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"node {replica.port} could not replicate {primary_id}: {exc}"
                    ) from exc
            time.sleep(_POLL_S)
