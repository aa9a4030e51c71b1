"""Delivery health for server admins (``/admin deliveries``) and each user's own alert history
(``/alert history``).

Failure reasons are written by the senders without contact details, and are scrubbed once more
here before anyone sees them (phone numbers, webhook tokens, email addresses), because a reason
is shown to a whole server's admins.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.breaker import Breakers, BreakerSnapshot
from bot.logs import redact
from db.models import OutboxStatus, utcnow
from db.repositories.outbox import FailedDelivery, OutboxRepository

WINDOW = timedelta(hours=24)
RECENT = 10
HISTORY = 10
_EMAIL = re.compile(r"[^\s@<>()\"']+@[^\s@<>()\"']+\.[A-Za-z]{2,}")
_WEBHOOK_URL = re.compile(r"https?://\S*/webhooks/\S+")


def scrub(reason: str) -> str:
    """A reason with anything that could identify or reach a person taken out."""
    text = _WEBHOOK_URL.sub("[webhook]", redact(reason))
    return _EMAIL.sub("[email]", text)


@dataclass(frozen=True, slots=True)
class DeliveryHealth:
    since: datetime
    by_channel: list[tuple[str, str, int]]  # (channel, reason, failures) in the last 24 h
    recent: list[FailedDelivery]  # the most recent failures, newest first
    breakers: list[BreakerSnapshot]


@dataclass(frozen=True, slots=True)
class HistoryItem:
    title: str | None  # None: the listing is gone
    at: datetime
    channel: str
    status: str  # sent | failed | suppressed | held | in digest | sending
    reason: str | None
    due_at: datetime | None  # for held alerts: when they go out


def status_of(status: str, due: datetime, now: datetime) -> str:
    if status == OutboxStatus.digest:
        return "in digest"
    if status in (OutboxStatus.pending, OutboxStatus.sending):
        return "held" if status == OutboxStatus.pending and due > now else "sending"
    return status


class DeliveryReportService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        breakers: Breakers,
        channels: Sequence[str],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.breakers = breakers
        self.channels = list(channels)
        self.clock = clock

    async def health(self, guild_id: int) -> DeliveryHealth:
        since = self.clock() - WINDOW
        async with self.sessions() as session:
            outbox = OutboxRepository(session)
            counts = await outbox.failures_by_channel(guild_id, since)
            recent = await outbox.recent_failures(guild_id, RECENT)
        return DeliveryHealth(
            since=since,
            by_channel=[(c, scrub(r), n) for c, r, n in counts],
            recent=[FailedDelivery(f.at, f.channel, scrub(f.reason)) for f in recent],
            breakers=self.breakers.snapshots(self.channels),
        )

    async def history(self, user_id: int) -> list[HistoryItem]:
        now = self.clock()
        async with self.sessions() as session:
            entries = await OutboxRepository(session).history(user_id, HISTORY)
        items = []
        for e in entries:
            status = status_of(e.status, e.next_attempt_at, now)
            items.append(
                HistoryItem(
                    title=e.listing_title,
                    at=e.created_at,
                    channel=e.channel,
                    status=status,
                    reason=scrub(e.reason) if e.reason else None,
                    due_at=e.next_attempt_at if status == "held" else None,
                )
            )
        return items
