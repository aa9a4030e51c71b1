"""The feed poller (bot/ingest/feeds.py) against the local feed stand-in, on SQLite and, with
DEALSCOUT_TEST_PG_URL, on PostgreSQL: conditional GET, dedupe, edited entries, the first-fetch
policy, broken feeds (error state and backoff) beside a working one, swap titles, no-price
entries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from html import escape
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.domain.listing import GeoPoint, Listing
from bot.domain.rule import RuleInput
from bot.geo import geocode as offline_geocode
from bot.ingest.feed_fetch import HTML_PAGE_ERROR, FeedFetcher, FeedItem
from bot.ingest.feeds import (
    ERROR_AFTER,
    FeedService,
    FeedView,
    PollSettings,
    backoff,
    entry_listing,
    external_id,
)
from bot.services import Services, build_services
from db.models import FeedRow, ListingRow, OutboxRow
from db.repositories.feeds import FeedRepository
from db.repositories.listings import ListingRepository, to_listing
from tests.dbutil import BACKENDS, database_url
from tests.fakes import RecordingSender
from tests.standins.feeds import FeedStandin, Route

GUILD = 500
ADMIN = 7
BUYER, OTHER_BUYER, THIRD_BUYER = 11, 12, 13
USER_AGENT = "DealScoutTests/1.0 (+https://example.invalid/bot)"
MAX_BYTES = 256 * 1024


class Clock:
    """The poller's clock; tests move it to make feeds due."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Rig:
    s: Services
    feeds: FeedService
    server: FeedStandin
    clock: Clock

    async def add(self, path: str, body: bytes, **kw: object) -> FeedView:
        url = self.server.serve(path, body)
        added = await self.feeds.add(GUILD, ADMIN, url, **kw)  # type: ignore[arg-type]
        return added.feed

    async def feed(self, feed_id: int) -> FeedRow:
        async with self.s.sessions() as session:
            row = await FeedRepository(session).get(feed_id)
        assert row is not None
        return row

    async def due(self, feed_id: int) -> None:
        """Move the clock to the feed's next fetch."""
        self.clock.now = max(self.clock.now, (await self.feed(feed_id)).next_fetch_at)

    async def listings(self, feed_id: int | None = None) -> list[Listing]:
        """The feed listings, oldest first (of one feed, if given)."""
        async with self.s.sessions() as session:
            stmt = select(ListingRow).where(ListingRow.source == "feed").order_by(ListingRow.id)
            if feed_id is not None:
                stmt = stmt.where(ListingRow.external_id.like(f"{feed_id}:%"))
            return [to_listing(row) for row in await session.scalars(stmt)]

    async def alerts(self) -> list[tuple[int, str]]:
        """(user, listing title) of every queued alert."""
        async with self.s.sessions() as session:
            rows = await session.execute(
                select(OutboxRow.user_id, ListingRow.title)
                .join(ListingRow, ListingRow.id == OutboxRow.listing_id)
                .order_by(OutboxRow.id)
            )
            return [(u, t) for u, t in rows]

    async def alert_count(self) -> int:
        async with self.s.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(OutboxRow)) or 0)

    async def rule(self, user: int, name: str, **kw: object) -> None:
        await self.s.rules.create(user, GUILD, RuleInput(name=name, **kw))  # type: ignore[arg-type]


@pytest.fixture(params=BACKENDS)
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    async with database_url(request.param, tmp_path) as url, FeedStandin() as server:
        settings = Settings(database_url=url, discord_token=None, _env_file=None)  # type: ignore[call-arg]
        s = await build_services(settings, lambda _s: ({"dm": RecordingSender("dm")}, None))
        try:
            fetcher = FeedFetcher(
                s.http, USER_AGENT, timeout_seconds=1.0, max_bytes=MAX_BYTES, allow_private=True
            )
            clock = Clock()
            feeds = FeedService(
                s.sessions, s.listings, fetcher, offline_geocode, clock=clock, rnd=lambda: 1.0
            )
            yield Rig(s, feeds, server, clock)
        finally:
            await s.close()


def item(guid: str, title: str, summary: str = "", *, published: datetime | None = None) -> str:
    date = f"<pubDate>{format_datetime(published)}</pubDate>" if published else ""
    return (
        f"<item><guid isPermaLink='false'>{escape(guid)}</guid><title>{escape(title)}</title>"
        f"<link>https://example.org/{escape(guid)}</link>"
        f"<description>{escape(summary)}</description>{date}</item>"
    )


