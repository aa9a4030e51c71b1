"""Deliver outbox rows: claim, send, record the outcome. Every row ends sent, failed (with the
reason) or suppressed (with the reason); transient failures come back later with backoff.

A crash at any point is safe: an unsent claimed row is claimed again when its lease expires and
resent with the same nonce, which Discord dedupes, so nothing is lost and nothing is doubled.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.digests import DigestService
from bot.delivery.outbox import NOT_INTERESTED, Wakeup, fallback_alert, suppression_reason
from bot.delivery.senders.base import OutgoingAlert, OutgoingDigest, Sender, SendError
from bot.domain.rule import Channel, Rule
from db.models import OutboxRow, utcnow
from db.repositories.accounts import FeedbackRepository, GuildRepository, UserRepository
from db.repositories.listings import ListingRepository
from db.repositories.outbox import OutboxRepository
from db.repositories.rules import RuleRepository

log = logging.getLogger(__name__)

FALLBACK: dict[str, str] = {Channel.email: Channel.dm, Channel.dm: Channel.channel}
"""Where an alert goes when its channel cannot reach the user (or gave up): email → DM → the
server's alert channel."""


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    batch_size: int = 50
    max_attempts: int = 8
    lease: timedelta = timedelta(seconds=60)
    idle_seconds: float = 5.0
    concurrency: int = 8
    base_backoff: float = 2.0
    max_backoff: float = 900.0


