"""Deliver outbox rows: claim, send, record the outcome. Every row ends sent, failed (with the
reason) or suppressed (with the reason); transient failures come back later with backoff.

A row whose channel cannot reach the user (or that gave up after its retries) fails, and the
alert moves to the first channel of the user's order that is usable and not yet tried for it
(``bot.domain.failover``); that fallback alert carries a one-time notice saying why
(``notices.py``). A circuit breaker per channel (``breaker.py``) stops calling a service that
keeps failing: while it is open, rows wait with the reason "circuit open: <channel>".

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

from bot.delivery.breaker import Breakers, BreakerSettings, BreakerState
from bot.delivery.digests import DigestService
from bot.delivery.notices import DMS_CLOSED, GAVE_UP, channel_name, failover_notice, notice_key
from bot.delivery.outbox import NOT_INTERESTED, Wakeup, fallback_alert, suppression_reason
from bot.delivery.senders.base import OutgoingAlert, OutgoingDigest, Sender, SendError
from bot.delivery.subjects import ALERT_KINDS, rule_for
from bot.domain.failover import next_channel
from bot.domain.rule import Channel, Rule
from bot.i18n import N_, t
from db.models import OutboxRow, OutboxStatus, utcnow
from db.repositories.accounts import FeedbackRepository, UserRepository
from db.repositories.listings import ListingRepository
from db.repositories.outbox import OutboxRepository
from db.repositories.preferences import PreferencesRepository

log = logging.getLogger(__name__)

NOTICE_CHANNELS = frozenset({"dm", "channel", "webhook", "email"})
"""The senders that show ``OutgoingAlert.notice`` (a notice is only recorded as given when the
alert carrying it is delivered on one of these)."""

STRANDED = N_(
    "I couldn't deliver an alert by {channel} ({reason}), and no other channel in your order "
    "could take it. /prefs channel-order sets where alerts go next."
)

NotifyFn = Callable[[int, str, str], Awaitable[bool]]
"""(user id, notice key, text) → delivered: a one-time DM, used when an alert has nowhere left
to go (``NoticeService.notify_once``)."""


def circuit_reason(channel: str) -> str:
    return f"circuit open: {channel}"


def as_send_error(exc: Exception, row: OutboxRow) -> SendError:
    """What a sender raised, as a retry decision; anything but a SendError is a sender bug,
    logged, and retried (a bug must not lose the row). Call from an ``except`` block."""
    if isinstance(exc, SendError):
        return exc
    log.exception("%s sender raised unexpectedly for outbox row %s", row.channel, row.id)
    return SendError(type(exc).__name__, permanent=False)


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    batch_size: int = 50
    max_attempts: int = 8
    lease: timedelta = timedelta(seconds=60)
    idle_seconds: float = 5.0
    concurrency: int = 8
    base_backoff: float = 2.0
    max_backoff: float = 900.0
    breaker_failures: int = 5
    breaker_cooldown: timedelta = timedelta(seconds=60)


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
        notify: NotifyFn | None = None,
    ) -> None:
        self.sessions = sessions
        self.senders = senders
        self.wakeup = wakeup
        self.settings = settings or DispatchSettings()
        self.clock = clock
        self.rnd = rnd
        self.digests = digests
        self.notify = notify
        self.breakers = Breakers(
            BreakerSettings(
                failures=self.settings.breaker_failures, cooldown=self.settings.breaker_cooldown
            ),
            lambda: self.clock(),  # tests replace ``clock``; the breakers follow
        )
        self._notice_lock = asyncio.Lock()  # SQLite has no row locks: claim notices one at a time
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
            rule = await rule_for(session, row.kind, row.rule_id)
            listing = (
                await ListingRepository(session).get(row.listing_id) if row.listing_id else None
            )
            user = await UserRepository(session).get(row.user_id)
            not_wanted = row.kind == "deal_alert" and await FeedbackRepository(session).has(
                row.user_id, row.listing_id or 0, NOT_INTERESTED
            )
        reason = suppression_reason(rule, listing, not_wanted)
        if reason is not None:
            await self._record(lambda repo: repo.mark_suppressed(row.id, reason))
            return
        assert rule is not None and listing is not None
        sender = self.senders.get(row.channel)
        if row.channel == Channel.dm and user is not None and user.dms_closed:
            # Known: do not earn another 403 (they count toward Discord's invalid-request ban).
            await self._failed(row, rule, SendError(DMS_CLOSED, permanent=True, unreachable=True))
            return
        if sender is None:
            no_sender = SendError(f"no sender for {row.channel}", permanent=True, unreachable=True)
            await self._failed(row, rule, no_sender)
            return
        if not await self._admit(row):
            return
        notice, keys = await self._claim_notice(row)
        try:
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
                    notice=notice,
                    kind=row.kind,
                )
            )
        except Exception as exc:
            error = as_send_error(exc, row)
            await self._unclaim_notice(row.user_id, keys)
            self._observe(row.channel, error)
            await self._failed(row, rule, error)
            return
        await self._record(lambda repo: repo.mark_sent(row.id, message_id))
        await self._succeeded(row.channel)

    async def _deliver_digest(self, row: OutboxRow) -> None:
        sender = self.senders.get(row.channel)
        send_digest = getattr(sender, "send_digest", None)
        if self.digests is None or send_digest is None:
            reason = f"no digest sender for {row.channel}"
            await self._record(lambda repo: repo.mark_failed(row.id, row.attempts, reason))
            await self._settle(row)
            return
        if not await self._admit(row):
            return
        entries, held, dropped = await self.digests.prepare(row)
        if dropped:
            async with self.sessions.begin() as session:
                outbox = OutboxRepository(session)
                for member_id, why in dropped:
                    await outbox.mark_suppressed(member_id, why)
        if not entries:
            self.breakers[row.channel].record_neutral()
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
        except Exception as exc:
            error = as_send_error(exc, row)
            self._observe(row.channel, error)
            await self._failed(row, None, error)
        else:
            await self._record(lambda repo: repo.mark_sent(row.id, message_id))
            await self._succeeded(row.channel)
        await self._settle(row)

    async def _settle(self, row: OutboxRow) -> None:
        if row.digest_id is not None:
            async with self.sessions.begin() as session:
                await OutboxRepository(session).settle_digest_members(row.digest_id)

    # ---- circuit breakers -----------------------------------------------------------------

    async def _admit(self, row: OutboxRow) -> bool:
        """Whether the row's channel may be called now; if not, the row waits for the end of
        the cool-down (no attempt is spent: the row itself did nothing wrong)."""
        breaker = self.breakers[row.channel]
        if breaker.allow():
            return True
        at, reason = breaker.retry_at(), circuit_reason(row.channel)
        await self._record(lambda repo: repo.mark_retry(row.id, row.attempts, at, reason))
        if breaker.state is BreakerState.closed:  # the probe succeeded while this row was held
            await self._release(row.channel)
        return False

    def _observe(self, channel: str, exc: SendError) -> None:
        """Feed a failure to the channel's breaker. Permanent failures are about one user, and
        a failure that names its own retry time (a rate limit) is the service pacing us: neither
        says the service is down."""
        breaker = self.breakers[channel]
        if exc.permanent or exc.retry_after is not None:
            breaker.record_neutral()
        elif breaker.record_failure():
            log.warning(
                "circuit open for %s after %d transient failures in a row; "
                "holding its alerts for %.0f s",
                channel,
                breaker.settings.failures,
                breaker.settings.cooldown.total_seconds(),
            )

    async def _succeeded(self, channel: str) -> None:
        if self.breakers[channel].record_success():
            log.info("circuit closed for %s: releasing the alerts it held", channel)
            await self._release(channel)

    async def _release(self, channel: str) -> None:
        reason, now = circuit_reason(channel), self.clock()
        await self._record(lambda repo: repo.release_held(channel, reason, now))
        self.wakeup.set()

    # ---- failover ---------------------------------------------------------------------------

    async def _failed(self, row: OutboxRow, rule: Rule | None, exc: SendError) -> None:
        attempts = row.attempts + 1
        if exc.permanent or attempts >= self.settings.max_attempts:
            reason = exc.reason if exc.permanent else f"{GAVE_UP} {attempts} tries: {exc.reason}"
            moves_on = rule is not None and (exc.unreachable or not exc.permanent)
            target = None
            async with self.sessions.begin() as session:
                alert_rows = await OutboxRepository(session).fail_in_chain(row, attempts, reason)
                if exc.unreachable and row.channel == Channel.dm:
                    await UserRepository(session).mark_dms_closed(row.user_id)
                if moves_on and rule is not None:
                    target = await self._fall_back(session, row, rule, alert_rows)
            self.wakeup.set()
            log.info("outbox row %s failed: %s", row.id, reason)
            if moves_on and target is None:
                await self._tell_stranded(row, reason)
            return
        delay = (
            exc.retry_after
            if exc.retry_after
            else backoff_seconds(attempts, self.settings, self.rnd)
        )
        at = self.clock() + timedelta(seconds=delay)
        await self._record(lambda repo: repo.mark_retry(row.id, attempts, at, exc.reason))
        log.info("outbox row %s retry %s in %.1fs: %s", row.id, attempts, delay, exc.reason)

    async def _fall_back(
        self,
        session: AsyncSession,
        row: OutboxRow,
        rule: Rule,
        alert_rows: list[tuple[str, str]],
    ) -> str | None:
        """Queue the alert on the user's next usable channel not yet tried for it, and return
        that channel (None: nowhere left). A no-op if the alert is already queued there: that
        row's own failure, if it comes, moves the alert on."""
        if row.listing_id is None or row.kind not in ALERT_KINDS:
            return None
        tried = {channel for channel, status in alert_rows if status == OutboxStatus.failed}
        tried.add(row.channel)
        prefs = PreferencesRepository(session)
        reach = await prefs.reachability(row.user_id, rule.guild_id)
        saved = await prefs.get(row.user_id)
        order = saved.channel_order if saved is not None else None
        target = next_channel(order, tried, reach.usable(self.senders))
        if target is None:
            return None
        await OutboxRepository(session).enqueue(
            [
                fallback_alert(
                    row.dedupe_key, row.user_id, rule, row.listing_id, row.id, target, row.kind
                )
            ],
            self.clock(),
        )
        return target

    async def _claim_notice(self, row: OutboxRow) -> tuple[str | None, list[str]]:
        """For a fallback alert: why it came here, for each failed channel before it that the
        user has not been told about (claimed now, given back if the send fails)."""
        if row.fallback_of is None or row.channel not in NOTICE_CHANNELS:
            return None, []
        async with self.sessions() as session:
            chain = await OutboxRepository(session).chain(row)
            prefs = await PreferencesRepository(session).get(row.user_id)
        failed = {
            notice_key(r.channel): r for r in reversed(chain) if r.status == OutboxStatus.failed
        }
        if not failed:
            return None, []
        async with self._notice_lock, self.sessions.begin() as session:
            keys = await PreferencesRepository(session).claim_notices(row.user_id, list(failed))
        locale = prefs.language if prefs is not None else "en"
        lines = [failover_notice(failed[k].channel, failed[k].reason, locale) for k in keys]
        return (" ".join(lines) or None), keys

    async def _unclaim_notice(self, user_id: int, keys: list[str]) -> None:
        if keys:
            async with self._notice_lock, self.sessions.begin() as session:
                await PreferencesRepository(session).forget_notices(user_id, keys)

    async def _tell_stranded(self, row: OutboxRow, reason: str) -> None:
        """No channel is left for this alert: tell the user once by DM (unless DM is what
        failed, or DMs are closed), through the notice hook."""
        if self.notify is None or row.channel == Channel.dm:
            return
        async with self.sessions() as session:
            user = await UserRepository(session).get(row.user_id)
            prefs = await PreferencesRepository(session).get(row.user_id)
        if user is not None and user.dms_closed:
            return
        locale = prefs.language if prefs is not None else "en"
        text = t(STRANDED, locale, channel=channel_name(row.channel, locale), reason=reason[:120])
        try:
            await self.notify(row.user_id, notice_key(row.channel), text)
        except Exception:
            log.exception("could not notify user %s about channel %s", row.user_id, row.channel)

    async def _record(self, change: Callable[[OutboxRepository], Awaitable[object]]) -> None:
        async with self.sessions.begin() as session:
            await change(OutboxRepository(session))
