"""A gateway's own figures for the operators: its sessions online and logins of the last
minute, reported to the cluster every `REPORT_INTERVAL_S` so that any gateway's
`GET /admin/v1/gateways` (the dashboard's sessions panel) sums every gateway's, not only
its own process's; and every `SAMPLE_INTERVAL_S`, a sample of those sums and the queues'
figures into the gateway's `FigureHistory` (`GET /admin/v1/history`, the charts)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from domain.sessions.models import GatewayFigures
from gameserver.figure_history import SAMPLE_INTERVAL_S, FigureSample, queue_figures
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


async def every_gateway(services: Services) -> list[GatewayFigures]:
    """Every gateway's figures, by gateway id: this one's now, the others' last reports."""
    own = own_figures(services)
    reported = await services.sessions.gateway_reports()
    gateways = [own, *(report for report in reported if report.gateway_id != own.gateway_id)]
    return sorted(gateways, key=lambda figures: figures.gateway_id)


def summed(gateways: list[GatewayFigures]) -> tuple[int, int]:
    """Sessions online and logins of the last minute over `gateways`."""
    return (
        sum(figures.sessions_online for figures in gateways),
        sum(figures.logins_last_minute for figures in gateways),
    )


async def take_sample(services: Services) -> FigureSample:
    sessions_online, logins_last_minute = summed(await every_gateway(services))
    queues = await services.matchmaking.list_queue_stats()
    return FigureSample(
        at=services.clock.now(),
        sessions_online=sessions_online,
        logins_last_minute=logins_last_minute,
        queues=queue_figures(queues),
    )


async def report_figures(services: Services, stop: asyncio.Event) -> None:
    """Report at once, then every `REPORT_INTERVAL_S` until `stop`; then withdraw. Sample
    the history once the first report is in, then every `SAMPLE_INTERVAL_S`."""
    sampled_at: float | None = None
    while True:
        try:
            await services.sessions.report_gateway(own_figures(services), REPORT_KEPT_S)
        except Exception:
            log.warning("could not report this gateway's figures; next round", exc_info=True)
        now = services.clock.now()
        if sampled_at is None or now - sampled_at >= SAMPLE_INTERVAL_S - REPORT_INTERVAL_S / 2:
            sampled_at = now
            try:
                services.figure_history.add(await take_sample(services))
            except Exception:
                log.warning("could not sample the figures' history; next round", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=REPORT_INTERVAL_S)
            break
    try:
        await services.sessions.forget_gateway(services.settings.gateway_id)
    except Exception:
        log.warning("could not withdraw this gateway's figures (they expire)", exc_info=True)
