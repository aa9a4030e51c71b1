"""Listing feeds server admins added (``/admin feed``), and the poller's claims on them.

Every lookup an admin can trigger takes the guild id: a feed of another server is never found.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import FeedRow

from . import LIKE_ESCAPE, contains_pattern


class FeedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: FeedRow) -> FeedRow | None:
        """Insert a feed; None when this server already has that URL."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return None
        return row

    async def get(self, feed_id: int) -> FeedRow | None:
        return await self.session.get(FeedRow, feed_id)

    async def get_for_guild(self, guild_id: int, feed_id: int) -> FeedRow | None:
        row = await self.session.get(FeedRow, feed_id)
        return row if row is not None and row.guild_id == guild_id else None

    async def list_for_guild(self, guild_id: int) -> list[FeedRow]:
        rows = await self.session.scalars(
            select(FeedRow).where(FeedRow.guild_id == guild_id).order_by(FeedRow.id)
        )
        return list(rows)

    async def count_for_guild(self, guild_id: int) -> int:
        stmt = select(func.count()).select_from(FeedRow).where(FeedRow.guild_id == guild_id)
        return int(await self.session.scalar(stmt) or 0)

    async def search(self, guild_id: int, text: str, limit: int = 25) -> list[FeedRow]:
        """This server's feeds whose title or URL contains ``text`` (autocomplete)."""
        stmt = select(FeedRow).where(FeedRow.guild_id == guild_id)
        if text:
            pattern = contains_pattern(text.lower())
            stmt = stmt.where(
                or_(
                    func.lower(FeedRow.title).like(pattern, escape=LIKE_ESCAPE),
                    func.lower(FeedRow.url).like(pattern, escape=LIKE_ESCAPE),
                )
            )
        return list(await self.session.scalars(stmt.order_by(FeedRow.id).limit(limit)))

    async def delete(self, row: FeedRow) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def claim_due(self, *, now: datetime, limit: int, lease: timedelta) -> list[FeedRow]:
        """Claim up to ``limit`` unpaused feeds due now, most overdue first, by moving their
        ``next_fetch_at`` a lease ahead: another poller (process) skips them meanwhile, and a
        poller that dies mid-fetch leaves them to be claimed again when the lease runs out."""
        due = (FeedRow.paused.is_(False), FeedRow.next_fetch_at <= now)
        stmt = select(FeedRow.id).where(*due).order_by(FeedRow.next_fetch_at, FeedRow.id)
        stmt = stmt.limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(await self.session.scalars(stmt))
        if not ids:
            return []
        # RETURNING names exactly the feeds *this* claim took (another poller may have taken
        # some between the SELECT and the UPDATE on SQLite).
        claimed = list(
            await self.session.scalars(
                update(FeedRow)
                .where(FeedRow.id.in_(ids), *due)
                .values(next_fetch_at=now + lease)
                .returning(FeedRow.id)
                .execution_options(synchronize_session=False)
            )
        )
        if not claimed:
            return []
        rows = await self.session.scalars(
            select(FeedRow)
            .where(FeedRow.id.in_(claimed))
            .order_by(FeedRow.id)
            .execution_options(populate_existing=True)
        )
        return list(rows)
