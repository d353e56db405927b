"""A local Valkey cluster of 3 primaries and 3 replicas, for `gameserver up` and tests."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

from valkey.exceptions import ValkeyError

from gameserver.embedded.acl import (
    gameserver_rules,
    granting_rules,
    grants_beyond_release,
    rules_of_user,
)
from gameserver.embedded.credentials import (
    ClusterCredentials,
    load_credentials,
    load_or_create_credentials,
)
from gameserver.embedded.formation import form_cluster, layout, probe, wait_healthy
from gameserver.embedded.lock import DataDirLock
from gameserver.embedded.node import Node, pid_alive, wait_exited
from gameserver.embedded.ports import BUS_PORT_OFFSET, node_ports, ports_in_use
from gameserver.embedded.private_dir import make_private
from gameserver.supervisor.parent_death import parent_death_preexec

log = logging.getLogger(__name__)

DEFAULT_BASE_PORT = 7000
# How long nodes found running from an earlier owner get to prove the cluster healthy.
_ADOPT_WAIT_S = 5.0
_KILL_WAIT_S = 5.0


@dataclass(frozen=True)
class NodeStatus:
    port: int
    pid: int | None
    alive: bool
    # "primary" or "replica"; "unknown" when the node does not answer.
    role: str
    # The node's own view of the cluster; "unknown" when it does not answer.
    cluster_state: str


@dataclass(frozen=True)
class ClusterStatus:
    data_dir: Path
    nodes: tuple[NodeStatus, ...]
    # "ok" when every running node says ok, "down" when no node runs, else "fail".
    cluster_state: str

    @property
    def running(self) -> bool:
        return any(node.alive for node in self.nodes)


class EmbeddedCluster:
    """Six detached valkey-server processes whose data lives under `data_dir/valkey/<port>/`.

    Nodes outlive this object (and its process) until `stop()`; a later `start()` on the
    same folder adopts them or brings the same cluster back from nodes.conf and the AOF.

    The nodes run with ACLs whose passwords `start()` generates once and keeps in
    `data_dir/credentials.json`. A data dir from before ACLs (no credentials file) gets
    them on its next `start()`: its nodes are stopped and started again with ACLs, their
    data kept.
    """

    def __init__(
        self,
        data_dir: Path,
        base_port: int = DEFAULT_BASE_PORT,
        node_timeout_ms: int = 2000,
        host: str = "127.0.0.1",
        supervised: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        # Supervised (`gameserver up`): nodes run as children of this process with a
        # parent-death signal, not as daemons; `processes` holds those started here.
        self.supervised = supervised
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.base_port = base_port
        self.host = host
        self.valkey_dir = self.data_dir / "valkey"
        self._credentials = load_credentials(self.data_dir)
        self.nodes = [
            Node(host, port, self.valkey_dir / str(port), node_timeout_ms, self._credentials)
            for port in node_ports(base_port)
        ]
        self._lock = DataDirLock(self.valkey_dir / "cluster.lock")
        # What the nodes running when `start()` began granted the services' user beyond
        # this release's rules: kept when `start()` has to start them all again.
        self._carried_grants: tuple[str, ...] = ()

    @property
    def seeds(self) -> list[tuple[str, int]]:
        return [(node.host, node.port) for node in self.nodes]

    @property
    def credentials(self) -> ClusterCredentials:
        """The users of the cluster's ACL (`admin`, `gameserver`); known once started."""
        if self._credentials is None:
            raise RuntimeError(f"{self.data_dir} has no credentials yet: start the cluster first")
        return self._credentials

    def start(self, timeout_s: float = 30.0) -> list[tuple[str, int]]:
        """Bring the cluster up (forming it only the first time); returns the seeds."""
        deadline = time.monotonic() + timeout_s
        self._check_layout_file()
        make_private(self.data_dir)
        self._lock.acquire()
        try:
            self._ensure_credentials()
            self._carried_grants = self._grants_of_running_nodes()
            if self._adopt(deadline):
                self._grant_release_rules()
                return self.seeds
            self._stop_nodes()
            self._check_ports_free()
            self._write_layout_file()
            for node in self.nodes:
                self.launch_node(node)
            for node in self.nodes:
                node.wait_ready(max(deadline - time.monotonic(), 1.0))
            probes = [probe(node) for node in self.nodes]
            if any(p is None for p in probes):
                raise RuntimeError("a node stopped answering during start-up")
            state = layout([p for p in probes if p is not None])
            if state == "mixed":
                raise RuntimeError(
                    f"{self.valkey_dir} holds a partly formed cluster; remove it to start afresh"
                )
            if state == "fresh":
                form_cluster(self.nodes[:3], self.nodes[3:], deadline)
            wait_healthy(self.nodes, deadline)
        except BaseException:
            self._stop_nodes()
            self._reap()
            self._lock.release()
            raise
        return self.seeds

    def stop(self, timeout_s: float = 10.0) -> None:
        """Shut every node down cleanly; kill -9 whatever is still running after `timeout_s`."""
        self._lock.acquire()
        try:
            self._stop_nodes(timeout_s)
        finally:
            self._reap()
            self._lock.release()

    def release(self) -> None:
        """Give up ownership and leave the nodes running (`gameserver cluster up`)."""
        self._lock.release()

    def status(self) -> ClusterStatus:
        nodes = []
        for node in self.nodes:
            pid = node.live_pid()
            view = probe(node) if pid is not None else None
            nodes.append(
                NodeStatus(
                    port=node.port,
                    pid=pid,
                    alive=pid is not None,
                    role=view.role if view else "unknown",
                    cluster_state=view.cluster_state if view else "unknown",
                )
            )
        running = [n for n in nodes if n.alive]
        if not running:
            state = "down"
        elif all(n.cluster_state == "ok" for n in running):
            state = "ok"
        else:
            state = "fail"
        return ClusterStatus(self.data_dir, tuple(nodes), state)

    def wait_healthy(self, timeout_s: float = 30.0) -> None:
        """Wait until every node says cluster_state:ok and every replica is in sync."""
        wait_healthy(self.nodes, time.monotonic() + timeout_s)

    def kill_node(self, port: int) -> None:
        """kill -9 one node, as a crash would (failover tests)."""
        node = self._node(port)
        pid = node.live_pid()
        if pid is None:
            raise RuntimeError(f"node {port} is not running")
        node.send_signal(pid, signal.SIGKILL)
        if wait_exited([pid], _KILL_WAIT_S):
            raise RuntimeError(f"node {port} (pid {pid}) survived SIGKILL")
        node.pid_path.unlink(missing_ok=True)

    def restart_node(self, port: int, timeout_s: float = 30.0) -> None:
        """Start one node again (stopping it first if it runs) and wait for a whole cluster."""
        deadline = time.monotonic() + timeout_s
        node = self._node(port)
        self._stop_one(node, timeout_s)
        self.launch_node(node)
        node.wait_ready(max(deadline - time.monotonic(), 1.0))
        wait_healthy(self.nodes, deadline)

    def _reap(self) -> None:
        # Children that exited stay zombies until waited for.
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    process.wait(_KILL_WAIT_S)
                except subprocess.TimeoutExpired:
                    log.warning("valkey-server pid %d still runs after stop", process.pid)
        self.processes.clear()

    def launch_node(self, node: Node) -> None:
        """Start one node: a daemon, or under supervision a child that dies with us.

        Its ACL is this release's plus whatever the cluster's running nodes grant the
        services' user beyond it: a node started again during a rolling upgrade (by
        either release) refuses none of the commands its peers allow, so the processes
        of both releases keep working on every shard. Grants only an earlier release
        needed go once every node has been stopped (`up` stopped, `cluster down`)."""
        extra = self._merge(self._carried_grants, self._grants_of_running_nodes(node))
        if not self.supervised:
            node.write_config(extra_grants=extra)
            node.launch()
            return
        node.write_config(daemonize=False, extra_grants=extra)
        self.processes[node.port] = node.spawn(parent_death_preexec(signal.SIGTERM))

    def __enter__(self) -> EmbeddedCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _grants_of_running_nodes(self, besides: Node | None = None) -> tuple[str, ...]:
        """What the running nodes (but `besides`) grant the `gameserver` user beyond this
        release's rules, in the order they grant it."""
        if self._credentials is None:
            return ()
        username = self._credentials.gameserver.username
        found: tuple[str, ...] = ()
        for peer in self.nodes:
            if (besides is not None and peer.port == besides.port) or peer.live_pid() is None:
                continue
            try:
                with peer.client(timeout_s=1.0) as admin:
                    rules = rules_of_user(admin.call("ACL", "LIST"), username)
            except (ValkeyError, OSError):
                continue  # starting, stopping or not ours: the others tell
            if rules is not None:
                found = self._merge(found, grants_beyond_release(rules))
        return found

    def _grant_release_rules(self) -> None:
        """Add this release's grants to nodes adopted from an earlier owner (perhaps of
        an earlier release), taking none of theirs away."""
        if self._credentials is None:
            return
        username = self._credentials.gameserver.username
        for node in self.nodes:
            try:
                with node.client() as admin:
                    admin.call("ACL", "SETUSER", username, *granting_rules(gameserver_rules()))
            except (ValkeyError, OSError) as exc:
                log.warning("node %d kept its ACL: %s", node.port, exc)

    @staticmethod
    def _merge(first: tuple[str, ...], more: list[str] | tuple[str, ...]) -> tuple[str, ...]:
        merged = list(first)
        for rule in more:
            if rule not in merged:
                merged.append(rule)
        return tuple(merged)

    def _ensure_credentials(self) -> None:
        if self._credentials is not None:
            return
        self._credentials = load_or_create_credentials(self.data_dir)
        # Nodes still running from before have no such users: `_adopt` fails to log in
        # and they are restarted (SIGTERM, a clean shutdown) with the new config.
        self.nodes = [replace(node, credentials=self._credentials) for node in self.nodes]
        log.info("generated Valkey credentials in %s", self.data_dir)

    def _node(self, port: int) -> Node:
        for node in self.nodes:
            if node.port == port:
                return node
        raise ValueError(f"port {port} is not a node of this cluster ({self.seeds})")

    def _adopt(self, deadline: float) -> bool:
        pids = [node.live_pid() for node in self.nodes]
        if not all(pids):
            if any(pids):
                log.warning("stopping a partial set of nodes left running in %s", self.valkey_dir)
            return False
        if any(node.refuses_login() for node in self.nodes):
            log.warning(
                "nodes left running in %s predate its credentials; restarting", self.data_dir
            )
            return False
        try:
            wait_healthy(self.nodes, min(deadline, time.monotonic() + _ADOPT_WAIT_S))
        except RuntimeError as exc:
            log.warning(
                "nodes left running in %s are unhealthy (%s); restarting", self.data_dir, exc
            )
            return False
        log.info("adopted the Valkey nodes already running in %s", self.valkey_dir)
        return True

    def _stop_nodes(self, timeout_s: float = 10.0) -> None:
        running = {node: pid for node in self.nodes if (pid := node.live_pid()) is not None}
        # Replicas first, so that no primary waits on shutdown for a replica to catch up
        # and no replica sees its primary vanish and starts a failover.
        views = {node: probe(node) for node in running}
        order = sorted(running, key=lambda n: 0 if (v := views[n]) and v.role == "replica" else 1)
        for node in order:
            if not node.shutdown():
                node.send_signal(running[node], signal.SIGTERM)
        stragglers = set(wait_exited(list(running.values()), timeout_s))
        for node, pid in running.items():
            if pid in stragglers:
                log.warning("node %d (pid %d) ignored shutdown; killing it", node.port, pid)
                node.send_signal(pid, signal.SIGKILL)
        if wait_exited(list(stragglers), _KILL_WAIT_S):
            raise RuntimeError(f"valkey-server processes {sorted(stragglers)} would not exit")
        for node, pid in running.items():
            if not pid_alive(pid):
                node.pid_path.unlink(missing_ok=True)

    def _stop_one(self, node: Node, timeout_s: float) -> None:
        pid = node.live_pid()
        if pid is None:
            return
        if not node.shutdown():
            node.send_signal(pid, signal.SIGTERM)
        if wait_exited([pid], timeout_s):
            node.send_signal(pid, signal.SIGKILL)
            wait_exited([pid], _KILL_WAIT_S)

    def _check_ports_free(self) -> None:
        for node in self.nodes:
            taken = ports_in_use(self.host, [node.port, node.port + BUS_PORT_OFFSET])
            if taken:
                raise RuntimeError(
                    f"port {taken[0]} on {self.host} is in use by a process that is not a node "
                    f"of {self.data_dir}; stop it or choose another Valkey port"
                )

    @property
    def _layout_path(self) -> Path:
        return self.valkey_dir / "cluster.json"

    def _check_layout_file(self) -> None:
        recorded = recorded_base_port(self.data_dir)
        if recorded is not None and recorded != self.base_port:
            raise RuntimeError(
                f"{self.data_dir} holds a cluster on ports {recorded}-{recorded + 5}, "
                f"not {self.base_port}-{self.base_port + 5}; use that port or another data dir"
            )

    def _write_layout_file(self) -> None:
        self.valkey_dir.mkdir(parents=True, exist_ok=True)
        self._layout_path.write_text(json.dumps({"base_port": self.base_port}) + "\n")
        self._layout_path.chmod(0o600)


def recorded_base_port(data_dir: Path) -> int | None:
    """The base port of the cluster last started in `data_dir`, if any."""
    try:
        raw = json.loads((Path(data_dir) / "valkey" / "cluster.json").read_text())
        return int(raw["base_port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cluster_up(
    data_dir: Path, base_port: int = DEFAULT_BASE_PORT, node_timeout_ms: int = 2000
) -> list[tuple[str, int]]:
    """Start (or adopt) the cluster and leave it running after this process exits."""
    cluster = EmbeddedCluster(data_dir, base_port, node_timeout_ms)
    seeds = cluster.start()
    cluster.release()
    return seeds


def cluster_down(data_dir: Path, base_port: int | None = None) -> None:
    """Stop the cluster of `data_dir`; the ports default to those it was started on."""
    EmbeddedCluster(data_dir, _base_port(data_dir, base_port)).stop()


def cluster_status(data_dir: Path, base_port: int | None = None) -> ClusterStatus:
    return EmbeddedCluster(data_dir, _base_port(data_dir, base_port)).status()


def _base_port(data_dir: Path, base_port: int | None) -> int:
    if base_port is not None:
        return base_port
    return recorded_base_port(data_dir) or DEFAULT_BASE_PORT
