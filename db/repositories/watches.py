"""Price watches (``/watch``), and the listing queries the watchlist and ``/listing`` need:
which listings a user may see and watch, and which a seller may change."""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.models import ListingRow, WatchRow
from db.repositories.listings import SNAPSHOT_SOURCES

from . import LIKE_ESCAPE, contains_pattern

"""Listings rows that are alert snapshots (a Discogs offer, a price-drop alert), never a listing
anyone can watch or edit."""


class WatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    # ---- watches -----------------------------------------------------------------------------

    async def add(self, row: WatchRow) -> WatchRow | None:
        """Insert a watch; None when the user already watches that listing (one per listing)."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return None
        return row

    async def get_own(self, user_id: int, watch_id: int) -> WatchRow | None:
        row = await self.session.get(WatchRow, watch_id)
        return row if row is not None and row.user_id == user_id else None

    async def find(self, user_id: int, listing_id: int) -> WatchRow | None:
        return await self.session.scalar(
            select(WatchRow).where(WatchRow.user_id == user_id, WatchRow.listing_id == listing_id)
        )

    async def for_user(self, user_id: int) -> list[tuple[WatchRow, ListingRow | None]]:
        """The user's watches with their listings: running ones first, newest first."""
        rows = await self.session.execute(
            select(WatchRow, ListingRow)
            .outerjoin(ListingRow, ListingRow.id == WatchRow.listing_id)
            .where(WatchRow.user_id == user_id)
            .order_by(WatchRow.ended.is_not(None), WatchRow.created_at.desc(), WatchRow.id.desc())
        )
        return [(w, li) for w, li in rows]

    async def search_own(
        self, user_id: int, text: str, limit: int = 25
    ) -> list[tuple[WatchRow, ListingRow]]:
        """The user's watches whose listing title contains ``text`` (autocomplete)."""
        stmt = (
            select(WatchRow, ListingRow)
            .join(ListingRow, ListingRow.id == WatchRow.listing_id)
            .where(WatchRow.user_id == user_id)
        )
        if text.strip():
            pattern = contains_pattern(text.strip().lower())
            stmt = stmt.where(func.lower(ListingRow.title).like(pattern, escape=LIKE_ESCAPE))
        stmt = stmt.order_by(
            WatchRow.ended.is_not(None), WatchRow.created_at.desc(), WatchRow.id.desc()
        )
        return [(w, li) for w, li in await self.session.execute(stmt.limit(limit))]

    async def count_running(self, user_id: int) -> int:
        found = await self.session.scalar(
            select(func.count())
            .select_from(WatchRow)
            .where(WatchRow.user_id == user_id, WatchRow.ended.is_(None))
        )
        return int(found or 0)

    async def running_for_listing(self, listing_id: int) -> list[WatchRow]:
        """Every running watch of a listing, in id order; locked on PostgreSQL, so two changes of
        one listing at once update each watch one after the other (never both from one state)."""
        stmt = (
            select(WatchRow)
            .where(WatchRow.listing_id == listing_id, WatchRow.ended.is_(None))
            .order_by(WatchRow.id)
        )
        if self._postgres:
            stmt = stmt.with_for_update()
        return list(await self.session.scalars(stmt))

    async def delete(self, row: WatchRow) -> None:
        await self.session.execute(delete(WatchRow).where(WatchRow.id == row.id))

    # ---- listings a user may see -------------------------------------------------------------

    @staticmethod
    def _visible(user_id: int, guild_id: int | None) -> ColumnElement[bool]:
        """A listing this user can see: any listing of the marketplace. It is one marketplace
        for every server — a listing sold in one server alerts buyers anywhere, and /deals
        recommends it anywhere — so a watch may follow it too. Alert snapshots (a Discogs offer,
        a price drop) are one user's and never visible here. ``user_id`` and ``guild_id`` stay
        in the signature for the day listings get a visibility of their own."""
        del user_id, guild_id
        return ListingRow.source.not_in(SNAPSHOT_SOURCES)

    async def visible_listing(
        self, user_id: int, guild_id: int | None, listing_id: int
    ) -> ListingRow | None:
        return await self.session.scalar(
            select(ListingRow).where(ListingRow.id == listing_id, self._visible(user_id, guild_id))
        )

    async def search_visible(
        self,
        user_id: int,
        guild_id: int | None,
        text: str,
        *,
        active_only: bool = True,
        include_own: bool = False,
        limit: int = 25,
    ) -> list[ListingRow]:
        """Recent listings this user can see whose title contains ``text``, newest first; their
        own only with ``include_own`` (nobody watches their own)."""
        stmt = select(ListingRow).where(self._visible(user_id, guild_id))
        if not include_own:
            stmt = stmt.where(or_(ListingRow.seller_id.is_(None), ListingRow.seller_id != user_id))
        if active_only:
            stmt = stmt.where(ListingRow.status == "active", ListingRow.price_cents.is_not(None))
        if text.strip():
            pattern = contains_pattern(text.strip().lower())
            stmt = stmt.where(func.lower(ListingRow.title).like(pattern, escape=LIKE_ESCAPE))
        stmt = stmt.order_by(ListingRow.created_at.desc(), ListingRow.id.desc()).limit(limit)
        return list(await self.session.scalars(stmt))

    # ---- a seller's own listings (/listing) ----------------------------------------------------

    async def seller_listing(self, seller_id: int, listing_id: int) -> ListingRow | None:
        row = await self.session.get(ListingRow, listing_id)
        if row is None or row.source != "community" or row.seller_id != seller_id:
            return None
        return row

    async def seller_listings(
        self, seller_id: int, text: str, *, active_only: bool = True, limit: int = 25
    ) -> list[ListingRow]:
        """The seller's own /sell listings whose title contains ``text``, newest first."""
        stmt = select(ListingRow).where(
            ListingRow.source == "community", ListingRow.seller_id == seller_id
        )
        if active_only:
            stmt = stmt.where(ListingRow.status == "active")
        if text.strip():
            pattern = contains_pattern(text.strip().lower())
            stmt = stmt.where(func.lower(ListingRow.title).like(pattern, escape=LIKE_ESCAPE))
        stmt = stmt.order_by(ListingRow.created_at.desc(), ListingRow.id.desc()).limit(limit)
        return list(await self.session.scalars(stmt))

    # ---- price-drop alert snapshots -------------------------------------------------------------

    async def snapshot_exists(self, key: str) -> bool:
        """Whether a price-drop alert with this key was stored (it fires once per key)."""
        found = await self.session.scalar(
            select(ListingRow.id).where(ListingRow.source == "watch", ListingRow.external_id == key)
        )
        return found is not None
