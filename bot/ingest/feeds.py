"""Listing feeds added by server admins (RSS, Atom, JSON Feed): the service behind /admin feed
and the poller that turns their entries into listings.

The poller claims due feeds (``next_fetch_at``) with a lease, fetches each with its stored
ETag/Last-Modified (:class:`~bot.ingest.feed_fetch.FeedFetcher`) and hands every entry to the one
listing path, :meth:`ListingService.ingest` (score, store, match, outbox in one transaction):

* An entry is known by ``external_id`` ``"{feed id}:{entry key}"`` (long keys hashed to fit 200
  characters). A known entry whose title, text or price changed is updated with
  :meth:`ListingService.revise`: price history and watchers, never a second alert. An unchanged
  one is skipped.
* Swap titles ("[USA-CA] [H] RTX 3080 [W] PayPal") give the [H] side as the title and the location
  tag as the place (geocoded when it names a city); want-to-buy posts ([H] only money) are
  skipped: nothing is for sale. The price comes from ``extract_price``; an entry without one is
  stored with no price, which only rules without price bounds match.
* First fetch: a new feed's backlog must not flood anyone. Entries of a feed's first successful
  fetch are stored (scored, searchable, comparables for the deal score) without alerting, except
  those published in the last 24 hours, which alert as usual. Every later new entry alerts.
* A failed fetch backs off exponentially from the feed's interval (with jitter, capped at 6 h);
  after 3 failures in a row the feed shows as "error" in ``/admin feed list`` until a fetch
  works. Each feed's poll is guarded on its own: one broken feed never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.feed_text import (
    extract_price,
    is_payment_only,
    location_from_tag,
    parse_swap_title,
)
from bot.domain.listing import DEFAULT_CURRENCY, Listing
from bot.domain.rule import GeocodeFn
from bot.domain.text import normalise_category
from bot.errors import NotFoundError, UserFacingError
from bot.ingest.community import MAX_DESCRIPTION, MAX_TITLE, ListingService
from bot.ingest.feed_fetch import FeedFetcher, FeedItem, FetchResult, validate_feed_url
from db.models import FeedRow, utcnow
from db.repositories.feeds import FeedRepository
from db.repositories.listings import ListingRepository

log = logging.getLogger(__name__)

SOURCE = "feed"
MIN_INTERVAL = 60
MAX_INTERVAL = 86_400
DEFAULT_INTERVAL = 900
MAX_FEEDS_PER_GUILD = 25  # one autocomplete page, one embed field each
MAX_URL = 2000  # the column
ERROR_AFTER = 3  # failures in a row before a feed shows as "error"
EXTERNAL_ID_LIMIT = 200  # the column
FRESH_WINDOW = timedelta(hours=24)  # first fetch: entries this recent still alert
URL_LIMIT = 500  # listing url / image_url columns
LOCATION_LIMIT = 100
SELLER_LIMIT = 100
TITLE_LIMIT = 300  # feed title column
ERROR_LIMIT = 300
STORE_FAILED = "could not store the feed's entries (see the bot's log)"

_FEED_REF = re.compile(r"^\s*#?(\d{1,18})\b")


@dataclass(frozen=True, slots=True)
class PollSettings:
    batch: int = 10  # feeds claimed per round
    concurrency: int = 4  # fetches in flight
    lease: timedelta = timedelta(minutes=5)  # a claimed feed is not claimed again meanwhile
    idle_seconds: float = 5.0  # longest sleep when nothing is due
    max_backoff: timedelta = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class FeedView:
    """One feed as ``/admin feed`` shows it."""

    id: int
    guild_id: int
    url: str
    title: str | None
    category: str | None
    interval_seconds: int
    paused: bool
    status: str  # "ok" | "error" (after ERROR_AFTER failures in a row)
    failures: int
    last_error: str | None
    last_success_at: datetime | None
    next_fetch_at: datetime
    items_seen: int

    @property
    def name(self) -> str:
        return self.title or urlsplit(self.url).hostname or self.url

    @property
    def state(self) -> str:
        """paused | error | retrying (failed, not yet an error) | pending (never fetched) | ok"""
        if self.paused:
            return "paused"
        if self.status == "error":
            return "error"
        if self.failures:
            return "retrying"
        return "pending" if self.last_success_at is None else "ok"


@dataclass(frozen=True, slots=True)
class AddedFeed:
    feed: FeedView
    entries: int  # in the document fetched to check the URL


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll of one feed did (for logs, the tests and the benchmark)."""

    feed_id: int
    status: str  # "ok" | "not_modified" | "error"
    new: int = 0
    revised: int = 0
    alerts: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Claimed:
    """What a poll needs of its feed, read when it was claimed."""

    id: int
    guild_id: int
    url: str
    category: str | None
    etag: str | None
    last_modified: str | None
    first: bool  # no fetch of it has worked yet: its backlog does not alert


