"""Wanted-list entries, the shared Discogs poll targets, and the wanted alerts that fired."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.discogs import Grade, Money, WantedCriteria
from bot.domain.listing import from_cents
from db.models import AlertNotificationRow, DiscogsTargetRow, WantedRow, utcnow

from . import contains_pattern


def to_criteria(row: WantedRow) -> WantedCriteria:
    """The domain criteria of a stored entry (stored values were validated on the way in)."""
    return WantedCriteria(
        max_price=None
        if row.max_price_cents is None
        else Money(from_cents(row.max_price_cents), row.currency),
        min_media=None if row.min_media is None else Grade(row.min_media),
        min_sleeve=None if row.min_sleeve is None else Grade(row.min_sleeve),
        ships_from=frozenset(row.ships_from or ()),
        min_seller_rating=row.min_seller_rating,
        underpriced_percent=row.underpriced_percent,
    )


class WantedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ---- entries ----------------------------------------------------------------------------

    async def add(self, row: WantedRow) -> WantedRow | None:
        """Insert an entry; None when the user already wants that release (one per user)."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return None
        return row

    async def get(self, wanted_id: int) -> WantedRow | None:
        return await self.session.get(WantedRow, wanted_id)

    async def get_own(self, user_id: int, wanted_id: int) -> WantedRow | None:
        row = await self.session.get(WantedRow, wanted_id)
        return row if row is not None and row.user_id == user_id else None

    async def find(self, user_id: int, kind: str, target_id: int) -> WantedRow | None:
        return await self.session.scalar(
            select(WantedRow).where(
                WantedRow.user_id == user_id,
                WantedRow.target_kind == kind,
                WantedRow.target_id == target_id,
            )
        )

    async def for_user(self, user_id: int) -> list[WantedRow]:
        rows = await self.session.scalars(
            select(WantedRow).where(WantedRow.user_id == user_id).order_by(WantedRow.id)
        )
        return list(rows)

    async def targets_of_user(self, user_id: int) -> list[tuple[str, int, str]]:
        rows = await self.session.execute(
            select(WantedRow.target_kind, WantedRow.target_id, WantedRow.currency)
            .where(WantedRow.user_id == user_id, WantedRow.active.is_(True))
            .distinct()
        )
        return [(k, i, c) for k, i, c in rows]

    async def search(self, user_id: int, text: str, limit: int = 25) -> list[WantedRow]:
        """The user's entries whose title or artists contain ``text`` (autocomplete)."""
        pattern = contains_pattern(text.strip())
        rows = await self.session.scalars(
            select(WantedRow)
            .where(
                WantedRow.user_id == user_id,
                (WantedRow.title.ilike(pattern, escape="\\"))
                | (WantedRow.artists.ilike(pattern, escape="\\")),
            )
            .order_by(WantedRow.id)
            .limit(limit)
        )
        return list(rows)

    async def count_for_user(self, user_id: int) -> int:
        total = await self.session.scalar(
            select(func.count()).select_from(WantedRow).where(WantedRow.user_id == user_id)
        )
        return int(total or 0)

    async def active_for_target(self, kind: str, target_id: int, currency: str) -> list[WantedRow]:
        rows = await self.session.scalars(
            select(WantedRow)
            .where(
                WantedRow.target_kind == kind,
                WantedRow.target_id == target_id,
                WantedRow.currency == currency,
                WantedRow.active.is_(True),
            )
            .order_by(WantedRow.id)
        )
        return list(rows)

    async def delete(self, user_id: int, wanted_id: int) -> bool:
        result = await self.session.execute(
            delete(WantedRow).where(WantedRow.id == wanted_id, WantedRow.user_id == user_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def record_seen(
        self,
        wanted_id: int,
        *,
        status: str,
        lowest_cents: int | None,
        num_for_sale: int | None,
        at: datetime,
    ) -> None:
        await self.session.execute(
            update(WantedRow)
            .where(WantedRow.id == wanted_id)
            .values(
                status=status, lowest_cents=lowest_cents, num_for_sale=num_for_sale, checked_at=at
            )
        )

    # ---- poll targets ----------------------------------------------------------------------

    async def ensure_target(
        self, kind: str, target_id: int, currency: str, *, due: datetime | None = None
    ) -> DiscogsTargetRow:
        """The shared poll target for (kind, id, currency), created due now if new; an
        existing target is moved earlier (never later) when ``due`` is given."""
        row = await self.target(kind, target_id, currency)
        if row is None:
            try:
                async with self.session.begin_nested():
                    row = DiscogsTargetRow(
                        kind=kind,
                        target_id=target_id,
                        currency=currency,
                        next_check_at=due or utcnow(),
                        recent_lowest=[],
                    )
                    self.session.add(row)
                    await self.session.flush()
                return row
            except IntegrityError:
                row = await self.target(kind, target_id, currency)
                assert row is not None
        if due is not None and row.next_check_at > due:
            row.next_check_at = due
        return row

    async def target(self, kind: str, target_id: int, currency: str) -> DiscogsTargetRow | None:
        return await self.session.scalar(
            select(DiscogsTargetRow).where(
                DiscogsTargetRow.kind == kind,
                DiscogsTargetRow.target_id == target_id,
                DiscogsTargetRow.currency == currency,
            )
        )

    async def due_targets(
        self, now: datetime, limit: int, *, lock: bool = False
    ) -> list[DiscogsTargetRow]:
        """Targets due now that someone still actively wants, most overdue first."""
        wanted = (
            select(WantedRow.id)
            .where(
                WantedRow.target_kind == DiscogsTargetRow.kind,
                WantedRow.target_id == DiscogsTargetRow.target_id,
                WantedRow.currency == DiscogsTargetRow.currency,
                WantedRow.active.is_(True),
            )
            .exists()
        )
        query = (
            select(DiscogsTargetRow)
            .where(DiscogsTargetRow.next_check_at <= now, wanted)
            .order_by(DiscogsTargetRow.next_check_at, DiscogsTargetRow.id)
            .limit(limit)
        )
        if lock:
            query = query.with_for_update(skip_locked=True, of=DiscogsTargetRow)
        return list(await self.session.scalars(query))

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[tuple[str, int, str]]:
        """Lease up to ``limit`` due targets and return their keys. The UPDATE re-checks that
        each is still due (``RETURNING`` what it changed), so of two processes claiming at
        once each target goes to one; PostgreSQL also skips rows another claim has locked."""
        candidates = await self.due_targets(now, limit, lock=True)
        if not candidates:
            return []
        claimed = await self.session.execute(
            update(DiscogsTargetRow)
            .where(
                DiscogsTargetRow.id.in_([c.id for c in candidates]),
                DiscogsTargetRow.next_check_at <= now,
            )
            .values(next_check_at=lease_until)
            .returning(DiscogsTargetRow.kind, DiscogsTargetRow.target_id, DiscogsTargetRow.currency)
            .execution_options(synchronize_session=False)
        )
        return [(k, i, c) for k, i, c in claimed]

    async def not_checked_since(
        self, targets: Sequence[tuple[str, int, str]], since: datetime
    ) -> list[tuple[str, int, str]]:
        """Those of ``targets`` not polled since ``since`` (never-polled ones included)."""
        fresh = set()
        for kind, target_id, currency in targets:
            row = await self.target(kind, target_id, currency)
            if row is not None and row.checked_at is not None and row.checked_at >= since:
                fresh.add((kind, target_id, currency))
        return [t for t in targets if t not in fresh]

    async def due_count(self, now: datetime) -> int:
        """Targets already due (the queue a /wanted check joins)."""
        total = await self.session.scalar(
            select(func.count())
            .select_from(DiscogsTargetRow)
            .where(DiscogsTargetRow.next_check_at <= now)
        )
        return int(total or 0)

    async def next_checks(self, limit: int = 5) -> list[DiscogsTargetRow]:
        rows = await self.session.scalars(
            select(DiscogsTargetRow).order_by(DiscogsTargetRow.next_check_at).limit(limit)
        )
        return list(rows)

    async def watched_counts(self) -> tuple[int, int, int]:
        """(active entries, distinct targets they name, users with entries)."""
        entries = await self.session.scalar(
            select(func.count()).select_from(WantedRow).where(WantedRow.active.is_(True))
        )
        targets = await self.session.scalar(
            select(func.count()).select_from(
                select(WantedRow.target_kind, WantedRow.target_id, WantedRow.currency)
                .where(WantedRow.active.is_(True))
                .distinct()
                .subquery()
            )
        )
        users = await self.session.scalar(select(func.count(func.distinct(WantedRow.user_id))))
        return int(entries or 0), int(targets or 0), int(users or 0)

    async def move_due(self, targets: Sequence[tuple[str, int, str]], at: datetime) -> None:
        """Make these targets due at ``at`` (earlier only), creating any that are missing."""
        for kind, target_id, currency in targets:
            await self.ensure_target(kind, target_id, currency, due=at)

    async def drop_unwanted_targets(self) -> int:
        """Forget targets no entry names any more (keeps the table the size of the list)."""
        wanted = (
            select(WantedRow.id)
            .where(
                and_(
                    WantedRow.target_kind == DiscogsTargetRow.kind,
                    WantedRow.target_id == DiscogsTargetRow.target_id,
                    WantedRow.currency == DiscogsTargetRow.currency,
                )
            )
            .exists()
        )
        result = await self.session.execute(delete(DiscogsTargetRow).where(~wanted))
        return int(getattr(result, "rowcount", 0) or 0)

    # ---- alerts that fired -------------------------------------------------------------------

    async def add_notification(self, row: AlertNotificationRow) -> AlertNotificationRow | None:
        """Record a fired alert; None when its dedupe key already fired (never alert twice)."""
        exists = await self.session.scalar(
            select(AlertNotificationRow.id).where(AlertNotificationRow.dedupe_key == row.dedupe_key)
        )
        if exists is not None:
            return None
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return None
        return row

    async def history(
        self, user_id: int, wanted_id: int, limit: int = 10
    ) -> list[AlertNotificationRow]:
        rows = await self.session.scalars(
            select(AlertNotificationRow)
            .where(
                AlertNotificationRow.user_id == user_id,
                AlertNotificationRow.wanted_id == wanted_id,
            )
            .order_by(AlertNotificationRow.id.desc())
            .limit(limit)
        )
        return list(rows)