def backoff_seconds(attempt: int, settings: DispatchSettings, rnd: Callable[[], float]) -> float:
    """Exponential backoff with full jitter on the upper half: 2, 4, 8 ... capped."""
    ceiling = min(settings.max_backoff, settings.base_backoff * 2 ** max(0, attempt - 1))
    return ceiling / 2 + rnd() * ceiling / 2


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        wakeup: Wakeup,
        settings: DispatchSettings | None = None,
        *,
        digests: DigestService | None = None,
        clock: Callable[[], datetime] = utcnow,
        rnd: Callable[[], float] = random.random,
    ) -> None:
        self.sessions = sessions
        self.senders = senders
        self.wakeup = wakeup
        self.settings = settings or DispatchSettings()
        self.clock = clock
        self.rnd = rnd
        self.digests = digests
        self._stopping = asyncio.Event()

    async def run_forever(self) -> None:
        """Deliver until :meth:`stop`; sleeps until woken or the next row is due."""
        while not self._stopping.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("dispatcher pass failed; retrying shortly")
                handled = 0
            if handled == 0:
                await self.wakeup.wait(await self._idle_timeout())

    def stop(self) -> None:
        self._stopping.set()
        self.wakeup.set()

    async def _idle_timeout(self) -> float:
        async with self.sessions() as session:
            due = await OutboxRepository(session).next_due_at()
        if due is None:
            return self.settings.idle_seconds
        wait = (due - self.clock()).total_seconds()
        return max(0.05, min(self.settings.idle_seconds, wait))

    async def run_once(self) -> int:
        """Claim one batch and deliver it. Returns how many rows were handled."""
        async with self.sessions.begin() as session:
            rows = await OutboxRepository(session).claim_due(
                now=self.clock(), limit=self.settings.batch_size, lease=self.settings.lease
            )
        if not rows:
            return 0
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def one(row: OutboxRow) -> None:
            async with limit:
                await self.deliver(row)

        await asyncio.gather(*(one(r) for r in rows))
        return len(rows)

    async def deliver(self, row: OutboxRow) -> None:
        """Deliver one claimed row and record exactly one outcome for it."""
        if row.kind == "digest":
            await self._deliver_digest(row)
            return
        async with self.sessions() as session:
            rule = await RuleRepository(session).get(row.rule_id) if row.rule_id else None
            listing = (
                await ListingRepository(session).get(row.listing_id) if row.listing_id else None
            )
            user = await UserRepository(session).get(row.user_id)
            not_wanted = bool(row.listing_id) and await FeedbackRepository(session).has(
                row.user_id, row.listing_id or 0, NOT_INTERESTED
            )
        reason = suppression_reason(rule, listing, not_wanted)
        if reason is not None:
            await self._record(lambda repo: repo.mark_suppressed(row.id, reason))
            return
        assert rule is not None and listing is not None
        sender = self.senders.get(row.channel)
        if sender is None:
            await self._record(
                lambda repo: repo.mark_failed(row.id, row.attempts, f"no sender for {row.channel}")
            )
            return
        try:
            if row.channel == Channel.dm and user is not None and user.dms_closed:
                raise SendError("DMs closed", permanent=True, unreachable=True)
            distance = (
                rule.point.distance_mi(listing.point) if rule.point and listing.point else None
            )
            message_id = await sender.send(
                OutgoingAlert(
                    outbox_id=row.id,
                    nonce=row.nonce,
                    user_id=row.user_id,
                    guild_id=row.guild_id,
                    rule=rule,
                    listing=listing,
                    distance_mi=distance,
                    is_fallback=row.fallback_of is not None,
                )
            )
        except SendError as exc:
            await self._failed(row, rule, exc)
            return
        except Exception as exc:  # a sender bug must not lose the row
            log.exception("sender %s raised unexpectedly for outbox row %s", row.channel, row.id)
            await self._failed(row, rule, SendError(type(exc).__name__, permanent=False))
            return
        await self._record(lambda repo: repo.mark_sent(row.id, message_id))

    async def _deliver_digest(self, row: OutboxRow) -> None:
        sender = self.senders.get(row.channel)
        send_digest = getattr(sender, "send_digest", None)
        if self.digests is None or send_digest is None:
            reason = f"no digest sender for {row.channel}"
            await self._record(lambda repo: repo.mark_failed(row.id, row.attempts, reason))
            await self._settle(row)
            return
        entries, held, dropped = await self.digests.prepare(row)
        if dropped:
            async with self.sessions.begin() as session:
                outbox = OutboxRepository(session)
                for member_id, why in dropped:
                    await outbox.mark_suppressed(member_id, why)
        if not entries:
            await self._record(lambda repo: repo.mark_suppressed(row.id, "nothing left to send"))
            await self._settle(row)
            return
        digest = OutgoingDigest(
            outbox_id=row.id,
            nonce=row.nonce,
            user_id=row.user_id,
            period=row.digest_period or "",
            entries=tuple(entries),
            held_by_cap=held,
        )
        try:
            message_id = await send_digest(digest)
        except SendError as exc:
            await self._failed(row, None, exc)
        except Exception as exc:
            log.exception("digest sender %s raised unexpectedly for row %s", row.channel, row.id)
            await self._failed(row, None, SendError(type(exc).__name__, permanent=False))
        else:
            await self._record(lambda repo: repo.mark_sent(row.id, message_id))
        await self._settle(row)

    async def _settle(self, row: OutboxRow) -> None:
        if row.digest_id is not None:
            async with self.sessions.begin() as session:
                await OutboxRepository(session).settle_digest_members(row.digest_id)

    async def _failed(self, row: OutboxRow, rule: Rule | None, exc: SendError) -> None:
        attempts = row.attempts + 1
        if exc.permanent or attempts >= self.settings.max_attempts:
            reason = (
                exc.reason if exc.permanent else f"gave up after {attempts} tries: {exc.reason}"
            )
            async with self.sessions.begin() as session:
                await OutboxRepository(session).mark_failed(row.id, attempts, reason)
                if exc.unreachable and row.channel == Channel.dm:
                    await UserRepository(session).mark_dms_closed(row.user_id)
                if rule is not None and (exc.unreachable or not exc.permanent):
                    await self._fall_back(session, row, rule)
            self.wakeup.set()
            log.info("outbox row %s failed: %s", row.id, reason)
            return
        delay = (
            exc.retry_after
            if exc.retry_after
            else backoff_seconds(attempts, self.settings, self.rnd)
        )
        at = self.clock() + timedelta(seconds=delay)
        await self._record(lambda repo: repo.mark_retry(row.id, attempts, at, exc.reason))
        log.info("outbox row %s retry %s in %.1fs: %s", row.id, attempts, delay, exc.reason)

    async def _fall_back(self, session: AsyncSession, row: OutboxRow, rule: Rule) -> None:
        """The channel cannot reach the user: queue the alert on the next channel of the chain
        (a no-op if the alert is already queued there)."""
        target = FALLBACK.get(row.channel)
        if target is None or row.listing_id is None:
            return
        if target == Channel.channel:
            if rule.guild_id is None:
                return
            settings = await GuildRepository(session).get(rule.guild_id)
            if settings is None or settings.alert_channel_id is None:
                return
        await OutboxRepository(session).enqueue(
            [fallback_alert(row.dedupe_key, row.user_id, rule, row.listing_id, row.id, target)],
            self.clock(),
        )

    async def _record(self, change: Callable[[OutboxRepository], Awaitable[None]]) -> None:
        async with self.sessions.begin() as session:
            await change(OutboxRepository(session))
