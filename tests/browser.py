"""Headless Chromium for page tests: Debian's `chromium`, driven by Playwright (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialing hosts this machine
# cannot reach; as root it needs --no-sandbox.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PAGE_TIMEOUT_MS = 20_000

# Marks of a page test module: skipped where the browser is missing (`.ci/run` installs it).
PAGE_TEST_MARKS = [
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install -y chromium)"
    ),
    pytest.mark.timeout(300),
]
