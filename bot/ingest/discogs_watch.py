"""The Discogs watcher: polls each wanted release once, however many users want it, and alerts
every user whose criteria the market now meets.

One poll of a target (a release or master, in one currency):

1. network, outside any transaction: ``/marketplace/stats`` (a master: ``/masters/{id}``) — the
   cheap trigger; the price suggestion when someone wants "underpriced" and the token allows
   (cached a day); listing-level offers from the pluggable :class:`ListingSource` only when the
   stats changed in a way that may matter and someone could match; and, for the few offers that
   match, ``/marketplace/listings/{id}`` to confirm they are still for sale.
2. one transaction: every entry's status, the alerts (deduped per (user, listing) or per (user,
   release, lowest price)) with their outbox rows, and the target's next check time from the
   adaptive schedule (``bot.domain.discogs_schedule``).

A failed poll changes no entry: a blocked sell page or a Discogs outage is never read as "no
listings". Targets are leased when claimed, so two processes do not poll one release at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.outbox import Wakeup
from bot.delivery.wanted_alerts import OfferFacts, record_wanted_alert
from bot.domain.discogs import (
    Evaluation,
    Grade,
    Money,
    OfferSnapshot,
    WantedCriteria,
    evaluate,
    parse_sleeve,
    rolling_median,
)
from bot.domain.discogs_schedule import (
    closeness,
    entry_status,
    failure_delay,
    listing_alert_key,
    next_delay,
    stats_alert_key,
    worth_a_closer_look,
)
from bot.domain.listing import from_cents, to_cents
from bot.ingest.discogs_client import (
    DiscogsAuthError,
    DiscogsClient,
    DiscogsError,
    DiscogsNotFound,
    MarketListing,
    MarketStats,
)
from bot.ingest.discogs_listings import ListingSource, NoListingSource, SourceOffer, SourceResult
from bot.ingest.ratelimit import Priority
from db.models import WantedRow, utcnow
from db.repositories.wanted import WantedRepository, to_criteria

log = logging.getLogger(__name__)

SUGGESTION_RETRY = timedelta(hours=1)
"""After a failed price-suggestion fetch, wait this long before asking again."""
MATCHED = frozenset({"price_matched", "underpriced"})
MAX_CONFIRMS = 10
"""At most this many listing reads per poll, however many entries want the release."""
FX_NOISE = Decimal("0.98")
"""A stats-level lowest price must fall at least 2 % to count as a drop: Discogs converts
prices at today's rate, so an unchanged copy wobbles by fractions of a percent."""

TargetKey = tuple[str, int, str]  # (kind, id, currency)


