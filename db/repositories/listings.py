"""Listing storage and the queries the score and /alert test need."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.deal_score import Comparable, keyword_set
from bot.domain.listing import Condition, GeoPoint, Listing, from_cents, to_cents
from bot.domain.text import category_prefixes
from db.models import ListingRow, PriceHistory
from db.repositories import LIKE_ESCAPE, contains_pattern

SNAPSHOT_SOURCES = ("discogs", "watch")
"""Listings rows that are one user's alert snapshot (a Discogs offer, a price drop), not
something for sale to everyone: kept out of /alert test, recommendations and comparables."""


def category_key(category: str | None) -> str | None:
    """The top-level category key, used to find comparable listings quickly."""
    prefixes = category_prefixes(category or "")
    return prefixes[0] if prefixes else None


def to_listing(row: ListingRow) -> Listing:
    return Listing(
        id=row.id,
        title=row.title,
        price=None if row.price_cents is None else from_cents(row.price_cents),
        currency=row.currency,
        description=row.description or "",
        category=row.category,
        condition=None if row.condition is None else Condition(row.condition),
        location_text=row.location_text,
        point=None if row.lat is None or row.lon is None else GeoPoint(row.lat, row.lon),
        deal_score=row.deal_score,
        deal_reason=row.deal_reason,
        seller_id=row.seller_id,
        seller_name=row.seller_name,
        guild_id=row.guild_id,
        url=row.url,
        image_url=row.image_url,
        source=row.source,
        status=row.status,
        created_at=row.created_at,
        details=row.details,
    )


class ListingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, listing: Listing, *, external_id: str | None = None) -> Listing:
        """Store a new listing and its first price point; returns it with its id."""
        row = ListingRow(
            source=listing.source,
            external_id=external_id,
            guild_id=listing.guild_id,
            seller_id=listing.seller_id,
            seller_name=listing.seller_name,
            title=listing.title,
            description=listing.description,
            price_cents=None if listing.price is None else to_cents(listing.price),
            currency=listing.currency,
            category=listing.category,
            category_key=category_key(listing.category),
            condition=None if listing.condition is None else int(listing.condition),
            location_text=listing.location_text,
            lat=listing.point.lat if listing.point else None,
            lon=listing.point.lon if listing.point else None,
            deal_score=listing.deal_score,
            deal_reason=listing.deal_reason,
            image_url=listing.image_url,
            url=listing.url,
            created_at=listing.created_at,
            status=listing.status,
            details=dict(listing.details) if listing.details is not None else None,
        )
        self.session.add(row)
        await self.session.flush()
        self.session.add(
            PriceHistory(listing_id=row.id, price_cents=row.price_cents, currency=row.currency)
        )
        return to_listing(row)

    async def get(self, listing_id: int) -> Listing | None:
        row = await self.session.get(ListingRow, listing_id)
        return None if row is None else to_listing(row)

    async def get_row(self, listing_id: int) -> ListingRow | None:
        return await self.session.get(ListingRow, listing_id)

    async def revise(
        self,
        row: ListingRow,
        *,
        price: Decimal | None = None,
        status: str | None = None,
        title: str | None = None,
        description: str | None = None,
    ) -> bool:
        """Apply the given changes; a new price is added to the price history. Returns whether
        the price changed."""
        if title is not None:
            row.title = title
        if description is not None:
            row.description = description
        if status is not None:
            row.status = status
        changed = False
        if price is not None and to_cents(price) != row.price_cents:
            row.price_cents = to_cents(price)
            changed = True
            self.session.add(
                PriceHistory(listing_id=row.id, price_cents=row.price_cents, currency=row.currency)
            )
        await self.session.flush()
        return changed

    async def price_history(self, listing_id: int) -> list[tuple[datetime, int | None, str]]:
        """(when, price in cents, currency) of every price the listing had, oldest first."""
        rows = await self.session.execute(
            select(PriceHistory.recorded_at, PriceHistory.price_cents, PriceHistory.currency)
            .where(PriceHistory.listing_id == listing_id)
            .order_by(PriceHistory.recorded_at, PriceHistory.id)
        )
        return [(at, cents, currency) for at, cents, currency in rows]

    async def set_post(self, listing_id: int, channel_id: int, message_id: int, url: str) -> None:
        row = await self.session.get(ListingRow, listing_id)
        if row is not None:
            row.channel_id, row.message_id, row.url = channel_id, message_id, url

    async def comparables(
        self,
        category: str | None,
        currency: str,
        since: datetime,
        *,
        limit: int = 2000,
        exclude_id: int | None = None,
    ) -> list[Comparable]:
        """Listings of the same top-level category and currency seen since ``since``, sold or
        still active (the deal score model picks the similar ones among them)."""
        key = category_key(category)
        if key is None:
            return []
        rows = await self.session.execute(
            select(
                ListingRow.price_cents, ListingRow.title, ListingRow.created_at, ListingRow.status
            )
            .where(
                ListingRow.category_key == key,
                ListingRow.currency == currency,
                ListingRow.price_cents.is_not(None),
                ListingRow.status.in_(("active", "sold")),
                ListingRow.created_at >= since,
                ListingRow.id != (exclude_id or 0),
            )
            .order_by(ListingRow.created_at.desc())
            .limit(limit)
        )
        return [
            Comparable(
                price=from_cents(cents),
                currency=currency,
                category_key=key,
                tokens=keyword_set(title),
                seen_at=at,
                sold=status == "sold",
            )
            for cents, title, at, status in rows
            if cents is not None
        ]

    async def recent(self, limit: int = 200) -> list[Listing]:
        """The newest listings people can buy (not the snapshots wanted alerts store)."""
        rows = await self.session.scalars(
            select(ListingRow)
            .where(ListingRow.source.not_in(SNAPSHOT_SOURCES))
            .order_by(ListingRow.created_at.desc(), ListingRow.id.desc())
            .limit(limit)
        )
        return [to_listing(r) for r in rows]

    async def known_categories(self, prefix: str = "", limit: int = 25) -> list[str]:
        stmt = select(ListingRow.category).where(ListingRow.category.is_not(None)).distinct()
        if prefix:
            pattern = contains_pattern(prefix.lower())
            stmt = stmt.where(func.lower(ListingRow.category).like(pattern, escape=LIKE_ESCAPE))
        return [c for c in await self.session.scalars(stmt.limit(limit)) if c]

    async def count(self, guild_id: int | None = None, since: datetime | None = None) -> int:
        stmt = select(func.count()).select_from(ListingRow)
        if guild_id is not None:
            stmt = stmt.where(ListingRow.guild_id == guild_id)
        if since is not None:
            stmt = stmt.where(ListingRow.created_at >= since)
        return int(await self.session.scalar(stmt) or 0)

    async def get_many(self, ids: Sequence[int]) -> list[Listing]:
        if not ids:
            return []
        rows = await self.session.scalars(select(ListingRow).where(ListingRow.id.in_(list(ids))))
        return [to_listing(r) for r in rows]

    async def by_external_ids(self, source: str, external_ids: Sequence[str]) -> dict[str, Listing]:
        """The stored listings of ``source`` with these external ids, by external id (a feed
        poll asks which of its entries it has already stored)."""
        if not external_ids:
            return {}
        rows = await self.session.scalars(
            select(ListingRow).where(
                ListingRow.source == source, ListingRow.external_id.in_(list(external_ids))
            )
        )
        return {r.external_id: to_listing(r) for r in rows if r.external_id is not None}
