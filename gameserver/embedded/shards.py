"""Each shard's primary and replicas, as `gameserver cluster status` reports them.

Health, and the command's exit code:
- `healthy` (0): every slot is served by a primary that is up, and every primary has
  at least one replica up and linked to it;
- `degraded` (1): every slot is served, but some primary has no working replica (an
  acknowledged write, which waits for a replica, fails there), or refuses writes: it is
  at its memory limit (`maxmemory`) or cannot write its AOF or RDB (a full disk);
- `down` (2): some slots have no primary that is up (or no node answers at all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from valkey.exceptions import ValkeyError

from gameserver.embedded.cluster import EmbeddedCluster
from gameserver.embedded.formation import CLUSTER_SLOTS
from gameserver.embedded.node import Node

Health = Literal["healthy", "degraded", "down"]
EXIT_CODES: dict[Health, int] = {"healthy": 0, "degraded": 1, "down": 2}


@dataclass
class Member:
    address: str
    role: Literal["primary", "replica"]
    up: bool
    # Replication offset; for a replica, as its primary last heard it.
    offset: int | None = None
    # A replica's distance behind its primary: bytes and seconds since it last replied.
    lag_bytes: int | None = None
    lag_s: int | None = None
    linked: bool = False


@dataclass
class Shard:
    slots: list[tuple[int, int]]
    primary: Member
    replicas: list[Member] = field(default_factory=list)

    @property
    def slot_count(self) -> int:
        return sum(last - first + 1 for first, last in self.slots)


@dataclass
class ShardReport:
    cluster_state: str
    shards: list[Shard]
    # Nodes of the cluster in neither role above (a dead former primary, say).
    others: list[Member]
    health: Health
    reasons: list[str]


def _nodes_view(nodes: list[Node]) -> tuple[str, list[dict[str, Any]]] | None:
    """CLUSTER NODES and cluster_state as seen by the first node that answers."""
    for node in nodes:
        try:
            with node.client(timeout_s=1.0) as admin:
                text = admin.call("CLUSTER NODES")
                info = admin.call("CLUSTER INFO")
        except (ValkeyError, OSError):
            continue
        if isinstance(text, bytes):
            text = text.decode()
        if isinstance(text, dict):
            # Some client versions parse CLUSTER NODES; rebuild what we read from it.
            return str(info.get("cluster_state", "unknown")), _from_parsed(text)
        return str(info.get("cluster_state", "unknown")), _parse(str(text))
    return None


def _parse(text: str) -> list[dict[str, Any]]:
    entries = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        slots = []
        for item in parts[8:]:
            if item.startswith("["):
                continue  # a slot being migrated
            first, _, last = item.partition("-")
            slots.append((int(first), int(last or first)))
        entries.append(
            {
                "id": parts[0],
                "address": parts[1].split("@", 1)[0],
                "flags": set(parts[2].split(",")),
                "primary_id": None if parts[3] == "-" else parts[3],
                "connected": parts[7] == "connected",
                "slots": slots,
            }
        )
    return entries


def _from_parsed(parsed: dict[str, Any]) -> list[dict[str, Any]]:
    entries = []
    for address, data in parsed.items():
        slots = [(int(r[0]), int(r[1] if len(r) > 1 else r[0])) for r in data.get("slots", [])]
        entries.append(
            {
                "id": data["node_id"],
                "address": str(address).split("@", 1)[0],
                "flags": set(str(data["flags"]).split(",")),
                "primary_id": None if data["master_id"] == "-" else data["master_id"],
                "connected": bool(data["connected"]),
                "slots": slots,
            }
        )
    return entries


def _replication(node: Node) -> dict[str, Any] | None:
    try:
        with node.client(timeout_s=1.0) as admin:
            info: dict[str, Any] = admin.call("INFO", "replication")
            return info
    except (ValkeyError, OSError):
        return None


def _refuses_writes(node: Node) -> str | None:
    """Why `node` refuses writes (full memory, a disk it cannot write), or None."""
    try:
        with node.client(timeout_s=1.0) as admin:
            persistence: dict[str, Any] = admin.call("INFO", "persistence")
            memory: dict[str, Any] = admin.call("INFO", "memory")
    except (ValkeyError, OSError):
        return None
    if persistence.get("aof_enabled") in (1, "1") and persistence.get(
        "aof_last_write_status"
    ) not in (None, "ok"):
        return "cannot write its AOF (a full or failing disk): it refuses writes"
    if persistence.get("rdb_last_bgsave_status") not in (None, "ok"):
        return "could not save its RDB (a full or failing disk): it may refuse writes"
    limit, used = _int(memory.get("maxmemory", 0)), _int(memory.get("used_memory", 0))
    if limit and used is not None and used >= limit:
        return "is at its memory limit (maxmemory): it refuses writes"
    return None


def shard_report(cluster: EmbeddedCluster) -> ShardReport:
    nodes_by_address = {f"{n.host}:{n.port}": n for n in cluster.nodes}
    running = {address for address, n in nodes_by_address.items() if n.live_pid() is not None}
    view = _nodes_view([n for a, n in nodes_by_address.items() if a in running])
    if view is None:
        others = [Member(address, "replica", False) for address in nodes_by_address]
        return ShardReport("down", [], others, "down", ["no node of the cluster answers"])
    cluster_state, entries = view

    def is_up(entry: dict[str, Any]) -> bool:
        failed = entry["flags"] & {"fail", "fail?", "noaddr", "handshake"}
        return entry["address"] in running and not failed

    shards: list[Shard] = []
    placed: set[str] = set()
    for entry in entries:
        if "master" not in entry["flags"] or not entry["slots"]:
            continue
        primary = Member(entry["address"], "primary", is_up(entry))
        shard = Shard(sorted(entry["slots"]), primary)
        placed.add(entry["id"])
        node = nodes_by_address.get(entry["address"])
        links: dict[str, dict[str, Any]] = {}
        if primary.up and node is not None:
            replication = _replication(node) or {}
            primary.offset = _int(replication.get("master_repl_offset"))
            for key, value in replication.items():
                if key.startswith("slave") and isinstance(value, dict):
                    links[f"{value.get('ip')}:{value.get('port')}"] = value
        for replica in entries:
            if replica["primary_id"] != entry["id"]:
                continue
            placed.add(replica["id"])
            member = Member(replica["address"], "replica", is_up(replica))
            link = links.get(replica["address"])
            if link is not None:
                member.linked = link.get("state") == "online"
                member.offset = _int(link.get("offset"))
                member.lag_s = _int(link.get("lag"))
                if member.offset is not None and primary.offset is not None:
                    member.lag_bytes = max(0, primary.offset - member.offset)
            shard.replicas.append(member)
        shards.append(shard)
    shards.sort(key=lambda s: s.slots[0])
    others = [
        Member(e["address"], "replica" if "slave" in e["flags"] else "primary", is_up(e))
        for e in entries
        if e["id"] not in placed
    ]
    # Nodes of the data dir the view does not list at all (never joined, or forgotten).
    listed = {e["address"] for e in entries}
    others += [Member(a, "replica", a in running) for a in nodes_by_address if a not in listed]

    reasons: list[str] = []
    served = sum(s.slot_count for s in shards if s.primary.up)
    if served != CLUSTER_SLOTS:
        reasons.append(f"{CLUSTER_SLOTS - served} slots have no primary that is up")
    if cluster_state != "ok":
        reasons.append(f"cluster_state:{cluster_state}")
    for shard in shards:
        if shard.primary.up and not any(r.up and r.linked for r in shard.replicas):
            reasons.append(f"primary {shard.primary.address} has no working replica")
        node = nodes_by_address.get(shard.primary.address)
        refusal = _refuses_writes(node) if shard.primary.up and node is not None else None
        if refusal is not None:
            reasons.append(f"primary {shard.primary.address} {refusal}")
    if served != CLUSTER_SLOTS or cluster_state != "ok":
        health: Health = "down"
    elif reasons:
        health = "degraded"
    else:
        health = "healthy"
    return ShardReport(cluster_state, shards, others, health, reasons)


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def format_report(report: ShardReport) -> list[str]:
    lines = []
    for shard in report.shards:
        ranges = ",".join(f"{a}-{b}" for a, b in shard.slots)
        lines.append(f"shard slots {ranges}")
        lines.append("  " + _member_line(shard.primary))
        lines.extend("  " + _member_line(r) for r in shard.replicas)
    if report.others:
        lines.append("not serving")
        lines.extend("  " + _member_line(m) for m in report.others)
    lines.append(f"health: {report.health}" + "".join(f"; {r}" for r in report.reasons))
    return lines


def _member_line(member: Member) -> str:
    state = "up" if member.up else "down"
    line = f"{member.role:7} {member.address:21} {state:4} "
    if member.offset is not None:
        line += f" offset {member.offset}"
    if member.lag_bytes is not None:
        line += f" lag {member.lag_bytes} B"
    if member.lag_s is not None:
        line += f" {member.lag_s} s since last ack"
    if member.role == "replica" and member.up and not member.linked:
        line += " (not linked to its primary)"
    return line.rstrip()
