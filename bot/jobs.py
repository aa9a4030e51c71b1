"""The scheduled jobs, each a plain async function of its dependencies, and the scheduler.

Jobs find their work in the database (digests whose time has come), so a missed tick — a
restart, a slow pass — only delays work; it never loses or repeats it.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.services import Services

log = logging.getLogger(__name__)


async def send_due_digests(services: Services) -> None:
    try:
        await services.digests.run_due()
    except Exception:
        log.exception("digest run failed; the next tick retries")


def start_scheduler(services: Services, interval_seconds: float) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        send_due_digests,
        "interval",
        seconds=interval_seconds,
        args=[services],
        id="digests",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,  # late is fine (a suspended host, a clock step): never skip
    )
    scheduler.start()
    return scheduler
