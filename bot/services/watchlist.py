"""The watchlist: price-drop alerts and price history for listings users watch (``/watch``, the
"Watch price" button), and the seller's side that feeds it (``/listing edit|sold|remove``).

A watch follows :mod:`bot.domain.watch` (the pure state machine): it alerts once per drop that
meets the user's target price or drop percentage, again only at a new low, and ends when the
listing is sold or removed, telling the user once. :meth:`WatchService.on_revision` is a
``ListingService`` observer: it runs inside the transaction that changes the listing, so the
price-drop alerts are queued (through the policy and the outbox, like deal alerts) exactly when
the change is stored, and a crash can lose neither.

Who may watch what: a listing that is still for sale, has a price, is not the user's own, and
that the user can see — from no particular server, from the server the command runs in, or one
they were alerted about (a seller sees the history of their own). Any other listing is
indistinguishable from one that does not exist.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.watch_alerts import DROPS, ENDINGS, record_watch_alert, to_watch, write_watch
from bot.domain.listing import from_cents, parse_money, to_cents
from bot.domain.watch import on_price, on_status, start_watch
from bot.errors import NotFoundError, UserFacingError
from bot.ingest.community import ListingService, Revision
from db.models import MAX_ID, ListingRow, WatchRow, utcnow
from db.repositories.listings import ListingRepository
from db.repositories.watches import WatchRepository

log = logging.getLogger(__name__)

MAX_WATCHES = 100
"""Running watches per user."""
DEFAULT_DROP_PERCENT = 10.0
"""What a watch waits for when given neither a target nor a percentage (and the button's)."""
MIN_DROP_PERCENT = 1.0
MAX_DROP_PERCENT = 99.0
CHOICES = 25
NOT_VISIBLE = "no such listing; pick one from the list or give its number"
NOT_YOURS = "no such listing of yours; pick one from the list"


@dataclass(frozen=True, slots=True)
class ListingRef:
    """A listing as pickers, lists and replies show it (never the row: it leaves the session)."""

    id: int
    title: str
    price: Decimal | None
    currency: str
    status: str
    url: str | None


@dataclass(frozen=True, slots=True)
class WatchView:
    """One of a user's watches, for ``/watch list`` and the replies."""

    id: int
    listing: ListingRef
    target_price: Decimal | None
    drop_percent: float | None
    drop_price: Decimal | None  # the price at or below which the percentage is met
    start_price: Decimal
    lowest: Decimal
    ended: str | None  # why it ended ("the listing was sold"), None while it runs
    alerts: int
    created_at: datetime

    @property
    def active(self) -> bool:
        return self.ended is None


@dataclass(frozen=True, slots=True)
class Added:
    watch: WatchView
    created: bool  # False: the user already watched it (the button says so, not an error)
    already_met: bool  # the price already meets the condition: every new low will alert


@dataclass(frozen=True, slots=True)
class PriceHistoryView:
    """A listing's prices over time, for ``/watch history`` and its chart."""

    listing: ListingRef
    points: list[tuple[datetime, Decimal | None]]
    watch: WatchView | None
    now: datetime


@dataclass(frozen=True, slots=True)
class ListingChange:
    """What ``/listing edit|sold|remove`` did."""

    listing: ListingRef  # after the change
    old_price: Decimal | None


def listing_ref(row: ListingRow) -> ListingRef:
    return ListingRef(
        id=row.id,
        title=row.title,
        price=None if row.price_cents is None else from_cents(row.price_cents),
        currency=row.currency,
        status=row.status,
        url=row.url,
    )


def watch_view(row: WatchRow, listing: ListingRow | None) -> WatchView:
    watch = to_watch(row)
    ref = (
        listing_ref(listing)
        if listing is not None
        else ListingRef(row.listing_id, "", None, "USD", "removed", None)
    )
    return WatchView(
        id=row.id,
        listing=ref,
        target_price=watch.target_price,
        drop_percent=watch.drop_percent,
        drop_price=watch.drop_price,
        start_price=watch.price_at_start,
        lowest=watch.lowest_seen,
        ended=row.ended,
        alerts=row.alerts,
        created_at=row.created_at,
    )


def parse_target(text: str | None) -> Decimal | None:
    if text is None or not text.strip():
        return None
    try:
        target = parse_money(text)
    except ValueError as exc:
        raise UserFacingError(str(exc), field="target_price") from None
    if target is None or target <= 0:
        raise UserFacingError("give a price above 0, e.g. 80 or $79.99", field="target_price")
    return target


def check_percent(value: float | None) -> float | None:
    if value is None:
        return None
    if not (math.isfinite(value) and MIN_DROP_PERCENT <= value <= MAX_DROP_PERCENT):
        raise UserFacingError(
            f"give a percentage from {MIN_DROP_PERCENT:g} to {MAX_DROP_PERCENT:g}",
            field="drop_percent",
        )
    return float(value)


def check_watchable(row: ListingRow) -> None:
    """Only a listing still for sale, with a price, can be watched (the watch needs a start)."""
    if row.status != "active":
        raise UserFacingError(
            f"that listing was {row.status}; only listings for sale can be watched",
            field="listing",
        )
    if row.price_cents is None:
        raise UserFacingError("that listing has no price to watch", field="listing")


def listing_id_of(text: str) -> int | None:
    """The id in "12" or "#12" (what the autocompletes put in the option), else None."""
    ref = text.strip().lstrip("#").strip()
    if ref.isdigit() and 0 < len(ref) <= 19 and 0 < int(ref) <= MAX_ID:
        return int(ref)
    return None


def _titled(rows: list[ListingRow], text: str) -> ListingRow | None:
    """The one listing among ``rows`` whose title is exactly ``text`` (case aside)."""
    key = " ".join(text.split()).casefold()
    found = [r for r in rows if " ".join(r.title.split()).casefold() == key]
    return found[0] if len(found) == 1 else None


class WatchService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        listings: ListingService,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.listings = listings
        self.clock = clock
        listings.observers.append(self.on_revision)

    # ---- finding listings ----------------------------------------------------------------------

    async def _visible(
        self, session: AsyncSession, user_id: int, guild_id: int | None, listing: str | int
    ) -> ListingRow:
        """A listing the user can see, by id or exact title; else "no such listing"."""
        repo = WatchRepository(session)
        text = str(listing)
        listing_id = listing if isinstance(listing, int) else listing_id_of(text)
        row = None
        if listing_id is not None and 0 < listing_id <= MAX_ID:
            row = await repo.visible_listing(user_id, guild_id, listing_id)
        if row is None and not isinstance(listing, int) and text.strip():
            found = await repo.search_visible(
                user_id, guild_id, text, active_only=False, include_own=True, limit=50
            )
            row = _titled(found, text)
        if row is None:
            raise NotFoundError(NOT_VISIBLE, field="listing")
        return row

    async def _own_watch(
        self, session: AsyncSession, user_id: int, listing: str
    ) -> tuple[WatchRow, ListingRow | None]:
        """One of the user's watches, by its listing's id (what the autocomplete gives) or the
        listing's exact title. Another user's watch is indistinguishable from none."""
        repo = WatchRepository(session)
        listing_id = listing_id_of(listing)
        if listing_id is not None:
            row = await repo.find(user_id, listing_id)
            if row is not None:
                return row, await session.get(ListingRow, row.listing_id)
        key = " ".join(listing.split()).casefold()
        found = [
            (w, li)
            for w, li in await repo.search_own(user_id, listing, 50)
            if " ".join(li.title.split()).casefold() == key
        ]
        if len(found) != 1:
            raise NotFoundError("you are not watching that listing", field="listing")
        return found[0]

    # ---- /watch add and the "Watch price" button -----------------------------------------------

    async def add(
        self,
        user_id: int,
        listing: str | int,
        target_price: str | None = None,
        drop_percent: float | None = None,
        *,
        guild_id: int | None,
        from_button: bool = False,
    ) -> Added:
        """Start watching a listing; raises :class:`UserFacingError` naming the bad option.
        Neither a target nor a percentage: wait for a 10% drop."""
        target = parse_target(target_price)
        percent = check_percent(drop_percent)
        if target is None and percent is None:
            percent = DEFAULT_DROP_PERCENT
        now = self.clock()
        async with self.sessions.begin() as session:
            row = await self._visible(session, user_id, guild_id, listing)
            if row.seller_id is not None and row.seller_id == user_id:
                raise UserFacingError(
                    "that is your own listing; /listing edit changes its price", field="listing"
                )
            repo = WatchRepository(session)
            existing = await repo.find(user_id, row.id)
            if existing is None:
                check_watchable(row)
                if await repo.count_running(user_id) >= MAX_WATCHES:
                    raise UserFacingError(
                        f"you already watch {MAX_WATCHES} listings; /watch remove one first",
                        field="listing",
                    )
                assert row.price_cents is not None
                watch = start_watch(from_cents(row.price_cents), target, percent)
                saved = await repo.add(
                    WatchRow(
                        user_id=user_id,
                        listing_id=row.id,
                        # Where the user asked (a DM: nowhere public). Never the listing's
                        # server: its alert channel may be one the user is not in.
                        guild_id=guild_id,
                        target_cents=None if target is None else to_cents(target),
                        drop_percent=percent,
                        start_cents=row.price_cents,
                        lowest_cents=row.price_cents,
                        armed=watch.armed,
                        ended=None,
                        alerts=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
                if saved is not None:
                    log.info("user %s watches listing %s", user_id, row.id)
                    return Added(watch_view(saved, row), True, not watch.armed)
                existing = await repo.find(user_id, row.id)  # another click got there first
                assert existing is not None
            if not from_button:
                raise UserFacingError(
                    "you already watch that listing; /watch remove it first to change it",
                    field="listing",
                )
            return Added(watch_view(existing, row), False, False)

    # ---- reading ---------------------------------------------------------------------------------

    async def watches(self, user_id: int) -> list[WatchView]:
        async with self.sessions() as session:
            return [watch_view(w, li) for w, li in await WatchRepository(session).for_user(user_id)]

    async def watch_choices(self, user_id: int, current: str) -> list[tuple[WatchView, bool]]:
        """The user's watches whose listing title contains ``current`` (with whether each runs)."""
        async with self.sessions() as session:
            found = await WatchRepository(session).search_own(user_id, current[:100], CHOICES)
        return [(watch_view(w, li), w.ended is None) for w, li in found]

    async def listing_choices(
        self, user_id: int, guild_id: int | None, current: str
    ) -> list[ListingRef]:
        """Recent listings for sale this user can see and watch, by title."""
        async with self.sessions() as session:
            rows = await WatchRepository(session).search_visible(
                user_id, guild_id, current[:100], limit=CHOICES
            )
        return [listing_ref(r) for r in rows]

    async def history_choices(
        self, user_id: int, guild_id: int | None, current: str
    ) -> list[ListingRef]:
        """The user's watched listings first, then other listings they can see."""
        async with self.sessions() as session:
            repo = WatchRepository(session)
            watched = [li for _, li in await repo.search_own(user_id, current[:100], CHOICES)]
            others = await repo.search_visible(
                user_id, guild_id, current[:100], active_only=False, include_own=True, limit=CHOICES
            )
        seen: dict[int, ListingRef] = {}
        for row in (*watched, *others):
            seen.setdefault(row.id, listing_ref(row))
        return list(seen.values())[:CHOICES]

    async def history(
        self, user_id: int, listing: str, *, guild_id: int | None
    ) -> PriceHistoryView:
        """Every price a listing the user can see has had, oldest first, with their watch."""
        async with self.sessions() as session:
            row = await self._visible(session, user_id, guild_id, listing)
            watch = await WatchRepository(session).find(user_id, row.id)
            points = await ListingRepository(session).price_history(row.id)
            return PriceHistoryView(
                listing=listing_ref(row),
                points=[(at, None if c is None else from_cents(c)) for at, c, _ in points],
                watch=None if watch is None else watch_view(watch, row),
                now=self.clock(),
            )

    # ---- removing --------------------------------------------------------------------------------

    async def remove(self, user_id: int, listing: str) -> WatchView:
        async with self.sessions.begin() as session:
            row, found = await self._own_watch(session, user_id, listing)
            view = watch_view(row, found)
            await WatchRepository(session).delete(row)
        return view

    async def remove_by_id(self, user_id: int, watch_id: int) -> WatchView:
        """The "Stop watching" button: only the owner's click finds the watch."""
        if not 0 < watch_id <= MAX_ID:
            raise NotFoundError("that watch no longer exists")
        async with self.sessions.begin() as session:
            repo = WatchRepository(session)
            row = await repo.get_own(user_id, watch_id)
            if row is None:
                raise NotFoundError("that watch no longer exists")
            view = watch_view(row, await session.get(ListingRow, row.listing_id))
            await repo.delete(row)
        return view

    # ---- the listing changed ---------------------------------------------------------------------

    async def on_revision(self, session: AsyncSession, revision: Revision, now: datetime) -> int:
        """Apply a listing's change to every running watch of it, in the change's transaction:
        store each watch's new state, queue a price-drop alert for each drop that meets its
        condition at a new low, and end (and tell) each watch of a sold or removed listing.
        Returns how many outbox rows were queued."""
        before, after = revision.before, revision.after
        priced = revision.price_changed and before.currency == after.currency
        ended = revision.ended
        if not priced and ended is None:
            return 0
        queued = 0
        for row in await WatchRepository(session).running_for_listing(after.id):
            watch = to_watch(row)
            if priced:
                previous_low = watch.lowest_seen
                watch, event = on_price(watch, after.price)
                write_watch(row, watch)
                # A price cut that comes with the sale is not news; the ending is.
                if event in DROPS and ended is None:
                    alerts = await record_watch_alert(
                        session,
                        row,
                        after,
                        event,
                        old_price=before.price,
                        previous_low=previous_low,
                        now=now,
                    )
                    if alerts:
                        row.alerts += 1
                    queued += len(alerts or ())
            if ended is not None:
                watch, event = on_status(watch, ended)
                write_watch(row, watch)
                if event in ENDINGS:
                    alerts = await record_watch_alert(
                        session,
                        row,
                        after,
                        event,
                        old_price=before.price,
                        previous_low=watch.lowest_seen,
                        now=now,
                    )
                    queued += len(alerts or ())
            row.updated_at = now
        if queued:
            log.info("listing %s changed: %s watch alerts queued", after.id, queued)
        return queued

    # ---- the seller's side: /listing -------------------------------------------------------------

    async def own_listings(self, seller_id: int, current: str) -> list[ListingRef]:
        """The seller's /sell listings still for sale whose title contains ``current``."""
        async with self.sessions() as session:
            rows = await WatchRepository(session).seller_listings(
                seller_id, current[:100], limit=CHOICES
            )
        return [listing_ref(r) for r in rows]

    async def _own_listing(self, seller_id: int, listing: str) -> ListingRow:
        """The seller's own listing, still for sale; another user's is "no such listing"."""
        async with self.sessions() as session:
            repo = WatchRepository(session)
            listing_id = listing_id_of(listing)
            row = None
            if listing_id is not None:
                row = await repo.seller_listing(seller_id, listing_id)
            if row is None and listing.strip():
                found = await repo.seller_listings(seller_id, listing, active_only=False, limit=50)
                row = _titled(found, listing)
            if row is None:
                raise NotFoundError(NOT_YOURS, field="listing")
            if row.status != "active":
                raise UserFacingError(f"that listing was already {row.status}", field="listing")
            session.expunge(row)
            return row

    async def edit_price(self, seller_id: int, listing: str, price: str) -> ListingChange:
        """A new price for the seller's listing: stored in its price history, and its watchers
        hear about a drop that meets what they asked for."""
        try:
            amount = parse_money(price)
        except ValueError as exc:
            raise UserFacingError(str(exc), field="price") from None
        if amount is None:
            raise UserFacingError("give a price, e.g. 249.99", field="price")
        row = await self._own_listing(seller_id, listing)
        if row.price_cents is not None and to_cents(amount) == row.price_cents:
            raise UserFacingError(
                f"the listing already costs {amount:,.2f} {row.currency}", field="price"
            )
        return await self._revise(seller_id, row, price=amount)

    async def mark_sold(self, seller_id: int, listing: str) -> ListingChange:
        return await self._revise(seller_id, await self._own_listing(seller_id, listing), "sold")

    async def remove_listing(self, seller_id: int, listing: str) -> ListingChange:
        row = await self._own_listing(seller_id, listing)
        return await self._revise(seller_id, row, "removed")

    async def _revise(
        self,
        seller_id: int,
        row: ListingRow,
        status: str | None = None,
        *,
        price: Decimal | None = None,
    ) -> ListingChange:
        revision = await self.listings.revise(
            row.id, price=price, status=status, seller_id=seller_id
        )
        after = revision.after
        return ListingChange(
            listing=ListingRef(
                after.id, after.title, after.price, after.currency, after.status, after.url
            ),
            old_price=revision.before.price,
        )