def view_of(row: FeedRow) -> FeedView:
    return FeedView(
        id=row.id,
        guild_id=row.guild_id,
        url=row.url,
        title=row.title,
        category=row.category,
        interval_seconds=row.interval_seconds,
        paused=row.paused,
        status=row.status,
        failures=row.failures,
        last_error=row.last_error,
        last_success_at=row.last_success_at,
        next_fetch_at=row.next_fetch_at,
        items_seen=row.items_seen,
    )


ETAG_LIMIT = 500  # feeds.etag
LAST_MODIFIED_LIMIT = 100  # feeds.last_modified


def _within(value: str | None, limit: int) -> str | None:
    """A validator that fits its column, else None."""
    return value if value is not None and len(value) <= limit else None


def external_id(feed_id: int, key: str) -> str:
    """The listing's external id for entry ``key`` of feed ``feed_id``: ``"{feed}:{key}"``, or
    ``"{feed}:sha256:{hex}"`` when that would not fit (cutting could merge two long keys that
    share a prefix, such as two links differing only at the end of the query string)."""
    plain = f"{feed_id}:{key}"
    if len(plain) <= EXTERNAL_ID_LIMIT:
        return plain
    return f"{feed_id}:sha256:{hashlib.sha256(key.encode('utf-8', 'replace')).hexdigest()}"


def backoff(interval: int, failures: int, *, cap: timedelta, rnd: Callable[[], float]) -> timedelta:
    """The wait after ``failures`` failed fetches in a row: the interval doubled per failure
    (interval, 2×, 4×, …) up to ``cap`` (or the interval, if that is longer), then "equal
    jitter": a random point in the upper half, so feeds that failed together (an outage) do
    not all come back at once. Never under MIN_INTERVAL."""
    ceiling = max(cap.total_seconds(), float(interval))
    delay = min(ceiling, interval * 2.0 ** min(max(failures - 1, 0), 30))
    return timedelta(seconds=max(MIN_INTERVAL, delay / 2 + rnd() * delay / 2))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _fits(url: str | None, limit: int = URL_LIMIT) -> str | None:
    """A URL is never cut (that breaks it): one too long for the column is dropped."""
    return url if url is not None and len(url) <= limit else None


def entry_listing(
    item: FeedItem, *, guild_id: int, category: str | None, geocode: GeocodeFn, now: datetime
) -> Listing | None:
    """An entry as a listing to ingest, or ``None`` when nothing is for sale in it (a
    want-to-buy swap post, an entry without a title)."""
    title = item.title
    location = None
    swap = parse_swap_title(item.title)
    if swap is not None:
        if not swap.have or is_payment_only(swap.have):
            return None
        title = swap.have
        if swap.location is not None:
            location = location_from_tag(swap.location)
    title = _cut(" ".join(title.split()), MAX_TITLE)
    if not title:
        return None
    guess = extract_price(item.title, item.summary)  # reads only the [H] side of a swap title
    location = _cut(location, LOCATION_LIMIT) if location else None
    return Listing(
        id=0,
        title=title,
        price=None if guess is None else guess.amount,
        currency=DEFAULT_CURRENCY if guess is None else guess.currency,
        description=item.summary[:MAX_DESCRIPTION],
        category=category,
        location_text=location,
        point=geocode(location) if location else None,
        seller_name=_cut(item.author, SELLER_LIMIT) if item.author else None,
        guild_id=guild_id,
        url=_fits(item.link),
        image_url=_fits(item.image_url),
        source=SOURCE,
        created_at=now,
    )


