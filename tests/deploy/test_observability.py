"""The alert rules and the Grafana dashboard read only metrics the product exports.

The exported names come from the real `Metrics` object, rendered after each of its
counters has counted once; nothing here lists them by hand.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from domain.storage.auto_pipeline import NodeCounts
from gameserver.metrics import Metrics
from gameserver.supervisor.restarts import STATE_ENV, render_restarts, write_restarts
from tests.deploy.paths import DEPLOY, KUBERNETES, OBSERVABILITY
from tests.deploy.promql import names

# Series Prometheus makes itself, and the labels its scrape adds to every series.
PROMETHEUS_SERIES = {"up"}
TARGET_LABELS = {"job", "instance", "namespace", "pod"}
JOBS = {"gameserver-gateway", "gameserver-worker"}


def exported() -> dict[str, set[str]]:
    """Each series name the gateway exports, with its label names."""
    metrics = Metrics()
    metrics.count_request("ping", 0.001)
    metrics.count_error("ping", "internal")
    metrics.count_push("rank.changed")
    metrics.slow_consumers.inc()
    metrics.sockets_open.set(1)
    metrics.count_board_write("global")
    metrics.count_login("device")
    metrics.sessions_online.set(1)
    metrics.matches_made("duel", 1, [0.5])
    metrics.tickets_waiting.labels("duel").set(1)
    metrics.oldest_wait.labels("duel").set(1.0)
    metrics.watch_valkey_nodes({"127.0.0.1:7000": NodeCounts(round_trips=1, errors=1)})
    text = metrics.render().decode()
    # What `gameserver up`'s children add: the supervisor's restart counts.
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "supervisor.json"
        write_restarts(state, {"worker": 1})
        text += render_restarts({STATE_ENV: str(state)}).decode()
    series: dict[str, set[str]] = {name: set() for name in PROMETHEUS_SERIES}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    return loaded


def dashboard_queries() -> list[str]:
    queries = [
        target["expr"] for panel in dashboard()["panels"] for target in panel.get("targets", [])
    ]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["definition"].removeprefix("label_values(").rsplit(",", 1)[0])
    return queries


def unknown_names(expression: str) -> list[str]:
    series = exported()
    found = names(expression)
    assert found.metrics, f"{expression!r} reads no metric"
    problems = [f"metric {m}" for m in sorted(found.metrics - set(series))]
    labels = set().union(*(series.get(m, set()) for m in found.metrics)) | TARGET_LABELS | {"le"}
    problems += [f"label {label}" for label in sorted(found.labels - labels)]
    return problems


def test_the_exported_names_are_read_from_the_real_metrics() -> None:
    series = exported()
    assert "gameserver_requests_total" in series
    assert {"op", "code"} <= series["gameserver_errors_total"]
    assert "le" in series["gameserver_request_seconds_bucket"]
    assert "process_resident_memory_bytes" in series


def test_the_query_parser_finds_metrics_and_labels() -> None:
    found = names(
        'histogram_quantile(0.99, sum by (le, op) (rate(a_b{job="x", c=~"y"}[5m]))) > 0.2'
        " and on(instance) up offset 10m"
    )
    assert found.metrics == {"a_b", "up"}
    assert found.labels == {"le", "op", "job", "c", "instance"}


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_reads_only_exported_metrics(rule: dict[str, Any]) -> None:
    assert unknown_names(rule["expr"]) == []


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_a_severity_a_summary_and_a_known_job(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in ("warning", "critical")
    assert rule["annotations"]["summary"]
    for job in re.findall(r'job=~?"([^"]+)"', rule["expr"]):
        assert any(re.fullmatch(job, known) for known in JOBS), job


def test_the_alerts_cover_the_failures_an_operator_must_hear_of() -> None:
    read = [names(rule["expr"]).metrics for rule in alert_rules()]
    for metric in (
        "up",
        "gameserver_errors_total",
        "gameserver_request_seconds_bucket",
        "gameserver_slow_consumers_closed_total",
        "process_resident_memory_bytes",
    ):
        assert any(metric in used for used in read), metric


@pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="needs promtool (apt-get install prometheus); the metric checks above still run",
)
def test_promtool_accepts_the_alert_rules() -> None:
    result = subprocess.run(
        ["promtool", "check", "rules", str(OBSERVABILITY / "alerts.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_query_reads_only_exported_metrics() -> None:
    problems = {query: unknown_names(query) for query in dashboard_queries()}
    assert {query: p for query, p in problems.items() if p} == {}


def test_the_dashboard_shows_what_runs_a_game() -> None:
    read = set().union(*(names(query).metrics for query in dashboard_queries()))
    assert {
        "gameserver_requests_total",
        "gameserver_request_seconds_bucket",
        "gameserver_errors_total",
        "gameserver_sockets_open",
        "gameserver_pushes_total",
        "gameserver_slow_consumers_closed_total",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "python_gc_collections_total",
    } <= read


def test_dashboard_panels_have_unique_ids_and_use_the_datasource_variable() -> None:
    panels = dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def scrape_jobs() -> dict[str, set[str]]:
    compose = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    configmap = yaml.safe_load((KUBERNETES / "base" / "prometheus-scrape.yaml").read_text())
    in_cluster = yaml.safe_load(configmap["data"]["scrape-configs.yaml"])
    service_jobs: set[str] = set()
    for file in ("gateway.yaml", "worker.yaml"):
        for document in yaml.safe_load_all((KUBERNETES / "base" / file).read_text()):
            if document["kind"] == "Service":
                service_jobs.add(document["metadata"]["labels"]["gameserver.io/job"])
    return {
        "compose": {job["job_name"] for job in compose["scrape_configs"]},
        "kubernetes scrape config": {job["job_name"] for job in in_cluster},
        "ServiceMonitor jobLabel": service_jobs,
    }


def test_every_scrape_config_names_the_jobs_the_alerts_use() -> None:
    assert scrape_jobs() == {where: JOBS for where in scrape_jobs()}


def test_compose_prometheus_loads_the_alert_rules() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    assert compose["rule_files"] == ["/etc/prometheus/alerts.yaml"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="needs promtool (Debian prometheus)")
def test_each_alert_fires_on_its_failure_and_not_before_its_wait() -> None:
    result = subprocess.run(
        ["promtool", "test", "rules", str(Path(__file__).parent / "alerts_test.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
