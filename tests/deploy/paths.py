"""Where the deployment files lie, for the tests that check them."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
VALKEY_FILES = KUBERNETES / "base" / "valkey"
OBSERVABILITY = DEPLOY / "observability"
OVERLAYS = ("dev", "production")
# Every kustomization a user applies: the two overlays and the load test.
KUSTOMIZATIONS = (
    KUBERNETES / "overlays" / "dev",
    KUBERNETES / "overlays" / "production",
    KUBERNETES / "locust",
)
