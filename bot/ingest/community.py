"""Listings from the community (/sell) and the one path every listing takes into the system:
validate, score, store, match, enqueue. Storing the listing and its outbox rows happens in one
transaction, so a crash can never leave a stored listing whose matches were lost."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.outbox import Wakeup
from bot.delivery.planner import plan_deliveries
from bot.domain.deal_score import keyword_set, score_listing, select_comparables
from bot.domain.listing import Condition, Listing, parse_money, to_cents
from bot.domain.matching import RuleIndex, matches
from bot.domain.rule import GeocodeFn
from bot.domain.text import normalise_category
from bot.errors import UserFacingError
from db.models import utcnow
from db.repositories.listings import ListingRepository, category_key
from db.repositories.listings import to_listing as to_listing_row
from db.repositories.outbox import OutboxRepository
from db.repositories.rules import RuleRepository

log = logging.getLogger(__name__)

MAX_TITLE = 200
MAX_DESCRIPTION = 4000
MIN_TITLE = 3
PUBLISH_GRACE = timedelta(seconds=10)
"""Alerts wait this long for the marketplace post (so they can link to it), then go anyway."""
SCORE_WINDOW_DAYS = 90
"""Comparables for the deal score: listings seen (sold or active) in the last 90 days."""
ENDED = ("sold", "removed")


@dataclass(frozen=True, slots=True)
class SellInput:
    title: str
    price: str
    condition: str | None = None
    category: str | None = None
    location: str | None = None
    description: str | None = None
    photo_url: str | None = None
    photo_content_type: str | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    listing: Listing
    matched_rules: int
    alerts_queued: int


@dataclass(frozen=True, slots=True)
class Revision:
    """A stored listing changed (a seller's /listing edit, an edited feed entry)."""

    before: Listing
    after: Listing

    @property
    def price_changed(self) -> bool:
        return (self.before.price, self.before.currency) != (self.after.price, self.after.currency)

    @property
    def ended(self) -> str | None:
        """ "sold" / "removed" when this change ended the listing."""
        status = self.after.status
        return status if status in ENDED and self.before.status != status else None


RevisionObserver = Callable[[AsyncSession, Revision, datetime], Awaitable[int]]
"""Told about every revision inside its transaction (the watchlist queues price-drop alerts
there, so they are as durable as the change); returns how many alerts it queued."""


class MarketplacePublisher(Protocol):
    async def publish(self, listing: Listing) -> tuple[int, int, str] | None: ...


class ListingService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        index: RuleIndex,
        geocode: GeocodeFn,
        wakeup: Wakeup,
        *,
        min_comparables: int = 5,
        publisher: MarketplacePublisher | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.index = index
        self.geocode = geocode
        self.wakeup = wakeup
        self.min_comparables = min_comparables
        self.publisher = publisher
        self.clock = clock
        self.observers: list[RevisionObserver] = []

    def validate_sell(
        self, data: SellInput, *, seller_id: int, seller_name: str, guild_id: int | None
    ) -> Listing:
        """Check every /sell field; the error names the field to fix."""
        title = " ".join((data.title or "").split())
        if len(title) < MIN_TITLE:
            raise UserFacingError(f"at least {MIN_TITLE} characters", field="title")
        if len(title) > MAX_TITLE:
            raise UserFacingError(f"at most {MAX_TITLE} characters", field="title")
        try:
            price = parse_money(data.price)
        except ValueError as exc:
            raise UserFacingError(str(exc), field="price") from None
        if price is None:
            raise UserFacingError("give a price, e.g. 299.99", field="price")
        try:
            condition = Condition.parse(data.condition)
        except ValueError:
            raise UserFacingError(
                "choose one of the listed conditions", field="condition"
            ) from None
        category = " ".join((data.category or "").split()) or None
        if category is not None and (len(category) > 100 or not normalise_category(category)):
            raise UserFacingError("not a category", field="category")
        location = (data.location or "").strip() or None
        point = None
        if location is not None:
            point = self.geocode(location)
            if point is None:
                raise UserFacingError(
                    f'{location[:40]!r} is not a known US ZIP code or "City, ST"',
                    field="location",
                )
        description = (data.description or "").strip()
        if len(description) > MAX_DESCRIPTION:
            raise UserFacingError(f"at most {MAX_DESCRIPTION} characters", field="description")
        if data.photo_url is not None and not (data.photo_content_type or "").startswith("image/"):
            raise UserFacingError("attach an image (PNG, JPEG, GIF or WebP)", field="photo")
        return Listing(
            id=0,
            title=title,
            price=price,
            description=description,
            category=category,
            condition=condition,
            location_text=location,
            point=point,
            seller_id=seller_id,
            seller_name=seller_name[:100],
            guild_id=guild_id,
            image_url=data.photo_url,
            source="community",
        )

    async def sell(
        self, data: SellInput, *, seller_id: int, seller_name: str, guild_id: int | None
    ) -> IngestResult:
        """/sell: store and match the listing, post it in the marketplace channel, then release
        its alerts (which link to that post)."""
        listing = self.validate_sell(
            data, seller_id=seller_id, seller_name=seller_name, guild_id=guild_id
        )
        publishing = self.publisher is not None and guild_id is not None
        result = await self.ingest(listing, hold=PUBLISH_GRACE if publishing else None)
        if publishing:
            result = replace(result, listing=await self._publish(result.listing))
            await self._release(result.listing.id)
        return result

    async def ingest(
        self,
        listing: Listing,
        *,
        hold: timedelta | None = None,
        external_id: str | None = None,
        match: bool = True,
    ) -> IngestResult:
        """Score, store and match a listing; queue its alerts in the same transaction.
        ``match=False`` stores without alerting (a new feed's backlog)."""
        async with self.sessions.begin() as session:
            listings = ListingRepository(session)
            scored = await self._scored(listings, listing)
            stored = await listings.add(scored, external_id=external_id)
            rule_ids = self.index.match(stored) if match else []
            rules = await RuleRepository(session).get_many(rule_ids)
            # The DB is the truth: re-check the stored rules, so an index that drifted from the
            # database (another process edited a rule) can never alert on stale terms.
            live = [r for r in rules if matches(r, stored)]
            now = self.clock()
            alerts = await plan_deliveries(session, stored, live, now)
            outbox = OutboxRepository(session)
            queued = await outbox.enqueue(alerts, now)
            if hold is not None and queued:
                await outbox.reschedule_listing(stored.id, now + hold, before=now)
        if queued and hold is None:
            self.wakeup.set()
        log.info("listing %s matched %s rules, %s alerts queued", stored.id, len(live), queued)
        return IngestResult(stored, len(live), queued)

    async def _scored(self, listings: ListingRepository, listing: Listing) -> Listing:
        """The listing with its deal score and the one line of why (or why there is none). A
        price the model flags as too far off (a $1 "RTX 4090") gets no score: it must not pass
        a rule's minimum deal score or top the recommendations."""
        now = self.clock()
        since = now - timedelta(days=SCORE_WINDOW_DAYS)
        candidates = await listings.comparables(
            listing.category, listing.currency, since, exclude_id=listing.id or None
        )
        similar = select_comparables(
            keyword_set(listing.title),
            category_key(listing.category),
            listing.currency,
            candidates,
            now=now,
            window_days=SCORE_WINDOW_DAYS,
        )
        result = score_listing(
            listing.price, [c.price for c in similar], min_comparables=self.min_comparables
        )
        if result.score is not None and result.score.flagged:
            return replace(listing, deal_score=None, deal_reason=f"suspicious: {result.reason}")
        return replace(listing, deal_score=result.value, deal_reason=result.reason)

    async def revise(
        self,
        listing_id: int,
        *,
        price: Decimal | None = None,
        status: str | None = None,
        title: str | None = None,
        description: str | None = None,
        seller_id: int | None = None,
    ) -> Revision:
        """Change a stored listing without matching it again (an edit never re-alerts): the new
        price goes into the price history, and observers (the watchlist) see the change in the
        same transaction. ``seller_id`` given: only that seller's listing may change."""
        async with self.sessions.begin() as session:
            listings = ListingRepository(session)
            row = await listings.get_row(listing_id)
            if row is None or (seller_id is not None and row.seller_id != seller_id):
                raise UserFacingError("no such listing of yours", field="listing")
            before = to_listing_row(row)
            await listings.revise(
                row, price=price, status=status, title=title, description=description
            )
            if row.price_cents != (None if before.price is None else to_cents(before.price)):
                rescored = await self._scored(listings, to_listing_row(row))
                row.deal_score, row.deal_reason = rescored.deal_score, rescored.deal_reason
            revision = Revision(before, to_listing_row(row))
            now = self.clock()
            queued = 0
            for observe in self.observers:
                queued += await observe(session, revision, now)
        if queued:
            self.wakeup.set()
        return revision

    async def _publish(self, listing: Listing) -> Listing:
        assert self.publisher is not None
        try:
            posted = await self.publisher.publish(listing)
        except Exception:
            log.exception("could not post listing %s in the marketplace channel", listing.id)
            return listing
        if posted is None:
            return listing
        channel_id, message_id, url = posted
        async with self.sessions.begin() as session:
            await ListingRepository(session).set_post(listing.id, channel_id, message_id, url)
        return replace(listing, url=url)

    async def _release(self, listing_id: int) -> None:
        now = self.clock()
        async with self.sessions.begin() as session:
            await OutboxRepository(session).reschedule_listing(
                listing_id, now, before=now + PUBLISH_GRACE
            )
        self.wakeup.set()

    async def categories(self, current: str) -> list[str]:
        async with self.sessions() as session:
            return await ListingRepository(session).known_categories(current)
