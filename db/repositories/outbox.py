"""The durable outbox: every matched alert is a row here before anything is sent.

Rows move pending -> sending (claimed with a lease) -> sent | failed | suppressed. A dispatcher
that crashes mid-send leaves its rows in ``sending``; when the lease expires another claim picks
them up again and resends with the *same* nonce, which Discord dedupes (enforce_nonce), so a
retry cannot post twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ListingRow, OutboxRow, OutboxStatus, utcnow

ALERT_KINDS = ("deal_alert", "wanted_alert", "watch_alert")
"""Kinds of rows that are one alert about one listing (deal rules, Discogs wanted entries and
price watches); the rest are digests. Kept in step with ``bot.delivery.subjects.ALERT_KINDS``."""


@dataclass(frozen=True, slots=True)
class NewAlert:
    dedupe_key: str
    user_id: int
    channel: str
    nonce: str
    guild_id: int | None = None
    rule_id: int | None = None
    listing_id: int | None = None
    kind: str = "deal_alert"
    fallback_of: int | None = None
    status: str = OutboxStatus.pending
    reason: str | None = None
    due_at: datetime | None = None  # None: now
    digest_period: str | None = None


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """One failed row, for /admin deliveries (the reason never holds contact details)."""

    at: datetime
    channel: str
    reason: str


@dataclass(frozen=True, slots=True)
class AlertHistoryEntry:
    """One of a user's alerts, for /alert history."""

    listing_title: str | None  # None: the listing is gone
    created_at: datetime
    channel: str
    status: str
    reason: str | None
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    digest: int = 0  # waiting for a digest


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue(self, alerts: Sequence[NewAlert], now: datetime | None = None) -> int:
        """Insert alerts, skipping any whose dedupe key exists. Returns how many were new.
        ``now`` stamps the rows (the caller's clock, so the daily limit counts in its time)."""
        if not alerts:
            return 0
        now = now or utcnow()
        values = [
            {
                "dedupe_key": a.dedupe_key,
                "kind": a.kind,
                "user_id": a.user_id,
                "guild_id": a.guild_id,
                "rule_id": a.rule_id,
                "listing_id": a.listing_id,
                "channel": a.channel,
                "nonce": a.nonce,
                "fallback_of": a.fallback_of,
                "status": a.status,
                "reason": a.reason,
                "attempts": 0,
                "next_attempt_at": a.due_at or now,
                "digest_period": a.digest_period,
                "created_at": now,
                "updated_at": now,
            }
            for a in alerts
        ]
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(OutboxRow).values(values).on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        result = await self.session.execute(stmt)
        return max(0, int(getattr(result, "rowcount", 0) or 0))

    async def claim_due(self, *, now: datetime, limit: int, lease: timedelta) -> list[OutboxRow]:
        """Claim up to ``limit`` due rows (pending and due, or sending with an expired lease)."""
        due = or_(
            and_(OutboxRow.status == OutboxStatus.pending, OutboxRow.next_attempt_at <= now),
            and_(OutboxRow.status == OutboxStatus.sending, OutboxRow.claimed_until < now),
        )
        stmt = select(OutboxRow.id).where(due).order_by(OutboxRow.id).limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(await self.session.scalars(stmt))
        if not ids:
            return []
        # RETURNING names exactly the rows *this* claim took: another dispatcher may have taken
        # some of ``ids`` between our SELECT and UPDATE (SQLite reads outside the write lock).
        claimed = list(
            await self.session.scalars(
                update(OutboxRow)
                .where(OutboxRow.id.in_(ids), due)
                .values(status=OutboxStatus.sending, claimed_until=now + lease, updated_at=now)
                .returning(OutboxRow.id)
                .execution_options(synchronize_session=False)
            )
        )
        if not claimed:
            return []
        rows = await self.session.scalars(
            select(OutboxRow)
            .where(OutboxRow.id.in_(claimed))
            .order_by(OutboxRow.id)
            .execution_options(populate_existing=True)
        )
        return list(rows)

    async def _finish(self, row_id: int, **values: object) -> None:
        await self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row_id)
            .values(updated_at=utcnow(), claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        )

    async def mark_sent(self, row_id: int, message_id: int | None) -> None:
        await self._finish(
            row_id, status=OutboxStatus.sent, message_id=message_id, sent_at=utcnow(), reason=None
        )

    async def mark_retry(self, row_id: int, attempts: int, at: datetime, reason: str) -> None:
        await self._finish(
            row_id,
            status=OutboxStatus.pending,
            attempts=attempts,
            next_attempt_at=at,
            reason=reason,
        )

    async def mark_failed(self, row_id: int, attempts: int, reason: str) -> None:
        await self._finish(row_id, status=OutboxStatus.failed, attempts=attempts, reason=reason)

    async def mark_suppressed(self, row_id: int, reason: str) -> None:
        await self._finish(row_id, status=OutboxStatus.suppressed, reason=reason)

    async def reschedule_listing(self, listing_id: int, at: datetime, *, before: datetime) -> None:
        """Move a listing's pending alerts that are due before ``before`` to ``at`` (hold them
        for, or release them after, the marketplace post they link to). Alerts held for quiet
        hours are due later and keep their time."""
        await self.session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.listing_id == listing_id,
                OutboxRow.status == OutboxStatus.pending,
                OutboxRow.next_attempt_at <= before,
            )
            .values(next_attempt_at=at)
            .execution_options(synchronize_session=False)
        )

    async def alert_times_since(
        self, user_ids: Sequence[int], since: datetime
    ) -> list[tuple[int, datetime]]:
        """(user, created_at) of deal alerts that were or will be sent immediately (not digest,
        not suppressed) since ``since``: what the daily limit counts. One row per listing."""
        if not user_ids:
            return []
        rows = await self.session.execute(
            select(OutboxRow.user_id, OutboxRow.listing_id, func.min(OutboxRow.created_at))
            .where(
                OutboxRow.user_id.in_(list(user_ids)),
                OutboxRow.kind.in_(ALERT_KINDS),
                OutboxRow.created_at >= since,
                OutboxRow.status.in_(
                    [
                        OutboxStatus.pending,
                        OutboxStatus.sending,
                        OutboxStatus.sent,
                        OutboxStatus.failed,
                    ]
                ),
                OutboxRow.digest_period.is_(None),
                OutboxRow.fallback_of.is_(None),
            )
            .group_by(OutboxRow.user_id, OutboxRow.listing_id)
        )
        return [(int(u), at) for u, _listing, at in rows.all()]

    async def due_digest_groups(self, now: datetime) -> list[tuple[int, str]]:
        """(user, period) pairs with alerts waiting for a digest that is now due."""
        rows = await self.session.execute(
            select(OutboxRow.user_id, OutboxRow.digest_period)
            .where(
                OutboxRow.status == OutboxStatus.digest,
                OutboxRow.digest_id.is_(None),
                OutboxRow.next_attempt_at <= now,
            )
            .group_by(OutboxRow.user_id, OutboxRow.digest_period)
        )
        return [(int(u), str(p)) for u, p in rows.all()]

    async def first_digest_member(self, user_id: int, period: str) -> int:
        """The lowest id among the unlinked members: names the batch in the digest's key."""
        found = await self.session.scalar(
            select(func.min(OutboxRow.id)).where(
                OutboxRow.user_id == user_id,
                OutboxRow.digest_period == period,
                OutboxRow.status == OutboxStatus.digest,
                OutboxRow.digest_id.is_(None),
            )
        )
        return int(found or 0)

    async def link_digest(self, user_id: int, period: str, digest_keys: Sequence[str]) -> int:
        """Point the waiting members, and the digest rows themselves, at one batch id (the
        first digest row's id), so any of the digest's channels can find its members."""
        digest_ids = list(
            await self.session.scalars(
                select(OutboxRow.id)
                .where(OutboxRow.dedupe_key.in_(list(digest_keys)))
                .order_by(OutboxRow.id)
            )
        )
        if not digest_ids:
            return 0
        batch = digest_ids[0]
        await self.session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(digest_ids))
            .values(digest_id=batch)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.user_id == user_id,
                OutboxRow.digest_period == period,
                OutboxRow.status == OutboxStatus.digest,
                OutboxRow.digest_id.is_(None),
                OutboxRow.kind.in_(ALERT_KINDS),
            )
            .values(digest_id=batch)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def digest_members(self, digest: OutboxRow) -> list[OutboxRow]:
        rows = await self.session.scalars(
            select(OutboxRow)
            .where(OutboxRow.digest_id == digest.digest_id, OutboxRow.kind.in_(ALERT_KINDS))
            .order_by(OutboxRow.id)
        )
        return list(rows)

    async def settle_digest_members(self, batch: int) -> None:
        """After a digest row finished: members are sent if any channel of the digest was;
        failed (with the reasons) once every channel of it has failed."""
        digests = list(
            await self.session.scalars(
                select(OutboxRow).where(OutboxRow.digest_id == batch, OutboxRow.kind == "digest")
            )
        )
        if any(d.status == OutboxStatus.sent for d in digests):
            status, reason = OutboxStatus.sent, f"in the {digests[0].digest_period} digest"
        elif digests and all(d.status == OutboxStatus.failed for d in digests):
            reasons = "; ".join(sorted({d.reason or "unknown" for d in digests}))
            status, reason = OutboxStatus.failed, f"digest not delivered: {reasons}"[:300]
        else:
            return
        await self.session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.digest_id == batch,
                OutboxRow.kind.in_(ALERT_KINDS),
                OutboxRow.status == OutboxStatus.digest,
            )
            .values(status=status, reason=reason, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    async def counts(self, guild_id: int | None = None) -> OutboxCounts:
        stmt = select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        if guild_id is not None:
            stmt = stmt.where(OutboxRow.guild_id == guild_id)
        found = {status: int(n) for status, n in (await self.session.execute(stmt)).all()}
        return OutboxCounts(**{s.value: found.get(s.value, 0) for s in OutboxStatus})

    async def failure_reasons(
        self, guild_id: int | None = None, limit: int = 5
    ) -> list[tuple[str, int]]:
        stmt = (
            select(OutboxRow.reason, func.count())
            .where(OutboxRow.status == OutboxStatus.failed)
            .group_by(OutboxRow.reason)
            .order_by(func.count().desc())
            .limit(limit)
        )
        if guild_id is not None:
            stmt = stmt.where(OutboxRow.guild_id == guild_id)
        return [(r or "unknown", int(n)) for r, n in (await self.session.execute(stmt)).all()]

    async def next_due_at(self) -> datetime | None:
        """When the next pending row becomes due (lets the dispatcher sleep exactly that long)."""
        return await self.session.scalar(
            select(func.min(OutboxRow.next_attempt_at)).where(
                OutboxRow.status == OutboxStatus.pending
            )
        )

    async def get(self, row_id: int) -> OutboxRow | None:
        return await self.session.get(OutboxRow, row_id)

    async def for_listing(self, listing_id: int) -> list[OutboxRow]:
        rows = await self.session.scalars(
            select(OutboxRow).where(OutboxRow.listing_id == listing_id).order_by(OutboxRow.id)
        )
        return list(rows)

    # ---- failover ------------------------------------------------------------------------

    @staticmethod
    def _same_alert(user_id: int, listing_id: int) -> ColumnElement[bool]:
        return and_(
            OutboxRow.user_id == user_id,
            OutboxRow.listing_id == listing_id,
            OutboxRow.kind.in_(ALERT_KINDS),
        )

    async def fail_in_chain(
        self, row: OutboxRow, attempts: int, reason: str
    ) -> list[tuple[str, str]]:
        """Mark ``row`` failed and return (channel, status) of every row of the same alert (the
        user's rows for the listing, on any channel), read so that two channels of one alert
        failing at once see each other's failure: PostgreSQL locks the rows first (in id
        order, so two such transactions cannot deadlock); SQLite's write lock, taken by the
        UPDATE, serialises the readers that follow it."""
        postgres = self.session.get_bind().dialect.name == "postgresql"
        if postgres and row.listing_id is not None:
            await self.session.execute(
                select(OutboxRow.id)
                .where(self._same_alert(row.user_id, row.listing_id))
                .order_by(OutboxRow.id)
                .with_for_update()
            )
        await self.mark_failed(row.id, attempts, reason)
        if row.listing_id is None:
            return [(row.channel, OutboxStatus.failed)]
        found = await self.session.execute(
            select(OutboxRow.channel, OutboxRow.status).where(
                self._same_alert(row.user_id, row.listing_id)
            )
        )
        return [(str(c), str(s)) for c, s in found.all()]

    async def chain(self, row: OutboxRow, limit: int = 10) -> list[OutboxRow]:
        """The rows ``row`` is a fallback for, nearest first (the original alert last)."""
        found: list[OutboxRow] = []
        at = row.fallback_of
        while at is not None and len(found) < limit:
            earlier = await self.get(at)
            if earlier is None:
                break
            found.append(earlier)
            at = earlier.fallback_of
        return found

    async def release_held(self, channel: str, reason: str, now: datetime) -> int:
        """Make rows held with ``reason`` (a circuit that was open) due now."""
        result = await self.session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.channel == channel,
                OutboxRow.status == OutboxStatus.pending,
                OutboxRow.reason == reason,
                OutboxRow.next_attempt_at > now,
            )
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # ---- reports -------------------------------------------------------------------------

    async def failures_by_channel(
        self, guild_id: int, since: datetime
    ) -> list[tuple[str, str, int]]:
        """(channel, reason, count) of the server's rows that failed since ``since``, most
        frequent first."""
        count = func.count().label("n")
        rows = await self.session.execute(
            select(OutboxRow.channel, OutboxRow.reason, count)
            .where(
                OutboxRow.guild_id == guild_id,
                OutboxRow.status == OutboxStatus.failed,
                OutboxRow.updated_at >= since,
            )
            .group_by(OutboxRow.channel, OutboxRow.reason)
            .order_by(count.desc(), OutboxRow.channel)
        )
        return [(str(c), r or "unknown", int(n)) for c, r, n in rows.all()]

    async def recent_failures(self, guild_id: int, limit: int = 10) -> list[FailedDelivery]:
        rows = await self.session.execute(
            select(OutboxRow.updated_at, OutboxRow.channel, OutboxRow.reason)
            .where(OutboxRow.guild_id == guild_id, OutboxRow.status == OutboxStatus.failed)
            .order_by(OutboxRow.updated_at.desc(), OutboxRow.id.desc())
            .limit(limit)
        )
        return [FailedDelivery(at, str(c), r or "unknown") for at, c, r in rows.all()]

    async def history(self, user_id: int, limit: int = 10) -> list[AlertHistoryEntry]:
        """The user's most recent alert rows (every channel an alert tried), newest first."""
        rows = await self.session.execute(
            select(
                ListingRow.title,
                OutboxRow.created_at,
                OutboxRow.channel,
                OutboxRow.status,
                OutboxRow.reason,
                OutboxRow.next_attempt_at,
            )
            .select_from(OutboxRow)
            .outerjoin(ListingRow, ListingRow.id == OutboxRow.listing_id)
            .where(OutboxRow.user_id == user_id, OutboxRow.kind.in_(ALERT_KINDS))
            .order_by(OutboxRow.created_at.desc(), OutboxRow.id.desc())
            .limit(limit)
        )
        return [
            AlertHistoryEntry(title, created, str(channel), str(status), reason, due)
            for title, created, channel, status, reason, due in rows.all()
        ]
