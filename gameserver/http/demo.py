"""The demo page (`gameserver up --demo`): examples/web at /demo, the built SDK at /demo/sdk."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

log = logging.getLogger(__name__)

# Both folders live in the source checkout, beside the `gameserver` package.
_CHECKOUT = Path(__file__).resolve().parents[2]
DEMO_DIR = _CHECKOUT / "examples" / "web"
SDK_DIST_DIR = _CHECKOUT / "clients" / "typescript" / "dist"


async def _to_demo_folder(request: Request) -> Response:
    return RedirectResponse("/demo/", status_code=307)


def demo_routes(demo_dir: Path = DEMO_DIR, sdk_dir: Path = SDK_DIST_DIR) -> list[BaseRoute]:
    """Static routes of the demo; the SDK must be built (`npm run build`) to be served."""
    if not demo_dir.is_dir():
        raise RuntimeError(f"--demo needs the demo page in {demo_dir} (a source checkout)")
    if not (sdk_dir / "index.js").is_file():
        log.warning(
            "the demo needs the built TypeScript SDK in %s: "
            "run `npm ci && npm run build` in clients/typescript",
            sdk_dir,
        )
    return [
        Route("/demo", _to_demo_folder),
        Mount("/demo/sdk", StaticFiles(directory=sdk_dir, check_dir=False)),
        Mount("/demo", StaticFiles(directory=demo_dir, html=True)),
    ]