def rss(*items: str, title: str = "Desk deals") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://example.org/</link>{''.join(items)}"
        "</channel></rss>"
    ).encode()


def days_ago(clock: Clock, days: float) -> datetime:
    return clock.now - timedelta(days=days)


# ------------------------------------------------------------------------- first fetch, dedupe


async def test_first_fetch_stores_the_backlog_quietly_then_new_entries_alert(rig: Rig) -> None:
    await rig.rule(BUYER, "Desks", keywords="desk")
    old = [
        item(f"old-{n}", f"Oak desk number {n} $1{n}0", published=days_ago(rig.clock, 3 + n))
        for n in range(5)
    ]
    fresh = item("fresh", "Walnut desk $90", published=rig.clock.now - timedelta(hours=2))
    undated = item("undated", "Pine desk $40")
    feed = await rig.add("/desks", rss(fresh, *old, undated))
    assert feed.title == "Desk deals" and feed.state == "pending"

    [result] = await rig.feeds.run_due()
    assert (result.status, result.new, result.alerts) == ("ok", 7, 1)
    assert len(await rig.listings()) == 7
    # only the entry published in the last 24 hours alerted; the backlog is stored, scored
    assert await rig.alerts() == [(BUYER, "Walnut desk $90")]

    rig.server.update("/desks", rss(item("new", "Maple desk $70"), fresh, *old, undated))
    await rig.due(feed.id)
    [result] = await rig.feeds.run_due()
    assert (result.new, result.alerts) == (1, 1)  # after the first fetch every new entry alerts
    assert (await rig.alerts())[-1] == (BUYER, "Maple desk $70")
    row = await rig.feed(feed.id)
    assert (row.items_seen, row.status, row.failures) == (8, "ok", 0)


async def test_conditional_get_and_dedupe(rig: Rig) -> None:
    await rig.rule(BUYER, "Desks", keywords="desk")
    feed = await rig.add("/d", rss(item("a", "Oak desk $120")))
    await rig.feeds.run_due()
    rig.server.update("/d", rss(item("b", "Teak desk $150"), item("a", "Oak desk $120")))
    await rig.due(feed.id)
    [result] = await rig.feeds.run_due()
    assert (result.status, result.new, result.revised, result.alerts) == ("ok", 1, 0, 1)

    await rig.due(feed.id)
    [result] = await rig.feeds.run_due()
    assert result.status == "not_modified" and result.new == 0
    last = rig.server.requests_to("/d")[-1]
    assert last.status == 304
    assert last.headers["If-None-Match"] == rig.server.routes["/d"].etag
    assert "If-Modified-Since" in last.headers
    row = await rig.feed(feed.id)
    assert row.last_success_at == rig.clock.now and row.etag == rig.server.routes["/d"].etag
    assert row.next_fetch_at == rig.clock.now + timedelta(seconds=900)

    # a server that ignores validators sends the same document again: nothing new, nothing sent
    rig.server.routes["/d"].validators = False
    await rig.due(feed.id)
    [result] = await rig.feeds.run_due()
    assert (result.status, result.new, result.revised) == ("ok", 0, 0)
    assert len(await rig.listings()) == 2 and await rig.alert_count() == 1


async def test_an_edited_entry_updates_price_history_without_a_second_alert(rig: Rig) -> None:
    await rig.rule(BUYER, "Desks", keywords="desk")
    feed = await rig.add("/d", rss())
    await rig.feeds.run_due()  # the (empty) first fetch
    rig.server.update("/d", rss(item("a", "Oak desk $120", "Solid oak.")))
    await rig.due(feed.id)
    await rig.feeds.run_due()
    assert await rig.alert_count() == 1

    rig.server.update("/d", rss(item("a", "Oak desk - price drop $95", "Solid oak. Must go.")))
    await rig.due(feed.id)
    [result] = await rig.feeds.run_due()
    assert (result.new, result.revised, result.alerts) == (0, 1, 0)
    [listing] = await rig.listings()
    assert listing.price == Decimal("95.00")
    assert listing.title == "Oak desk - price drop $95"
    assert listing.description == "Solid oak. Must go."
    async with rig.s.sessions() as session:
        history = await ListingRepository(session).price_history(listing.id)
    assert [cents for _, cents, _ in history] == [12000, 9500]
    assert await rig.alert_count() == 1  # an edit never re-alerts

    # the price vanishing from the text is not a price point
    rig.server.update("/d", rss(item("a", "Oak desk - make an offer", "Solid oak. Must go.")))
    await rig.due(feed.id)
    [result] = await rig.feeds.run_due()
    assert result.revised == 1
    [listing] = await rig.listings()
    assert listing.price == Decimal("95.00") and listing.title == "Oak desk - make an offer"


