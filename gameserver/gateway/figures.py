"""A gateway's own figures for the operators: its sessions online and logins of the last
minute, reported to the cluster every `REPORT_INTERVAL_S` so that any gateway's
`GET /admin/v1/gateways` (the dashboard's sessions panel) sums every gateway's, not only
its own process's."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from domain.sessions.models import GatewayFigures
from gameserver.services import Services

log = logging.getLogger(__name__)

REPORT_INTERVAL_S = 2.0
# A report outlives a few missed rounds; a gateway that stopped without a word (killed)
# drops out of the sums after this.
REPORT_KEPT_S = 10.0


def own_figures(services: Services) -> GatewayFigures:
    """This gateway's figures now."""
    return GatewayFigures(
        gateway_id=services.settings.gateway_id,
        sessions_online=len(services.registry),
        logins_last_minute=services.metrics.recent_logins.total(),
        reported_at=services.clock.now(),
    )


async def report_figures(services: Services, stop: asyncio.Event) -> None:
    """Report at once, then every `REPORT_INTERVAL_S` until `stop`; then withdraw."""
    while True:
        try:
            await services.sessions.report_gateway(own_figures(services), REPORT_KEPT_S)
        except Exception:
            log.warning("could not report this gateway's figures; next round", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=REPORT_INTERVAL_S)
            break
    try:
        await services.sessions.forget_gateway(services.settings.gateway_id)
    except Exception:
        log.warning("could not withdraw this gateway's figures (they expire)", exc_info=True)
