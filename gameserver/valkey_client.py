"""Opening the one cluster client a process uses, and asking whether the cluster is whole."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from valkey.asyncio.cluster import ClusterNode, ValkeyCluster
from valkey.asyncio.retry import Retry
from valkey.backoff import EqualJitterBackoff
from valkey.exceptions import ClusterDownError, ValkeyClusterException
from valkey.exceptions import ConnectionError as ValkeyConnectionError
from valkey.exceptions import TimeoutError as ValkeyTimeoutError

from domain.storage.auto_pipeline import close_auto_pipeline
from gameserver.settings import Settings

log = logging.getLogger(__name__)

CLUSTER_SLOTS = 16384
# How long the primaries may take to answer a readiness check.
_READY_CHECK_TIMEOUT_S = 2.0


class GameValkeyCluster(ValkeyCluster):
    """The cluster client, routing FCALL by its declared keys.

    valkey-py asks a node (COMMAND GETKEYS) where every FCALL goes, a round trip per call;
    FCALL names its keys itself, exactly like EVALSHA, which valkey-py already routes
    locally.
    """

    async def _determine_slot(self, command: str, *args: Any) -> int:
        if command.upper() in ("FCALL", "FCALL_RO") and len(args) >= 2:
            keys = args[2 : 2 + int(args[1])]
            slots = {self.keyslot(key) for key in keys}
            if len(slots) == 1:
                return slots.pop()
        return await super()._determine_slot(command, *args)

    async def aclose(self) -> None:
        # The auto-pipeline's own connections close with the client's.
        close_auto_pipeline(self)
        await super().aclose()


def build_cluster_client(settings: Settings) -> ValkeyCluster:
    """A cluster client for `settings.valkey_nodes`; not connected until `initialize()`."""
    if not settings.valkey_nodes:
        raise RuntimeError("no Valkey nodes configured: set VALKEY_NODES or use `gameserver up`")
    # Retries cover a primary failover (docs/baselines.md: ~2.9 s until the replica takes over).
    retry = Retry(EqualJitterBackoff(cap=0.5, base=0.05), retries=12)
    return GameValkeyCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in settings.valkey_nodes],
        username=settings.valkey_username,
        password=settings.valkey_password,
        **tls_options(settings),
        decode_responses=False,
        socket_timeout=settings.valkey_timeout_s,
        socket_connect_timeout=settings.valkey_timeout_s,
        retry=retry,
        cluster_error_retry_attempts=12,
        require_full_coverage=True,
    )


def tls_options(settings: Settings) -> dict[str, Any]:
    """valkey-py's TLS arguments: the nodes' certificates are always verified."""
    files = (settings.valkey_tls_ca, settings.valkey_tls_cert, settings.valkey_tls_key)
    if not settings.valkey_tls:
        if any(path is not None for path in files):
            raise RuntimeError(
                "VALKEY_TLS_CA/CERT/KEY are set but VALKEY_TLS is not: set VALKEY_TLS=1"
            )
        return {"ssl": False}
    if (settings.valkey_tls_cert is None) != (settings.valkey_tls_key is None):
        raise RuntimeError("VALKEY_TLS_CERT and VALKEY_TLS_KEY go together")
    for path in files:
        if path is not None and not path.is_file():
            raise RuntimeError(f"TLS file {path} does not exist")
    return {
        "ssl": True,
        "ssl_cert_reqs": "required",
        "ssl_ca_certs": _optional(settings.valkey_tls_ca),
        "ssl_certfile": _optional(settings.valkey_tls_cert),
        "ssl_keyfile": _optional(settings.valkey_tls_key),
    }


def _optional(path: Path | None) -> str | None:
    return None if path is None else str(path)


async def connect_cluster(settings: Settings, attempts: int = 10) -> ValkeyCluster:
    """Connect, retrying only this first connect a bounded number of times."""
    for attempt in range(1, attempts + 1):
        client = build_cluster_client(settings)
        try:
            await client.initialize()
            return client
        # An unreachable or not yet whole cluster shows as ValkeyClusterException.
        except (
            ValkeyConnectionError,
            ValkeyTimeoutError,
            ValkeyClusterException,
            ClusterDownError,
            OSError,
        ) as exc:
            await client.aclose()
            if attempt == attempts:
                raise
            log.warning("Valkey cluster not reachable (%s); %d tries left", exc, attempts - attempt)
            await asyncio.sleep(min(0.2 * attempt, 2.0))
    raise AssertionError("unreachable")


async def cluster_is_ready(client: ValkeyCluster) -> bool:
    """True when every primary answers and the cluster reports all slots assigned and ok."""
    return await cluster_problem(client) is None


async def cluster_problem(client: ValkeyCluster) -> str | None:
    """None when every primary answers and says all slots are assigned, served and ok;
    else why not (a shard without a primary, slots not covered, a node not answering)."""
    primaries = client.get_primaries()
    if not primaries:
        return "no Valkey primary is known"
    try:
        infos = await asyncio.wait_for(
            asyncio.gather(
                *(client.execute_command("CLUSTER INFO", target_nodes=n) for n in primaries)
            ),
            _READY_CHECK_TIMEOUT_S,
        )
    except Exception as exc:  # any failure to answer means not ready
        return f"a Valkey primary does not answer ({type(exc).__name__})"
    for node, info in zip(primaries, infos, strict=True):
        fields = cluster_info_fields(info)
        state = fields.get("cluster_state")
        if state != "ok":
            return f"Valkey node {node.name} reports cluster_state:{state}"
        slots_ok = int(fields.get("cluster_slots_ok", "0"))
        if slots_ok != CLUSTER_SLOTS:
            return f"Valkey node {node.name} sees {slots_ok} of {CLUSTER_SLOTS} slots served"
    return None


def cluster_info_fields(info: object) -> dict[str, str]:
    """The fields of a CLUSTER INFO reply: valkey-py parses it into a dict of str; raw
    text is read too."""
    if isinstance(info, dict):
        return {str(k): str(v) for k, v in info.items()}
    text = info.decode() if isinstance(info, bytes) else str(info)
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