# ------------------------------------------------------------------------------ entry contents


async def test_entries_without_a_price_only_match_rules_without_price_bounds(rig: Rig) -> None:
    await rig.rule(BUYER, "Any desk", keywords="desk")
    await rig.rule(OTHER_BUYER, "Cheap desk", keywords="desk", max_price="500")
    await rig.rule(THIRD_BUYER, "Real desk", keywords="desk", min_price="10")
    feed = await rig.add("/d", rss())
    await rig.feeds.run_due()
    rig.server.update("/d", rss(item("a", "Standing desk, make an offer", "Pick up only.")))
    await rig.due(feed.id)
    await rig.feeds.run_due()
    [listing] = await rig.listings()
    assert listing.price is None and listing.source == "feed" and listing.guild_id == GUILD
    assert await rig.alerts() == [(BUYER, "Standing desk, make an offer")]

    # a price added later is recorded, but an edit never alerts, even a rule it now matches
    rig.server.update("/d", rss(item("a", "Standing desk $80", "Pick up only.")))
    await rig.due(feed.id)
    [result] = await rig.feeds.run_due()
    assert (result.revised, result.alerts) == (1, 0)
    async with rig.s.sessions() as session:
        history = await ListingRepository(session).price_history(listing.id)
    assert [cents for _, cents, _ in history] == [None, 8000]
    assert len(await rig.alerts()) == 1


async def test_swap_titles_keep_the_have_side_and_the_location(rig: Rig) -> None:
    await rig.rule(BUYER, "Chairs near San Jose", keywords="aeron", location="95112", radius=25)
    await rig.rule(OTHER_BUYER, "PayPal", keywords="paypal")  # only ever on a [W] side
    await rig.rule(THIRD_BUYER, "4090", keywords="4090")
    feed = await rig.add("/swap", rss(), category="Computers")
    await rig.feeds.run_due()
    rig.server.update(
        "/swap",
        rss(
            item("t3_a", "[USA-CA-San Jose] [H] Herman Miller Aeron $300 [W] Cash, PayPal"),
            item("t3_b", "[USA-CA] [H] RTX 3080 FE [W] PayPal", "Asking $400 shipped."),
            item("t3_c", "[USA-NY] [H] PayPal [W] RTX 4090", "Budget $1,500."),
            item("t3_d", "[EU-DE] [H] Ryzen 7 5800X [W] €180 PayPal"),
        ),
    )
    await rig.due(feed.id)
    [result] = await rig.feeds.run_due()
    assert result.new == 3  # the want-to-buy post sells nothing and is not stored
    by_title = {listing.title: listing for listing in await rig.listings()}
    assert set(by_title) == {"Ryzen 7 5800X", "RTX 3080 FE", "Herman Miller Aeron $300"}
    aeron = by_title["Herman Miller Aeron $300"]
    assert (aeron.price, aeron.location_text) == (Decimal("300.00"), "San Jose, CA, USA")
    assert aeron.point is not None and aeron.category == "Computers"
    rtx = by_title["RTX 3080 FE"]
    # a state alone is no point; the price comes from the body, not the [W] side
    assert (rtx.price, rtx.location_text, rtx.point) == (Decimal("400.00"), "CA, USA", None)
    ryzen = by_title["Ryzen 7 5800X"]
    # An item for money only: "€180" on the [W] side is the asking price.
    assert (ryzen.price, ryzen.currency, ryzen.location_text) == (
        Decimal("180.00"),
        "EUR",
        "Germany",
    )
    assert await rig.alerts() == [(BUYER, "Herman Miller Aeron $300")]