@dataclass(frozen=True, slots=True)
class WatchSettings:
    batch: int = 20  # targets claimed per round
    concurrency: int = 4  # polls in flight (the rate limiter paces the requests)
    lease: timedelta = timedelta(minutes=10)  # a claimed target is not claimed again meanwhile
    confirm_per_poll: int = 3  # matching offers confirmed with /marketplace/listings/{id}
    history: int = 30  # observed lowest prices kept for the rolling median
    min_history: int = 3  # observations needed before the median is a reference
    suggestion_ttl: timedelta = timedelta(hours=24)
    idle_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll did (for logs, /admin discogs and the tests)."""

    key: TargetKey
    ok: bool
    alerts: int = 0
    error: str | None = None


@dataclass(slots=True)
class _Observed:
    """Everything the network phase learnt about one target."""

    stats: MarketStats
    suggestions: dict[str, list[object]] | None = None
    source: SourceResult | None = None
    confirmed: dict[int, SourceOffer | None] = field(default_factory=dict)
    suggestions_fresh: bool = False
    suggestions_retry: bool = False


def _money(cents: int, currency: str) -> Money:
    return Money(from_cents(cents), currency)


def _suggestion_for(
    suggestions: dict[str, list[object]] | None, grade: Grade | None, currency: str
) -> Money | None:
    if not suggestions:
        return None
    value = suggestions.get((grade or Grade.VERY_GOOD_PLUS).label)
    if not value or len(value) != 2 or value[1] != currency:
        return None  # suggestions come in the token owner's currency; no guessing a rate
    cents = value[0]
    return _money(cents, currency) if isinstance(cents, int) else None


def reference_for(
    grade: Grade | None,
    currency: str,
    suggestions: dict[str, list[object]] | None,
    history: Sequence[int],
    min_history: int,
) -> tuple[Money | None, str]:
    """What "underpriced" compares with: the price suggestion for ``grade`` when Discogs gave
    one in this currency, else the median of the observed lowest prices, else nothing."""
    suggested = _suggestion_for(suggestions, grade, currency)
    if suggested is not None:
        shown = (grade or Grade.VERY_GOOD_PLUS).abbreviation
        return suggested, f"Discogs price suggestion for {shown}"
    if len(history) >= min_history:
        median = rolling_median([from_cents(c) for c in history])
        if median is not None:
            return Money(median.quantize(Decimal("0.01")), currency), (
                f"median of {len(history)} observed lowest prices"
            )
    return None, ""


def listing_snapshot(
    offer: SourceOffer, reference: Money | None, reference_name: str
) -> OfferSnapshot:
    return OfferSnapshot(
        price=offer.price,
        media=offer.media,
        sleeve=offer.sleeve,
        ships_from=offer.ships_from,
        seller_rating=offer.seller_rating,
        reference_price=reference,
        reference_name=reference_name,
    )


class DiscogsWatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: DiscogsClient,
        *,
        source: ListingSource | None = None,
        wakeup: Wakeup | None = None,
        can_suggest: bool = False,
        settings: WatchSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
        rnd: Callable[[], float] = random.random,
    ) -> None:
        self.sessions = sessions
        self.client = client
        self.source: ListingSource = source or NoListingSource()
        self.wakeup = wakeup
        self.can_suggest = can_suggest
        self.settings = settings or WatchSettings()
        self.clock = clock
        self.rnd = rnd
        self._poke = asyncio.Event()
        self._stopping = False
        self.polls = 0
        self.failures = 0

    # ---- the loop -----------------------------------------------------------------------------

    async def run_forever(self) -> None:
        while not self._stopping:
            try:
                done = await self.run_due()
            except Exception:
                log.exception("Discogs watcher round failed")
                done = 0
            if not done:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poke.wait(), self.settings.idle_seconds)
                self._poke.clear()

    def stop(self) -> None:
        self._stopping = True
        self._poke.set()

    def poke(self) -> None:
        """Something became due now (``/wanted add``, ``/wanted check``): look at once."""
        self._poke.set()

    async def run_due(self) -> int:
        """Claim the targets that are due and poll them. Returns how many were polled."""
        claimed = await self._claim()
        if not claimed:
            return 0
        limit = asyncio.Semaphore(self.settings.concurrency)

        async def one(key: TargetKey) -> PollResult:
            async with limit:
                return await self.poll(key)

        results = await asyncio.gather(*(one(k) for k in claimed))  # poll() never raises
        if any(r.alerts for r in results) and self.wakeup is not None:
            self.wakeup.set()
        return len(results)

    async def _claim(self) -> list[TargetKey]:
        """Lease the due targets (only those still due when the lease is written, so two
        processes never poll one release at once)."""
        now = self.clock()
        async with self.sessions.begin() as session:
            return await WantedRepository(session).claim_due(
                now, self.settings.batch, now + self.settings.lease
            )

    async def poll(self, key: TargetKey, priority: Priority = Priority.POLL) -> PollResult:
        """Poll one target now and record everything it tells us. Never raises: a failure is
        recorded on the target (``/admin discogs``) and changes no entry."""
        kind, target_id, currency = key
        self.polls += 1
        try:
            async with self.sessions() as session:
                repo = WantedRepository(session)
                target = await repo.ensure_target(kind, target_id, currency)
                entries = await repo.active_for_target(kind, target_id, currency)
                previous = (target.num_for_sale, target.lowest_cents, target.suggestions)
                suggested_at = target.suggested_at
                await session.commit()
            observed = await self._observe(key, entries, previous, suggested_at, priority)
            alerts = await self._record(key, observed)
        except DiscogsError as exc:
            reason = "not found on Discogs" if isinstance(exc, DiscogsNotFound) else str(exc)[:200]
            return await self._failed(key, reason)
        except Exception:
            # One bad poll (a database hiccup, odd data) must not stop the others or leave the
            # target leased without a word: record it and move on; the traceback is logged.
            log.exception("Discogs poll of %s %s failed unexpectedly", kind, target_id)
            return await self._failed(key, "internal error (see the bot's log)")
        return PollResult(key, ok=True, alerts=alerts)

    async def _failed(self, key: TargetKey, reason: str) -> PollResult:
        self.failures += 1
        log.info("Discogs poll of %s %s failed: %s", key[0], key[1], reason)
        try:
            await self._record_failure(key, reason)
        except Exception:
            log.exception("could not record the failed poll of %s %s", key[0], key[1])
        return PollResult(key, ok=False, error=reason)

    async def _stats(self, kind: str, target_id: int, currency: str, pri: Priority) -> MarketStats:
        if kind == "master":
            master = await self.client.master(target_id, currency, priority=pri)
            return MarketStats(master.lowest_price, master.num_for_sale, False)
        return await self.client.stats(target_id, currency, priority=pri)

    async def _observe(
        self,
        key: TargetKey,
        entries: Sequence[WantedRow],
        previous: tuple[int | None, int | None, dict[str, list[object]] | None],
        suggested_at: datetime | None,
        priority: Priority,
    ) -> _Observed:
        kind, target_id, currency = key
        stats = await self._stats(kind, target_id, currency, priority)
        observed = _Observed(stats=stats, suggestions=previous[2])
        if self._needs_suggestions(kind, entries, suggested_at):
            fetched = await self._suggestions(target_id)
            if fetched is None:  # failed: keep what we had, try again in an hour
                observed.suggestions_retry = True
            else:
                observed.suggestions = fetched
                observed.suggestions_fresh = True
        lowest = stats.lowest_price
        if lowest is None or not stats.num_for_sale or kind != "release":
            return observed
        prev_lowest = None if previous[1] is None else from_cents(previous[1])
        news = worth_a_closer_look(previous[0], prev_lowest, stats.num_for_sale, lowest.amount)
        fresh = any(e.checked_at is None for e in entries)
        if not (news or fresh):
            return observed
        price = Money(lowest.amount, lowest.currency)
        if not any(evaluate(self._price_only(e), OfferSnapshot(price)).matched for e in entries):
            return observed  # the cheapest copy is above everyone's maximum: no listing can match
        observed.source = await self.source.offers(target_id, currency)
        if observed.source.usable:
            await self._confirm(observed, entries, currency)
        return observed

    @staticmethod
    def _price_only(entry: WantedRow) -> WantedCriteria:
        """Just the maximum price of an entry (what the cheapest copy can be checked against)."""
        return WantedCriteria(max_price=to_criteria(entry).max_price)

    def _needs_suggestions(
        self, kind: str, entries: Sequence[WantedRow], suggested_at: datetime | None
    ) -> bool:
        if not self.can_suggest or kind != "release":
            return False
        if not any(e.underpriced_percent is not None for e in entries):
            return False
        return suggested_at is None or self.clock() - suggested_at > self.settings.suggestion_ttl

    async def _suggestions(self, release_id: int) -> dict[str, list[object]] | None:
        try:
            found = await self.client.price_suggestions(release_id)
        except DiscogsAuthError:
            log.info("price suggestions need a token whose user has seller settings")
            self.can_suggest = False
            return {}
        except DiscogsError as exc:
            log.info("price suggestions for %s unavailable: %s", release_id, exc)
            return None
        return {grade: [to_cents(m.amount), m.currency] for grade, m in found.items()}

    async def _confirm(
        self, observed: _Observed, entries: Sequence[WantedRow], currency: str
    ) -> None:
        """Re-read the cheapest matching offers through the API (status, price, seller rating):
        a sell page may be minutes old. A 404 means sold; an outage keeps the page's data."""
        assert observed.source is not None
        matching = pick_offers(
            observed.source.offers,
            [self._without_under(e) for e in entries],
            currency,
            self.settings.confirm_per_poll,
        )
        for offer in matching:
            try:
                fresh = await self.client.listing(offer.listing_id, currency)
            except DiscogsNotFound:
                observed.confirmed[offer.listing_id] = None
                continue
            except DiscogsError:
                keep = offer.price.currency == currency  # the page's data, if comparable
                observed.confirmed[offer.listing_id] = offer if keep else None
                continue
            if fresh.status and fresh.status.casefold() != "for sale":
                observed.confirmed[offer.listing_id] = None
                continue
            merged = _merge(offer, fresh, currency)
            # An offer in another currency is only usable once the API gave its price in ours.
            usable = merged.price.currency == currency
            observed.confirmed[offer.listing_id] = merged if usable else None

    @staticmethod
    def _without_under(entry: WantedRow) -> WantedCriteria:
        c = to_criteria(entry)
        return WantedCriteria(
            max_price=c.max_price,
            min_media=c.min_media,
            min_sleeve=c.min_sleeve,
            ships_from=c.ships_from,
            min_seller_rating=c.min_seller_rating,
        )

    # ---- recording --------------------------------------------------------------------------

    async def _record_failure(self, key: TargetKey, reason: str) -> None:
        kind, target_id, currency = key
        now = self.clock()
        async with self.sessions.begin() as session:
            target = await WantedRepository(session).ensure_target(kind, target_id, currency)
            target.failures += 1
            target.last_error = reason
            target.next_check_at = now + failure_delay(target.failures)

    async def _record(self, key: TargetKey, observed: _Observed) -> int:
        kind, target_id, currency = key
        now = self.clock()
        stats = observed.stats
        lowest = stats.lowest_price
        num = 0 if stats.blocked_from_sale else stats.num_for_sale
        alerts = 0
        async with self.sessions.begin() as session:
            repo = WantedRepository(session)
            target = await repo.ensure_target(kind, target_id, currency)
            entries = await repo.active_for_target(kind, target_id, currency)
            history = list(target.recent_lowest or [])
            for entry in entries:
                alerts += await self._entry(session, entry, observed, history, now)
            lowest_cents = None if lowest is None or not num else to_cents(lowest.amount)
            if lowest_cents is not None and lowest is not None and lowest.currency == currency:
                history = [*history, lowest_cents][-self.settings.history :]
            maxima = [to_criteria(e).max_price for e in entries]
            near = closeness(
                None if lowest is None else lowest.amount,
                num,
                [None if m is None else m.amount for m in maxima],
            )
            target.checked_at = now
            target.lowest_cents = lowest_cents
            target.num_for_sale = num
            target.blocked = stats.blocked_from_sale
            target.recent_lowest = history
            target.failures = 0
            target.last_error = self._source_note(observed.source)
            if observed.suggestions_fresh:
                target.suggestions = observed.suggestions
                target.suggested_at = now
            elif observed.suggestions_retry:
                target.suggested_at = now - self.settings.suggestion_ttl + SUGGESTION_RETRY
            target.next_check_at = now + next_delay(near, rnd=self.rnd())
        return alerts

    @staticmethod
    def _source_note(source: SourceResult | None) -> str | None:
        if source is None or source.usable or source.status.value == "disabled":
            return None
        return f"listing source {source.status.value}: {source.detail}"[:300]

    async def _entry(
        self,
        session: AsyncSession,
        entry: WantedRow,
        observed: _Observed,
        history: list[int],
        now: datetime,
    ) -> int:
        """Evaluate one entry, record its status, and queue its alerts. Returns alerts made."""
        stats = observed.stats
        lowest = stats.lowest_price
        num = 0 if stats.blocked_from_sale else stats.num_for_sale
        criteria = to_criteria(entry)
        evaluation: Evaluation | None = None
        made = 0
        if lowest is not None and num:
            price = Money(lowest.amount, lowest.currency)
            ref, ref_name = reference_for(
                criteria.min_media,
                entry.currency,
                observed.suggestions,
                history,
                self.settings.min_history,
            )
            snapshot = OfferSnapshot(price, reference_price=ref, reference_name=ref_name)
            evaluation = evaluate(criteria, snapshot)
            source = observed.source
            if source is not None and source.usable:
                made = await self._listing_alerts(session, entry, criteria, observed, history, now)
            elif evaluation.matched and _news_for(entry, price.amount, num):
                facts = OfferFacts(level="stats", price=price, num_for_sale=num)
                key = stats_alert_key(
                    entry.user_id,
                    entry.target_kind,
                    entry.target_id,
                    to_cents(price.amount),
                    price.currency,
                )
                queued = await record_wanted_alert(session, entry, facts, evaluation, key, now)
                made = 1 if queued is not None else 0
        await WantedRepository(session).record_seen(
            entry.id,
            status=entry_status(evaluation, num),
            lowest_cents=None if lowest is None or not num else to_cents(lowest.amount),
            num_for_sale=num,
            at=now,
        )
        return made

    async def _listing_alerts(
        self,
        session: AsyncSession,
        entry: WantedRow,
        criteria: WantedCriteria,
        observed: _Observed,
        history: list[int],
        now: datetime,
    ) -> int:
        made = 0
        for listing_id, offer in observed.confirmed.items():
            if offer is None:
                continue  # sold or withdrawn since the page was read
            ref, ref_name = reference_for(
                offer.media,
                entry.currency,
                observed.suggestions,
                history,
                self.settings.min_history,
            )
            evaluation = evaluate(criteria, listing_snapshot(offer, ref, ref_name))
            if not evaluation.matched:
                continue
            facts = OfferFacts(
                level="listing",
                price=offer.price,
                num_for_sale=observed.stats.num_for_sale,
                discogs_listing_id=listing_id,
                media=offer.media.label if offer.media is not None else None,
                sleeve=_sleeve_text(offer),
                seller=offer.seller,
                seller_rating=offer.seller_rating,
                ships_from=offer.ships_from,
                uri=offer.uri,
            )
            key = listing_alert_key(entry.user_id, listing_id)
            if await record_wanted_alert(session, entry, facts, evaluation, key, now) is not None:
                made += 1
        return made

    # ---- for commands -----------------------------------------------------------------------

    async def check_now(self, targets: Sequence[TargetKey], *, ahead: int = 0) -> float:
        """Make ``targets`` due now and return an estimate, in seconds, of when their results
        will be in: they queue behind the ``ahead`` targets already due and the rate limit,
        instead of jumping it."""
        now = self.clock()
        async with self.sessions.begin() as session:
            await WantedRepository(session).move_due(targets, now)
        self.poke()
        limiter = self.client.limiter
        per_request = 60.0 / max(1, limiter.per_minute - limiter.reserve)
        return limiter.estimate_wait(Priority.POLL) + per_request * (ahead + len(targets))


