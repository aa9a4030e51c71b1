"""The Discogs watcher against the stand-in and a real database (SQLite, and PostgreSQL when
DEALSCOUT_TEST_PG_URL is set): shared per-release polling, alerts once per offer, currencies,
listing-level data from a listing source, underpriced references, failures that change nothing,
and the adaptive schedule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.delivery.outbox import Wakeup
from bot.domain.discogs import Grade, Money, SleeveState
from bot.ingest.discogs_client import DiscogsClient
from bot.ingest.discogs_listings import SourceOffer, SourceResult, SourceStatus
from bot.ingest.discogs_watch import DiscogsWatcher, reference_for
from bot.ingest.ratelimit import PriorityRateLimiter
from bot.services.wanted import WantedOptions, WantedService
from db.migrate import upgrade
from db.models import AlertNotificationRow, DiscogsTargetRow, ListingRow, OutboxRow, WantedRow
from db.session import make_engine, make_sessionmaker
from tests.dbutil import BACKENDS, database_url
from tests.standins.discogs import TOKEN, USER_AGENT, DiscogsStandin

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
RELEASE = 920001


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class FakeSource:
    """A listing source whose answer the test sets."""

    result: SourceResult = field(
        default_factory=lambda: SourceResult(SourceStatus.DISABLED, detail="off")
    )
    calls: int = 0
    name: str = "fake"

    async def offers(self, release_id: int, currency: str) -> SourceResult:
        self.calls += 1
        return self.result


@dataclass
class World:
    discogs: DiscogsStandin
    sessions: async_sessionmaker[AsyncSession]
    watcher: DiscogsWatcher
    wanted: WantedService
    clock: Clock
    source: FakeSource

    async def add(self, user: int, release: int = RELEASE, **options: object) -> int:
        draft = await self.wanted.preview(user, f"r{release}", WantedOptions(**options))  # type: ignore[arg-type]
        return (await self.wanted.save(user, None, draft)).id

    async def poll_all(self) -> int:
        total = 0
        while done := await self.watcher.run_due():
            total += done
        return total

    async def alerts(self, user: int | None = None) -> list[AlertNotificationRow]:
        async with self.sessions() as session:
            query = select(AlertNotificationRow).order_by(AlertNotificationRow.id)
            if user is not None:
                query = query.where(AlertNotificationRow.user_id == user)
            return list(await session.scalars(query))

    async def outbox(self) -> list[OutboxRow]:
        async with self.sessions() as session:
            return list(await session.scalars(select(OutboxRow).order_by(OutboxRow.id)))

    async def target(self, release: int = RELEASE, currency: str = "USD") -> DiscogsTargetRow:
        async with self.sessions() as session:
            row = await session.scalar(
                select(DiscogsTargetRow).where(
                    DiscogsTargetRow.target_id == release, DiscogsTargetRow.currency == currency
                )
            )
            assert row is not None
            return row

    async def entry(self, wanted_id: int) -> WantedRow:
        async with self.sessions() as session:
            row = await session.get(WantedRow, wanted_id)
            assert row is not None
            return row


@pytest.fixture(params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with (
        database_url(request.param, tmp_path) as url,
        DiscogsStandin(limit=100_000) as discogs,
    ):
        discogs.add_release(RELEASE, "Blue", "Joni Mitchell", lowest_usd=30.0, num_for_sale=3)
        engine = make_engine(url)
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        settings = Settings(
            discogs_api_base=discogs.base_url,
            discogs_token=SecretStr(TOKEN),
            discogs_user_agent=USER_AGENT,
            _env_file=None,  # type: ignore[call-arg]
        )
        clock = Clock()
        source = FakeSource()
        async with aiohttp.ClientSession() as http:
            limiter = PriorityRateLimiter(100_000)
            client = DiscogsClient(http, settings, limiter, max_retries=0)
            watcher = DiscogsWatcher(
                sessions,
                client,
                source=source,
                wakeup=Wakeup(),
                can_suggest=True,
                clock=clock,
                rnd=lambda: 0.5,
            )
            wanted = WantedService(sessions, client, watcher, clock=clock)
            yield World(discogs, sessions, watcher, wanted, clock, source)
        await engine.dispose()


async def test_each_release_is_polled_once_for_all_who_want_it(world: World) -> None:
    """1,000 entries (10 users x 100 releases) cost ~100 stats calls per cycle."""
    releases = [930000 + n for n in range(100)]
    for n, release in enumerate(releases):
        world.discogs.add_release(release, f"Record {n}", lowest_usd=20.0 + n, num_for_sale=2)
    async with world.sessions.begin() as session:
        for user in range(1, 11):
            for release in releases:
                session.add(
                    WantedRow(
                        user_id=user,
                        target_kind="release",
                        target_id=release,
                        title=f"Record {release}",
                        currency="USD",
                        max_price_cents=5000,
                        ships_from=[],
                    )
                )
                session.add(
                    DiscogsTargetRow(
                        kind="release",
                        target_id=release,
                        currency="USD",
                        next_check_at=T0,
                        recent_lowest=[],
                    )
                ) if user == 1 else None
    world.watcher.settings = type(world.watcher.settings)(batch=200)
    before = world.discogs.count("/marketplace/stats")
    assert await world.poll_all() == 100
    assert world.discogs.count("/marketplace/stats") - before == 100
    # Prices 20..50 are under every user's $50 maximum: one alert per (user, release).
    assert len(await world.alerts()) == 10 * 31
    # Nothing is due again until the schedule says so.
    assert await world.watcher.run_due() == 0


async def test_alerts_once_per_lowest_price_and_again_when_it_drops(world: World) -> None:
    wanted = await world.add(1, max_price="35")
    await world.add(2, max_price="25")
    await world.poll_all()
    [first] = await world.alerts()
    assert (first.user_id, first.price_cents, first.currency, first.level) == (
        1,
        3000,
        "USD",
        "stats",
    )
    assert "✅ price: 30.00 USD ≤ 35.00 USD" in first.checks
    [row] = await world.outbox()
    assert (row.kind, row.rule_id, row.channel, row.status) == (
        "wanted_alert",
        wanted,
        "dm",
        "pending",
    )
    assert (await world.entry(wanted)).status == "price_matched"

    world.clock.advance(hours=3)
    await world.poll_all()
    assert len(await world.alerts()) == 1  # same lowest price: no second alert

    world.discogs.set_market(RELEASE, 24.0, 4)
    world.clock.advance(hours=3)
    await world.poll_all()
    assert [(a.user_id, a.price_cents) for a in await world.alerts()] == [
        (1, 3000),
        (1, 2400),
        (2, 2400),
    ]
    async with world.sessions() as session:
        listing = await session.get(ListingRow, (await world.alerts())[1].listing_id)
    assert listing is not None and listing.source == "discogs"
    assert listing.details is not None and listing.details["level"] == "stats"


async def test_prices_are_compared_in_the_entry_currency(world: World) -> None:
    euro = await world.add(1, max_price="€28")  # 30 USD is 27 EUR at the stand-in's rate
    yen = await world.add(2, max_price="4000", currency="JPY")  # 4,500 JPY: too dear
    await world.poll_all()
    [alert] = await world.alerts()
    assert (alert.wanted_id, alert.price_cents, alert.currency) == (euro, 2700, "EUR")
    assert (await world.entry(yen)).status == "monitoring"
    # Two previews, then one poll per currency in use.
    assert world.discogs.count(f"/marketplace/stats/{RELEASE}") == 2 + 2


async def test_nothing_for_sale_is_no_listings_and_polled_less_often(world: World) -> None:
    near = await world.add(1, max_price="29")
    await world.poll_all()
    near_wait = (await world.target()).next_check_at - world.clock()
    assert (await world.entry(near)).status == "monitoring"

    world.discogs.set_market(RELEASE, None, 0)
    world.clock.advance(hours=3)
    await world.poll_all()
    assert (await world.entry(near)).status == "no_listings"
    empty_wait = (await world.target()).next_check_at - world.clock()

    world.discogs.set_market(RELEASE, 300.0, 1)
    world.clock.advance(hours=3)
    await world.poll_all()
    far_wait = (await world.target()).next_check_at - world.clock()
    assert near_wait < far_wait < empty_wait
    assert near_wait == timedelta(minutes=10) and empty_wait == timedelta(minutes=90)


async def test_a_failed_poll_changes_no_entry(world: World) -> None:
    wanted = await world.add(1, max_price="29")
    await world.poll_all()
    before = await world.entry(wanted)
    world.discogs.inject_500(5)
    world.clock.advance(hours=3)
    await world.poll_all()
    after = await world.entry(wanted)
    assert (after.status, after.lowest_cents, after.num_for_sale) == (
        before.status,
        before.lowest_cents,
        before.num_for_sale,
    )
    target = await world.target()
    assert target.failures == 1 and target.last_error
    assert target.next_check_at - world.clock() == timedelta(minutes=5)


async def test_a_release_gone_from_discogs_is_reported(world: World) -> None:
    wanted = await world.add(1)
    del world.discogs.releases[RELEASE]
    world.clock.advance(hours=3)
    await world.wanted.check(1)
    await world.poll_all()
    assert (await world.target()).last_error == "not found on Discogs"
    assert (await world.entry(wanted)).status != "no_listings"


def offer(
    listing_id: int, price: str, media: Grade, sleeve: Grade | SleeveState, **kw: object
) -> SourceOffer:
    return SourceOffer(
        listing_id=listing_id,
        price=Money(Decimal(price), "USD"),
        media=media,
        sleeve=sleeve,
        ships_from=str(kw.get("ships_from", "Germany")),
        seller=str(kw.get("seller", "crate_seller")),
        seller_rating=float(kw.get("rating", 99.5)),  # type: ignore[arg-type]
        uri=f"https://www.discogs.com/sell/item/{listing_id}",
    )


async def test_listing_level_offers_are_checked_per_grade_and_confirmed(world: World) -> None:
    world.source.result = SourceResult(
        SourceStatus.OK,
        (
            offer(1001, "30", Grade.GOOD, Grade.VERY_GOOD),  # cheapest, but media too poor
            offer(1002, "33", Grade.VERY_GOOD_PLUS, SleeveState.GENERIC),  # sleeve generic
            offer(1003, "34", Grade.NEAR_MINT, Grade.VERY_GOOD_PLUS),  # matches
            offer(1004, "34.5", Grade.MINT, Grade.MINT, ships_from="Japan"),  # wrong country
        ),
    )
    for n in (1003, 1004):
        world.discogs.listings[n] = {
            "id": n,
            "status": "For Sale",
            "condition": "Near Mint (NM or M-)",
            "sleeve_condition": "Very Good Plus (VG+)",
            "ships_from": "Germany",
            "price": {"value": 34, "currency": "USD"},
            "seller": {"username": "crate_seller", "stats": {"rating": "99.9", "total": 10}},
            "uri": f"https://www.discogs.com/sell/item/{n}",
        }
    wanted = await world.add(1, max_price="35", media="VG+", sleeve="VG", ships_from="Germany")
    await world.poll_all()
    [alert] = await world.alerts()
    assert (alert.level, alert.discogs_listing_id, alert.wanted_id) == ("listing", 1003, wanted)
    assert "✅ media: Near Mint (NM or M-) meets VG+" in alert.checks
    assert any("seller" not in c or "❔" not in c for c in alert.checks)
    assert world.discogs.count("/marketplace/listings/1003") == 1
    async with world.sessions() as session:
        listing = await session.get(ListingRow, alert.listing_id)
    assert listing is not None and listing.details is not None
    assert listing.details["media"] == "Near Mint (NM or M-)"
    assert listing.details["seller_rating"] == 99.9
    assert listing.url == "https://www.discogs.com/sell/item/1003"


async def test_a_blocked_listing_source_falls_back_to_the_lowest_price(world: World) -> None:
    world.source.result = SourceResult(SourceStatus.BLOCKED, detail="Cloudflare challenge")
    wanted = await world.add(1, max_price="35", media="VG+")
    await world.poll_all()
    [alert] = await world.alerts()
    assert alert.level == "stats"
    assert any(c.startswith("❔ media: could not check") for c in alert.checks)
    assert (await world.entry(wanted)).status == "price_matched"  # never "no listings"
    assert "blocked" in ((await world.target()).last_error or "")


async def test_a_sold_offer_is_not_alerted(world: World) -> None:
    world.source.result = SourceResult(
        SourceStatus.OK, (offer(172723999, "20", Grade.MINT, Grade.MINT),)
    )  # the stand-in says this listing is Sold
    await world.add(1, max_price="35")
    await world.poll_all()
    assert await world.alerts() == []


async def test_underpriced_uses_the_median_and_names_it(world: World) -> None:
    world.watcher.can_suggest = False
    wanted = await world.add(1, underpriced_percent=20)
    for price in (40.0, 41.0, 39.0):
        world.discogs.set_market(RELEASE, price, 3)
        world.clock.advance(hours=3)
        await world.wanted.check(1)
        await world.poll_all()
    assert await world.alerts() == []  # not underpriced against its own history
    world.discogs.set_market(RELEASE, 30.0, 3)
    world.clock.advance(hours=3)
    await world.wanted.check(1)
    await world.poll_all()
    [alert] = await world.alerts()
    assert alert.reference is not None and "median of" in alert.reference
    assert (await world.entry(wanted)).status == "underpriced"


def test_reference_prefers_the_suggestion_in_the_same_currency() -> None:
    suggestions: dict[str, list[object]] = {"Very Good Plus (VG+)": [4000, "USD"]}
    money, name = reference_for(Grade.VERY_GOOD_PLUS, "USD", suggestions, [1, 2, 3], 3)
    assert money == Money(Decimal("40.00"), "USD") and name == "Discogs price suggestion for VG+"
    money, name = reference_for(Grade.VERY_GOOD_PLUS, "EUR", suggestions, [1000, 2000, 3000], 3)
    assert money == Money(Decimal("20.00"), "EUR") and "median of 3" in name
    assert reference_for(None, "EUR", None, [1000], 3) == (None, "")


# ---- regressions found in review -------------------------------------------------------------


def api_listing(world: World, n: int, price: float, condition: str) -> None:
    world.discogs.listings[n] = {
        "id": n,
        "status": "For Sale",
        "condition": condition,
        "sleeve_condition": "Very Good Plus (VG+)",
        "ships_from": "Germany",
        "price": {"value": price, "currency": "USD"},
        "seller": {"username": "s", "stats": {"rating": "99.9", "total": 10}},
        "uri": f"https://www.discogs.com/sell/item/{n}",
    }


async def test_an_unchanged_copy_never_alerts_again_whatever_the_exchange_rate(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tests.standins.discogs as standin

    await world.add(1, max_price="€28")  # one unchanged 30 USD copy
    await world.poll_all()
    for rate in (0.905, 0.91, 0.9):
        monkeypatch.setitem(standin.RATES, "EUR", rate)
        world.clock.advance(hours=3)
        await world.poll_all()
    assert len(await world.alerts()) == 1


async def test_a_copy_that_failed_the_grade_is_not_alerted_later_at_stats_level(
    world: World,
) -> None:
    world.source.result = SourceResult(
        SourceStatus.OK, (offer(1001, "30", Grade.GOOD, Grade.VERY_GOOD),)
    )
    api_listing(world, 1001, 30, "Good (G)")
    await world.add(1, max_price="35", media="VG+")
    for _ in range(2):
        await world.poll_all()
        world.clock.advance(hours=3)
    assert await world.alerts() == []


async def test_one_copy_one_alert_across_levels(world: World) -> None:
    world.source.result = SourceResult(
        SourceStatus.OK, (offer(1003, "30", Grade.NEAR_MINT, Grade.VERY_GOOD_PLUS),)
    )
    api_listing(world, 1003, 30, "Near Mint (NM or M-)")
    await world.add(1, max_price="35")
    for _ in range(2):
        await world.poll_all()
        world.clock.advance(hours=3)
    assert [a.discogs_listing_id for a in await world.alerts()] == [1003]


async def test_a_strict_entry_still_gets_its_copy_when_a_lenient_one_matches_many(
    world: World,
) -> None:
    copies = [(2001, "30", Grade.GOOD), (2002, "31", Grade.GOOD), (2003, "32", Grade.GOOD)]
    offers = [offer(n, p, g, Grade.VERY_GOOD) for n, p, g in copies]
    offers.append(offer(2004, "34", Grade.NEAR_MINT, Grade.NEAR_MINT))
    world.source.result = SourceResult(SourceStatus.OK, tuple(offers))
    for n, p, _ in copies:
        api_listing(world, n, float(p), "Good (G)")
    api_listing(world, 2004, 34, "Near Mint (NM or M-)")
    await world.add(1, max_price="35")
    await world.add(2, max_price="35", media="NM")
    await world.poll_all()
    got = {(a.user_id, a.discogs_listing_id) for a in await world.alerts()}
    assert (2, 2004) in got and (1, 2001) in got


async def test_an_offer_in_another_currency_is_confirmed_through_the_api(world: World) -> None:
    pounds = SourceOffer(
        listing_id=3001,
        price=Money(Decimal("20"), "GBP"),
        media=Grade.NEAR_MINT,
        sleeve=Grade.NEAR_MINT,
        ships_from="United Kingdom",
        seller="s",
        seller_rating=100.0,
        uri="https://www.discogs.com/sell/item/3001",
    )
    world.source.result = SourceResult(SourceStatus.OK, (pounds,))
    api_listing(world, 3001, 25, "Near Mint (NM or M-)")  # the API answers in USD
    await world.add(1, max_price="35", media="VG+")
    await world.poll_all()
    [alert] = await world.alerts()
    assert (alert.discogs_listing_id, alert.price_cents, alert.currency) == (3001, 2500, "USD")


async def test_two_watchers_never_claim_the_same_release(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from db.repositories.wanted import WantedRepository

    await world.add(1, max_price="35")
    barrier = asyncio.Barrier(2)
    original = WantedRepository.due_targets

    async def in_step(
        self: WantedRepository, now: datetime, limit: int, *, lock: bool = False
    ) -> list[DiscogsTargetRow]:
        rows = await original(self, now, limit, lock=lock)
        await asyncio.wait_for(barrier.wait(), 2)  # both have read before either writes
        return rows

    monkeypatch.setattr(WantedRepository, "due_targets", in_step)
    other = DiscogsWatcher(world.sessions, world.watcher.client, clock=world.clock)
    try:
        claims = await asyncio.wait_for(
            asyncio.gather(world.watcher._claim(), other._claim(), return_exceptions=True), 10
        )
    except TimeoutError:  # PostgreSQL: the second claim waits for the first one's lock
        claims = []
    got = [c for c in claims if isinstance(c, list)]
    assert sum(len(c) for c in got) <= 1


async def test_failing_price_suggestions_are_retried_hourly_not_every_poll(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.ingest.discogs_client import DiscogsUnavailable

    calls = 0

    async def broken(release_id: int, **_: object) -> dict[str, Money]:
        nonlocal calls
        calls += 1
        raise DiscogsUnavailable("HTTP 500")

    monkeypatch.setattr(world.watcher.client, "price_suggestions", broken)
    await world.add(1, underpriced_percent=20)
    for _ in range(4):  # 4 polls, 11 minutes apart
        await world.wanted.watcher.check_now([("release", RELEASE, "USD")])
        await world.poll_all()
        world.clock.advance(minutes=11)
    assert calls == 1