def test_entry_listing_fields_are_cut_to_the_columns() -> None:
    now = datetime.now(UTC)
    entry = FeedItem(
        key="k",
        title="Desk " + "x" * 400,
        link="https://example.org/" + "y" * 600,
        summary="Oak. $50",
        published=None,
        updated=None,
        author="A" * 150,
        image_url="https://example.org/i.jpg",
    )
    listing = entry_listing(entry, guild_id=1, category=None, geocode=lambda _: None, now=now)
    assert listing is not None
    assert len(listing.title) == 200 and listing.title.endswith("…")
    assert listing.url is None  # a cut URL would be a broken link
    assert listing.image_url == "https://example.org/i.jpg"
    assert listing.seller_name is not None and len(listing.seller_name) == 100
    assert listing.price == Decimal("50.00") and listing.created_at == now


def test_external_ids_fit_and_long_keys_do_not_collide() -> None:
    assert external_id(12, "t3_abc") == "12:t3_abc"
    a = external_id(12, "https://example.org/item?" + "q" * 300 + "a")
    b = external_id(12, "https://example.org/item?" + "q" * 300 + "b")
    assert a != b and len(a) <= 200 and a.startswith("12:sha256:")


# -------------------------------------------------------------------------- failures, backoff


async def test_broken_feeds_reach_the_error_state_while_another_keeps_working(rig: Rig) -> None:
    await rig.rule(BUYER, "Desks", keywords="desk")
    good = await rig.add("/good", rss(), interval=60)
    broken: dict[str, tuple[int, Callable[[], object], str]] = {}
    cases: dict[str, tuple[Callable[[], object], str]] = {
        "/malformed": (
            lambda: rig.server.serve_fixture("/malformed", "malformed.xml"),
            "malformed",
        ),
        "/html": (lambda: rig.server.serve_fixture("/html", "page.html"), HTML_PAGE_ERROR),
        "/huge": (lambda: rig.server.huge("/huge", 2 * MAX_BYTES), "larger than 256 KiB"),
        "/slow": (lambda: rig.server.slow("/slow", 3.0), "timed out after 1 s"),
        "/ftp": (
            lambda: rig.server.redirect("/ftp", "ftp://files.example.org/feed.xml"),
            "refused a redirect",
        ),
        "/gone": (lambda: rig.server.fail("/gone", 500), "HTTP 500"),
    }
    for path, (breaker, reason) in cases.items():
        view = await rig.add(path, rss(), interval=60)
        broken[path] = (view.id, breaker, reason)
    await rig.feeds.run_due()  # every first fetch works
    for _, breaker, _ in broken.values():
        breaker()

    for n in range(ERROR_AFTER):
        body = rss(*(item(f"g{k}", f"Desk {k} ${k + 10}") for k in range(n + 1)))
        rig.server.update("/good", body)
        rig.clock.advance(7 * 3600)  # past any backoff
        results = {r.feed_id: r for r in await rig.feeds.run_due()}
        assert results[good.id].status == "ok" and results[good.id].new == 1
        for path, (feed_id, _, reason) in broken.items():
            assert results[feed_id].status == "error", path
            assert reason in (results[feed_id].error or ""), (path, results[feed_id])
            row = await rig.feed(feed_id)
            assert row.failures == n + 1
            assert row.status == ("error" if n + 1 >= ERROR_AFTER else "ok"), path
            assert reason in (row.last_error or "")
            assert rig.server.base_url not in (row.last_error or "")  # no URL in reasons

    assert [title for _, title in await rig.alerts()] == ["Desk 0 $10", "Desk 1 $11", "Desk 2 $12"]
    assert (await rig.feed(good.id)).status == "ok"
    views = {v.id: v for v in await rig.feeds.list_for_guild(GUILD)}
    assert views[broken["/html"][0]].state == "error"
    assert views[good.id].state == "ok" and views[good.id].items_seen == 3


async def test_backoff_doubles_from_the_interval_with_jitter_and_a_cap(rig: Rig) -> None:
    feed = await rig.add("/f", rss(), interval=60)
    rig.server.fail("/f", 503)
    waits = []
    for _ in range(4):
        await rig.due(feed.id)
        before = len(rig.server.requests_to("/f"))
        started = rig.clock.now
        await rig.feeds.run_due()
        assert len(rig.server.requests_to("/f")) == before + 1
        waits.append((await rig.feed(feed.id)).next_fetch_at - started)
        rig.clock.advance(30)
        assert await rig.feeds.run_due() == []  # not fetched again before its backoff ends
    assert waits == [timedelta(seconds=s) for s in (60, 120, 240, 480)]

    rig.server.serve("/f", rss())  # fixed: back to ok, failures forgotten
    await rig.due(feed.id)
    await rig.feeds.run_due()
    row = await rig.feed(feed.id)
    assert (row.status, row.failures, row.last_error) == ("ok", 0, None)
    assert row.next_fetch_at == rig.clock.now + timedelta(seconds=60)