@dataclass(frozen=True, slots=True)
class _Changes:
    """What changed in an entry already stored (``None``: unchanged)."""

    price: Decimal | None = None
    title: str | None = None
    description: str | None = None

    def __bool__(self) -> bool:
        return (self.price, self.title, self.description) != (None, None, None)


def _changes(stored: Listing, fresh: Listing) -> _Changes:
    """A price that vanished, or is in another currency than the listing's (``revise`` keeps
    the currency), is left as it was: neither is a point in this listing's price history."""
    same_currency = fresh.currency == stored.currency
    price_moved = fresh.price is not None and fresh.price != stored.price and same_currency
    return _Changes(
        price=fresh.price if price_moved else None,
        title=fresh.title if fresh.title != stored.title else None,
        description=fresh.description if fresh.description != stored.description else None,
    )


class FeedService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        listings: ListingService,
        fetcher: FeedFetcher,
        geocode: GeocodeFn,
        *,
        clock: Callable[[], datetime] = utcnow,
        settings: PollSettings | None = None,
        rnd: Callable[[], float] = random.random,
    ) -> None:
        self.sessions = sessions
        self.listings = listings
        self.fetcher = fetcher
        self.geocode = geocode
        self.clock = clock
        self.settings = settings or PollSettings()
        self.rnd = rnd
        self._poke = asyncio.Event()
        self._stopping = False

    # ---- /admin feed ---------------------------------------------------------------------------

    async def add(
        self,
        guild_id: int,
        user_id: int,
        url: str,
        *,
        category: str | None = None,
        interval: int | None = None,
    ) -> AddedFeed:
        """Check the URL, fetch it once to see that it is a feed, and save it. The poller's
        first fetch follows at once (its backlog is stored without alerts)."""
        try:
            url = validate_feed_url(url)
        except ValueError as exc:
            raise UserFacingError(str(exc), field="url") from None
        if len(url) > MAX_URL:
            raise UserFacingError(f"the URL is too long (over {MAX_URL} characters)", field="url")
        seconds = DEFAULT_INTERVAL if interval is None else interval
        if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
            raise UserFacingError(
                f"between {MIN_INTERVAL} and {MAX_INTERVAL} seconds", field="interval"
            )
        category = " ".join((category or "").split()) or None
        if category is not None and (len(category) > 100 or not normalise_category(category)):
            raise UserFacingError("not a category", field="category")
        async with self.sessions() as session:
            repo = FeedRepository(session)
            if await repo.count_for_guild(guild_id) >= MAX_FEEDS_PER_GUILD:
                raise UserFacingError(
                    f"this server already has {MAX_FEEDS_PER_GUILD} feeds; remove one first",
                    field="url",
                )
        result = await self.fetcher.fetch(url)
        if result.status != "ok":
            raise UserFacingError(f"not a feed I can read: {result.error}", field="url")
        now = self.clock()
        row = FeedRow(
            guild_id=guild_id,
            url=url,
            title=_cut(result.feed_title, TITLE_LIMIT) if result.feed_title else None,
            category=category,
            interval_seconds=seconds,
            paused=False,
            status="ok",
            next_fetch_at=now,
            failures=0,
            items_seen=0,
            added_by=user_id,
            created_at=now,
        )
        async with self.sessions.begin() as session:
            stored = await FeedRepository(session).add(row)
        if stored is None:
            raise UserFacingError("this server already has that feed", field="url")
        self.poke()
        return AddedFeed(view_of(stored), len(result.items))

    async def list_for_guild(self, guild_id: int) -> list[FeedView]:
        async with self.sessions() as session:
            return [view_of(r) for r in await FeedRepository(session).list_for_guild(guild_id)]

    async def autocomplete(self, guild_id: int, current: str) -> list[FeedView]:
        async with self.sessions() as session:
            rows = await FeedRepository(session).search(guild_id, current.strip())
        return [view_of(r) for r in rows]

    async def set_paused(self, guild_id: int, feed: str, paused: bool) -> FeedView:
        """Pause or resume one of this server's feeds; a resumed feed is fetched at once."""
        async with self.sessions.begin() as session:
            row = await self._own(FeedRepository(session), guild_id, feed)
            resumed = row.paused and not paused
            row.paused = paused
            if resumed:  # only a paused feed jumps the queue (never skip a backoff or a poll)
                row.next_fetch_at = self.clock()
            view = view_of(row)
        if resumed:
            self.poke()
        return view

    async def remove(self, guild_id: int, feed: str) -> FeedView:
        """Stop and forget one of this server's feeds (listings it brought stay)."""
        async with self.sessions.begin() as session:
            repo = FeedRepository(session)
            row = await self._own(repo, guild_id, feed)
            view = view_of(row)
            await repo.delete(row)
        return view

    @staticmethod
    async def _own(repo: FeedRepository, guild_id: int, feed: str) -> FeedRow:
        """The feed the option names (an id from the autocomplete, or "#12"), if it is this
        server's; another server's feed is indistinguishable from one that does not exist."""
        match = _FEED_REF.match(feed or "")
        row = None if match is None else await repo.get_for_guild(guild_id, int(match[1]))
        if row is None:
            raise NotFoundError("no such feed in this server; pick one from the list", field="feed")
        return row

    # ---- the poller ------------------------------------------------------------------------------

    async def run_forever(self) -> None:
        """Poll due feeds until stopped."""
        while not self._stopping:
            try:
                done = len(await self.run_due())
            except Exception:
                log.exception("feed poll round failed")
                done = 0
            if not done and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poke.wait(), self.settings.idle_seconds)
                self._poke.clear()

    def stop(self) -> None:
        """Ask ``run_forever`` to return."""
        self._stopping = True
        self._poke.set()

    def poke(self) -> None:
        """A feed became due now (added, resumed): look at once."""
        self._poke.set()

    async def run_due(self) -> list[PollResult]:
        """Claim the feeds that are due and poll them, a few at a time."""
        async with self.sessions.begin() as session:
            rows = await FeedRepository(session).claim_due(
                now=self.clock(), limit=self.settings.batch, lease=self.settings.lease
            )
            claimed = [
                _Claimed(
                    r.id,
                    r.guild_id,
                    r.url,
                    r.category,
                    r.etag,
                    r.last_modified,
                    r.last_success_at is None,
                )
                for r in rows
            ]
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def one(feed: _Claimed) -> PollResult | None:
            async with limit:
                try:
                    return await self._poll(feed)
                except Exception:  # even recording the failure failed (database down)
                    log.exception("feed %s: poll failed", feed.id)
                    return None

        results = await asyncio.gather(*(one(f) for f in claimed))
        return [r for r in results if r is not None]

    async def _poll(self, feed: _Claimed) -> PollResult:
        fetch = self.fetcher.fetch
        result = await fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified)
        if result.status == "error":
            return await self._record_failure(feed.id, result.error or "the fetch failed")
        try:
            stored = await self._store(feed, result.items) if result.status == "ok" else None
        except Exception:
            # The validators are not saved, so the next fetch gets the whole document again.
            log.exception("feed %s: storing its entries failed", feed.id)
            return await self._record_failure(feed.id, STORE_FAILED)
        outcome = stored or PollResult(feed.id, result.status)
        try:
            await self._record_success(feed.id, result, outcome.new)
        except Exception:
            log.exception("feed %s: recording the fetch failed", feed.id)
            return await self._record_failure(feed.id, STORE_FAILED)
        log.info(
            "feed %s: %s, %s new, %s revised, %s alerts",
            feed.id,
            result.status,
            outcome.new,
            outcome.revised,
            outcome.alerts,
        )
        return outcome

    async def _store(self, feed: _Claimed, items: Sequence[FeedItem]) -> PollResult:
        now = self.clock()
        entries = {external_id(feed.id, item.key): item for item in items}
        async with self.sessions() as session:
            known = await ListingRepository(session).by_external_ids(SOURCE, list(entries))
        new = revised = alerts = 0
        for ext, item in reversed(list(entries.items())):  # feeds list newest first
            try:
                outcome = await self._entry(feed, ext, item, known.get(ext), now)
            except (OSError, ConnectionError, SQLAlchemyOperationalError):
                raise  # the database is down: fail the poll, retry it whole later
            except Exception:
                # One odd entry must not hold back the ones after it, poll after poll.
                log.exception("feed %s: entry %r skipped", feed.id, ext[:80])
                continue
            kind, queued = outcome
            new += kind == "new"
            revised += kind == "revised"
            alerts += queued
        return PollResult(feed.id, "ok", new=new, revised=revised, alerts=alerts)

    async def _entry(
        self, feed: _Claimed, ext: str, item: FeedItem, stored: Listing | None, now: datetime
    ) -> tuple[str, int]:
        """Store or revise one entry: ("new", alerts queued), ("revised", 0) or ("same", 0)."""
        listing = entry_listing(
            item, guild_id=feed.guild_id, category=feed.category, geocode=self.geocode, now=now
        )
        if listing is None:
            return "same", 0
        if stored is not None:
            changes = _changes(stored, listing)
            if not changes:
                return "same", 0
            await self.listings.revise(
                stored.id,
                price=changes.price,
                title=changes.title,
                description=changes.description,
            )
            return "revised", 0
        dated = item.published or item.updated
        fresh = dated is not None and now - dated <= FRESH_WINDOW
        # A new feed's backlog goes down the same ingest path (scored, stored, price history)
        # without matching: nobody wants 500 alerts for old entries at once.
        alerting = not feed.first or fresh
        try:
            ingested = await self.listings.ingest(listing, external_id=ext, match=alerting)
        except IntegrityError:  # stored meanwhile by a poller whose lease had run out
            return "same", 0
        return "new", ingested.alerts_queued

    async def _record_success(self, feed_id: int, result: FetchResult, new: int) -> None:
        now = self.clock()
        async with self.sessions.begin() as session:
            row = await FeedRepository(session).get(feed_id)
            if row is None:  # removed while it was being fetched
                return
            row.status, row.failures, row.last_error = "ok", 0, None
            row.last_fetched_at = row.last_success_at = now
            # A validator longer than its column is dropped (PostgreSQL would refuse the row
            # and wedge the feed); the next fetch is then simply unconditional.
            row.etag = _within(result.etag, ETAG_LIMIT)
            row.last_modified = _within(result.last_modified, LAST_MODIFIED_LIMIT)
            if result.feed_title:
                row.title = _cut(result.feed_title, TITLE_LIMIT)
            row.items_seen += new
            row.next_fetch_at = now + timedelta(seconds=row.interval_seconds)

    async def _record_failure(self, feed_id: int, reason: str) -> PollResult:
        now = self.clock()
        async with self.sessions.begin() as session:
            row = await FeedRepository(session).get(feed_id)
            if row is not None:
                row.failures += 1
                row.last_error = _cut(reason, ERROR_LIMIT)
                row.last_fetched_at = now
                if row.failures >= ERROR_AFTER:
                    row.status = "error"
                wait = backoff(
                    row.interval_seconds,
                    row.failures,
                    cap=self.settings.max_backoff,
                    rnd=self.rnd,
                )
                row.next_fetch_at = now + wait
        log.info("feed %s: fetch failed: %s", feed_id, reason)
        return PollResult(feed_id, "error", error=reason)
