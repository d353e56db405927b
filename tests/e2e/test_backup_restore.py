"""`gameserver backup` and `gameserver restore`: boards, accounts, sessions and tickets
written through a gateway come back in a new cluster started from the archive."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from gameserver.embedded import EmbeddedCluster
from gameserver.embedded.ports import find_free_base_port
from tests.cluster_helpers import ClusterLogins, register_logins
from tests.game_client import device_id_for, device_login, game_client
from tests.gateway_harness import Gateway, gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


async def gameserver(*args: str) -> subprocess.CompletedProcess[str]:
    """The `gameserver` command in a process of its own (off this test's event loop)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gameserver", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ),
        check=False,
    )


async def keys_with_ttl(admin: ValkeyCluster) -> dict[bytes, bool]:
    """Every key of the cluster, and whether it expires."""
    found: dict[bytes, bool] = {}
    async for key in admin.scan_iter(count=500):
        found[key] = await admin.pttl(key) > 0
    return found


async def test_a_backup_restored_into_a_fresh_data_dir_holds_everything(
    gateway: Gateway,
    admin_valkey: ValkeyCluster,
    embedded_cluster: EmbeddedCluster,
    tmp_path: Path,
) -> None:
    # Boards, an account by device, a session, a searching ticket.
    login = await device_login(gateway.base_url, device_id_for("backup"))
    assert login.status_code == 201, login.text
    player = login.json()["player_id"]
    async with game_client(gateway.base_url, "p1") as p1:
        await p1.ok("score.submit", board="global", score=42)
        ticket = (await p1.ok("match.join", queue="duel"))["ticket"]
    async with gateway.admin() as admin:
        for name, score in (("p2", 7), ("p3", 99)):
            response = await admin.post(
                "/admin/v1/boards/global/scores", json={"player_id": name, "score": score}
            )
            assert response.status_code == 200, response.text
        top_before = (await admin.get("/admin/v1/boards/global")).json()
    before = await keys_with_ttl(admin_valkey)
    assert any(key.startswith(b"acct:") for key in before)

    archive = tmp_path / "backup.tar.gz"
    source = ["--data-dir", str(embedded_cluster.data_dir)]
    source += ["--valkey-port", str(embedded_cluster.base_port)]
    # The signing secret `up` keeps in its data dir: credentials are hashed under it.
    secret = embedded_cluster.data_dir / "secret"
    secret.write_text("the-data-dirs-signing-secret\n")
    try:
        made = await gameserver("backup", str(archive), *source)
    finally:
        secret.unlink()
    assert made.returncode == 0, made.stderr
    assert archive.stat().st_mode & 0o077 == 0  # player data: the owner's alone
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        manifest: dict[str, Any] = json.load(member)
    assert len(manifest["primaries"]) == 3
    assert sum(p["keys"] for p in manifest["primaries"]) == len(before)
    assert sorted(r for p in manifest["primaries"] for r in p["slots"])[0][0] == 0

    restored_dir = tmp_path / "restored"
    port = find_free_base_port()
    # A restore that fails (its port is taken) leaves nothing behind: run again, it works.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        refused = await gameserver("restore", str(archive), "--data-dir", str(restored_dir),
                                   "--valkey-port", str(port))  # fmt: skip
    assert refused.returncode == 1 and "in use" in refused.stderr, refused.stderr
    loaded = await gameserver("restore", str(archive), "--data-dir", str(restored_dir),
                        "--valkey-port", str(port))  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    # The command it prints starts the restored cluster (on its ports, not the default).
    assert f"gameserver up --data-dir {restored_dir.resolve()}" in loaded.stdout
    if port != 7000:
        assert f"--valkey-port {port}`" in loaded.stdout
    # `up --data-dir` there signs and hashes with the same secret: devices find their accounts.
    restored_secret = restored_dir / "secret"
    assert restored_secret.read_text() == "the-data-dirs-signing-secret\n"
    assert restored_secret.stat().st_mode & 0o077 == 0
    again = await gameserver("restore", str(archive), "--data-dir", str(restored_dir),
                       "--valkey-port", str(port))  # fmt: skip
    assert again.returncode == 1 and "fresh data dir" in again.stderr

    cluster = EmbeddedCluster(restored_dir, port)
    cluster.start()
    try:
        seeds = tuple(cluster.seeds)
        logins = ClusterLogins(cluster.credentials.gameserver, cluster.credentials.admin)
        register_logins(seeds, logins)
        async with running_gateway(gateway_settings(seeds, "gw-restored")) as restored:
            admin_client = ValkeyCluster(
                startup_nodes=None,
                host=seeds[0][0],
                port=seeds[0][1],
                username=logins.admin.username if logins.admin else None,
                password=logins.admin.password if logins.admin else None,
            )
            try:
                after = await keys_with_ttl(admin_client)
            finally:
                await admin_client.aclose()
            # Gateway start-up may add its own defaults; everything backed up is back,
            # expiring keys still expiring.
            assert {k: v for k, v in after.items() if k in before} == before
            async with restored.admin() as admin:
                top_after = (await admin.get("/admin/v1/boards/global")).json()
                assert top_after == top_before
                assert [e["player_id"] for e in top_after["entries"]] == ["p3", "p1", "p2"]
            relogin = await device_login(restored.base_url, device_id_for("backup"))
            assert relogin.status_code == 201, relogin.text
            assert relogin.json()["player_id"] == player
            assert relogin.json()["created"] is False
            async with game_client(restored.base_url, "p1") as p1:
                status = await p1.ok("match.status", ticket=ticket)
                assert status["state"] == "searching"
                rank = await p1.ok("board.rank", board="global")
                assert rank["score"] == 42
    finally:
        cluster.stop()

    # A backup of a cluster that is not running says so in one line and writes nothing.
    stopped = await gameserver("backup", str(tmp_path / "none.tar.gz"), "--data-dir",
                               str(restored_dir))  # fmt: skip
    assert stopped.returncode == 1
    assert stopped.stderr.strip().splitlines() == [stopped.stderr.strip()]
    assert "no node of the cluster" in stopped.stderr and "Traceback" not in stopped.stderr
    assert not (tmp_path / "none.tar.gz").exists()


async def test_a_damaged_archive_is_refused_in_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    archive = tmp_path / "damaged.tar.gz"
    archive.write_bytes(b"\x1f\x8b" + b"not the rest of a gzip stream" * 10)
    target = tmp_path / "restored"
    refused = await gameserver("restore", str(archive), "--data-dir", str(target),
                               "--valkey-port", str(find_free_base_port()))  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [refused.stderr.strip()]
    assert "not a whole backup archive" in refused.stderr
    assert not (target / "credentials.json").exists()
