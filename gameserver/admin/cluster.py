"""`GET /admin/v1/cluster`: each Valkey node's role, slots, memory, load and replication.

Read with the gateway's own `gameserver` login, which may run exactly two read-only
introspection commands for this (gameserver/embedded/acl.py): `CLUSTER NODES` (the node
list, roles, slots and link states, as seen by one node) and `INFO` (memory, ops/s and
replication offsets of each node).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from valkey.asyncio.cluster import ClusterNode, ValkeyCluster

from domain.errors import Unavailable
from gameserver.admin.auth import admin_services
from gameserver.http.json import handles_errors, json_response

# How long one node may take to answer before it is shown as not answering.
_NODE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class NodeLink:
    """One node as `CLUSTER NODES` lists it."""

    address: str
    node_id: str
    role: str  # primary | replica
    primary_id: str | None
    slots: list[list[int]]
    # The listing node's view: its link is up and the node is not flagged failing.
    up: bool


async def cluster_view(cluster: ValkeyCluster) -> dict[str, Any]:
    links = await _node_links(cluster)
    infos = await asyncio.gather(*(_info(cluster, link.address) for link in links))
    info_of = {link.address: info for link, info in zip(links, infos, strict=True)}
    by_id = {link.node_id: link for link in links}
    nodes = []
    for link in links:
        info = info_of[link.address]
        primary = by_id.get(link.primary_id or "")
        nodes.append(_node_view(link, info, info_of.get(primary.address) if primary else None))
    nodes.sort(key=lambda node: (node["role"] != "primary", node["address"]))
    return {"nodes": nodes}


def _node_view(
    link: NodeLink, info: dict[str, Any] | None, primary_info: dict[str, Any] | None
) -> dict[str, Any]:
    offset = _int(info, "master_repl_offset")
    if link.role == "replica":
        offset = _int(info, "slave_repl_offset", offset)
    primary_offset = _int(primary_info, "master_repl_offset")
    lag_bytes = None
    if link.role == "replica" and offset is not None and primary_offset is not None:
        lag_bytes = max(0, primary_offset - offset)
    return {
        "address": link.address,
        "id": link.node_id,
        "role": link.role,
        "primary_id": link.primary_id,
        "slots": link.slots,
        # Up: it answered INFO now and the cluster does not flag it failing.
        "up": link.up and info is not None,
        "used_memory": _int(info, "used_memory"),
        "ops_per_s": _int(info, "instantaneous_ops_per_sec"),
        "repl_offset": offset,
        "repl_lag_bytes": lag_bytes,
        "repl_lag_s": _replica_lag_s(link.address, primary_info),
        "link": None if info is None else info.get("master_link_status"),
    }


def _replica_lag_s(address: str, primary_info: dict[str, Any] | None) -> int | None:
    """Seconds since the primary last heard from this replica (its `slaveN` line)."""
    if primary_info is None:
        return None
    host, _, port = address.rpartition(":")
    for key, value in primary_info.items():
        if str(key).startswith("slave") and isinstance(value, dict):
            if str(value.get("ip")) == host and str(value.get("port")) == port:
                lag = value.get("lag")
                return int(lag) if lag is not None else None
    return None


def _int(info: dict[str, Any] | None, key: str, default: int | None = None) -> int | None:
    if info is None or key not in info:
        return default
    try:
        return int(info[key])
    except (TypeError, ValueError):
        return default


async def _node_links(cluster: ValkeyCluster) -> list[NodeLink]:
    """The node list from the first primary that answers."""
    for node in cluster.get_primaries():
        with contextlib.suppress(Exception):
            raw = await asyncio.wait_for(
                cluster.execute_command("CLUSTER NODES", target_nodes=node), _NODE_TIMEOUT_S
            )
            return _parse_links(raw)
    raise Unavailable("no Valkey primary answered CLUSTER NODES")


def _parse_links(raw: object) -> list[NodeLink]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    if isinstance(text, str):
        return [_parse_line(line) for line in text.splitlines() if line.strip()]
    if isinstance(text, dict):  # valkey-py's parsed form: address -> fields
        return [_parsed_link(str(address), fields) for address, fields in text.items()]
    raise Unavailable("CLUSTER NODES gave an unexpected reply")


def _parsed_link(address: str, fields: dict[str, Any]) -> NodeLink:
    return _link(
        str(fields["node_id"]),
        address,
        str(fields["flags"]),
        str(fields["master_id"]),
        bool(fields.get("connected")),
        ["-".join(str(s) for s in pair) for pair in fields.get("slots", [])],
    )


def _parse_line(line: str) -> NodeLink:
    # <id> <ip:port@cport[,hostname]> <flags> <primary> <ping> <pong> <epoch> <link> <slot>...
    parts = line.split()
    return _link(parts[0], parts[1], parts[2], parts[3], parts[7] == "connected", parts[8:])


def _link(
    node_id: str, address: str, flags_field: str, primary: str, connected: bool, ranges: list[str]
) -> NodeLink:
    flags = set(flags_field.split(","))
    slots: list[list[int]] = []
    for part in ranges:
        if part.startswith("["):  # a slot being migrated
            continue
        start, _, end = part.partition("-")
        slots.append([int(start), int(end or start)])
    return NodeLink(
        address=address.split("@", 1)[0].split(",", 1)[0],
        node_id=node_id,
        role="primary" if "master" in flags else "replica",
        primary_id=None if primary == "-" else primary,
        slots=slots,
        up=connected and not flags & {"fail", "fail?", "noaddr"},
    )


async def _info(cluster: ValkeyCluster, address: str) -> dict[str, Any] | None:
    """The node's INFO, or None if the client does not know it or it does not answer."""
    host, _, port = address.rpartition(":")
    node: ClusterNode | None = cluster.get_node(host=host, port=int(port))
    if node is None:
        return None
    try:
        info = await asyncio.wait_for(
            cluster.execute_command("INFO", target_nodes=node), _NODE_TIMEOUT_S
        )
    except Exception:
        return None
    return info if isinstance(info, dict) else None


@handles_errors
async def get_cluster(request: Request) -> Response:
    services = admin_services(request)
    return json_response(await cluster_view(services.cluster))