def test_backoff_jitter_and_cap() -> None:
    cap = timedelta(hours=6)
    assert backoff(900, 1, cap=cap, rnd=lambda: 1.0) == timedelta(seconds=900)
    assert backoff(900, 1, cap=cap, rnd=lambda: 0.0) == timedelta(seconds=450)
    assert backoff(900, 3, cap=cap, rnd=lambda: 1.0) == timedelta(seconds=3600)
    assert backoff(900, 50, cap=cap, rnd=lambda: 1.0) == cap
    assert backoff(900, 50, cap=cap, rnd=lambda: 0.0) == cap / 2
    assert backoff(86_400, 5, cap=cap, rnd=lambda: 1.0) == timedelta(days=1)  # never sooner
    assert backoff(60, 1, cap=cap, rnd=lambda: 0.0) == timedelta(seconds=60)  # floor


async def test_an_entry_that_cannot_be_stored_is_skipped_not_its_feed(rig: Rig) -> None:
    def geocode(place: str) -> GeoPoint | None:
        if "Boston" in place:
            raise RuntimeError("geocoder exploded")
        return offline_geocode(place)

    rig.feeds.geocode = geocode
    mixed = await rig.add(
        "/mixed",
        rss(
            item("b", "[USA-CA-San Jose] [H] Desk $50 [W] Cash"),  # newer, after the bad one
            item("a", "[USA-MA-Boston] [H] Desk $60 [W] Cash"),
        ),
    )
    other = await rig.add("/good", rss(item("c", "[USA-CA-San Jose] [H] Chair $40 [W] Cash")))
    results = {r.feed_id: r for r in await rig.feeds.run_due()}
    assert results[mixed.id].status == "ok" and results[mixed.id].new == 1
    assert results[other.id].status == "ok" and results[other.id].new == 1
    assert sorted(listing.title for listing in await rig.listings()) == ["Chair $40", "Desk $50"]


async def test_a_validator_longer_than_its_column_is_dropped(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL would refuse a 900-character ETag in its 500-character column and wedge the
    feed; the validator is dropped instead and the feed stays ok."""
    long_tag = '"' + "x" * 900 + '"'
    monkeypatch.setattr(type(rig.server.routes.get("/x") or Route("feed")), "etag", long_tag)
    feed = await rig.add("/long", rss(item("a", "Desk - $50")))
    await rig.feeds.run_due()
    row = await rig.feed(feed.id)
    assert row.status == "ok" and row.etag is None


# ------------------------------------------------------------------------ claims and the loop


async def test_paused_feeds_are_skipped_and_claims_hold_a_lease(rig: Rig) -> None:
    a = await rig.add("/a", rss())
    b = await rig.add("/b", rss())
    await rig.feeds.set_paused(GUILD, str(b.id), True)
    async with rig.s.sessions.begin() as session:
        claimed = await FeedRepository(session).claim_due(
            now=rig.clock.now, limit=10, lease=timedelta(minutes=5)
        )
    assert [r.id for r in claimed] == [a.id]
    assert await rig.feeds.run_due() == []  # a's lease holds it
    rig.clock.advance(5 * 60)
    assert [r.feed_id for r in await rig.feeds.run_due()] == [a.id]  # a dead claim comes back
    await rig.feeds.set_paused(GUILD, str(b.id), False)
    assert [r.feed_id for r in await rig.feeds.run_due()] == [b.id]  # resumed: due at once


async def test_run_forever_polls_until_stopped(rig: Rig) -> None:
    rig.feeds.settings = PollSettings(idle_seconds=0.05)
    task = asyncio.create_task(rig.feeds.run_forever())
    try:
        await rig.add("/d", rss(item("a", "Oak desk $120")))
        for _ in range(200):
            if await rig.listings():
                break
            await asyncio.sleep(0.02)
        assert [listing.title for listing in await rig.listings()] == ["Oak desk $120"]
    finally:
        rig.feeds.stop()
        await asyncio.wait_for(task, 2)