def _news_for(entry: WantedRow, lowest: Decimal, num: int | None) -> bool:
    """Whether a stats-level match is news to this entry: it did not match at its last check
    (new, edited, resumed, or the price just came under the maximum), a copy was added, or the
    lowest price really dropped. An unchanged copy never alerts twice, whatever the exchange
    rate does."""
    if entry.status not in MATCHED or entry.lowest_cents is None:
        return True
    if num is not None and entry.num_for_sale is not None and num > entry.num_for_sale:
        return True
    return lowest <= from_cents(entry.lowest_cents) * FX_NOISE


def pick_offers(
    offers: Sequence[SourceOffer], criteria: Sequence[WantedCriteria], currency: str, cap: int
) -> list[SourceOffer]:
    """The offers worth confirming: each entry's cheapest candidate first (an offer in another
    currency is a candidate whenever everything but the price fits: the API converts it), then
    the cheapest of the rest up to ``cap`` — so a strict entry still gets its copy when a
    lenient one matches many."""
    ours = sorted((o for o in offers if o.price.currency == currency), key=lambda o: o.price.amount)
    ranked = [*ours, *(o for o in offers if o.price.currency != currency)]

    def fits(offer: SourceOffer, c: WantedCriteria) -> bool:
        if offer.price.currency != currency:
            c = replace(c, max_price=None)
        return evaluate(c, listing_snapshot(offer, None, "")).matched

    limit = max(cap, min(len(criteria), MAX_CONFIRMS))
    chosen: dict[int, SourceOffer] = {}
    for c in criteria:
        first = next((o for o in ranked if fits(o, c)), None)
        if first is not None and len(chosen) < limit:
            chosen.setdefault(first.listing_id, first)
    for offer in ranked:
        if len(chosen) >= cap:
            break
        if any(fits(offer, c) for c in criteria):
            chosen.setdefault(offer.listing_id, offer)
    return list(chosen.values())


def _sleeve_text(offer: SourceOffer) -> str | None:
    sleeve = offer.sleeve
    if sleeve is None:
        return None
    return sleeve.label if isinstance(sleeve, Grade) else str(sleeve.value)


def _merge(offer: SourceOffer, fresh: MarketListing, currency: str) -> SourceOffer:
    """The page's offer with what the API says now (price, grades, seller rating, origin)."""
    price = offer.price
    if fresh.price is not None and fresh.price.currency == currency:
        price = Money(fresh.price.amount, fresh.price.currency)
    media = offer.media
    if fresh.condition:
        with contextlib.suppress(ValueError):
            media = Grade.parse(fresh.condition)
    sleeve = offer.sleeve
    if fresh.sleeve_condition:
        with contextlib.suppress(ValueError):
            sleeve = parse_sleeve(fresh.sleeve_condition)
    rating = offer.seller_rating
    if fresh.seller.rating is not None:
        rating = float(fresh.seller.rating)
    return SourceOffer(
        listing_id=offer.listing_id,
        price=price,
        media=media,
        sleeve=sleeve,
        ships_from=fresh.ships_from or offer.ships_from,
        seller=fresh.seller.username or offer.seller,
        seller_rating=rating,
        uri=offer.uri,
    )
