"""docs/accounts.md's development identity provider, run as a newcomer follows it: its
script makes a key and mints tokens, and the provider it configures logs players in."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gameserver_client import GameClient

from tests.gateway_harness import gateway_settings, running_gateway

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = (ROOT / "docs" / "accounts.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.usefixtures("clean_valkey")


def _section() -> str:
    start = ACCOUNTS.index("### Trying a provider on your machine")
    end = ACCOUNTS.index("\n## ", start)
    return ACCOUNTS[start:end]


async def _devidp(folder: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "devidp.py", *args, cwd=folder, stdout=subprocess.PIPE
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    return output.decode().strip()


async def test_the_docs_dev_provider_logs_a_subject_into_one_account(
    cluster_seeds: tuple[tuple[str, int], ...], tmp_path: Path
) -> None:
    section = _section()
    script = re.search(r"```python\n(.*?)```", section, re.S)
    assert script is not None
    (tmp_path / "devidp.py").write_text(script.group(1), encoding="utf-8")
    await _devidp(tmp_path, "init")
    # The providers the docs' shell line sets, with `$PWD` where the key was made.
    setting = re.search(r"GAMESERVER_AUTH_PROVIDERS='(.*?)' gameserver up", section)
    assert setting is not None
    providers = setting.group(1).replace("'$PWD'", str(tmp_path))
    assert set(json.loads(providers)) == {"dev"}
    settings = gateway_settings(cluster_seeds, "gw-devidp", auth_providers=providers)
    async with running_gateway(settings) as gateway:
        async with GameClient(gateway.base_url) as first:
            session = await first.login_provider("dev", await _devidp(tmp_path, "token", "alice"))
            assert session.created
        async with GameClient(gateway.base_url) as again:
            token = await _devidp(tmp_path, "token", "alice")
            assert (await again.login_provider("dev", token)).player_id == session.player_id
