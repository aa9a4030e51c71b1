"""Repository behaviour on SQLite and (with DEALSCOUT_TEST_PG_URL) PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.outbox import alert_key, nonce_for
from bot.domain.listing import Condition, GeoPoint, Listing
from bot.domain.rule import Channel, Rule
from db.migrate import upgrade
from db.models import OutboxStatus, utcnow
from db.repositories.listings import ListingRepository
from db.repositories.outbox import NewAlert, OutboxRepository
from db.repositories.rules import RuleRepository
from db.session import make_engine, make_sessionmaker
from tests.dbutil import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
async def sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with database_url(request.param, tmp_path) as url:
        engine = make_engine(url)
        await upgrade(engine)
        try:
            yield make_sessionmaker(engine)
        finally:
            await engine.dispose()


def rule(user_id: int, name: str, **kw: object) -> Rule:
    return Rule(id=0, user_id=user_id, name=name, keywords=("chair",), **kw)  # type: ignore[arg-type]


async def test_rule_round_trip_keeps_every_field(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    full = rule(
        1,
        "Full",
        exclude=("broken",),
        min_price=Decimal("100.00"),
        max_price=Decimal("350.50"),
        categories=("Furniture",),
        min_condition=Condition.good,
        location_text="95112",
        point=GeoPoint(37.3, -121.9),
        radius_mi=50.0,
        min_deal_score=0.6,
        channels=frozenset({Channel.dm, Channel.channel}),
        guild_id=9,
    )
    async with sessions.begin() as s:
        stored = await RuleRepository(s).add(full)
    async with sessions() as s:
        loaded = await RuleRepository(s).get(stored.id)
    assert loaded is not None
    assert loaded == full.__class__(**{**_fields(full), "id": stored.id})


def _fields(r: Rule) -> dict[str, object]:
    return {name: getattr(r, name) for name in r.__slots__}  # type: ignore[attr-defined]


async def test_users_cannot_see_each_others_rules(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as s:
        mine = await RuleRepository(s).add(rule(1, "Mine"))
        await RuleRepository(s).add(rule(2, "Theirs"))
    async with sessions.begin() as s:
        repo = RuleRepository(s)
        assert await repo.get_own(2, mine.id) is None
        assert await repo.find_by_name(2, "mine") is None
        assert await repo.delete(2, mine.id) is False
        assert [r.name for r in await repo.list_for_user(1)] == ["Mine"]
        assert [r.name for r in await repo.search_names(2, "")] == ["Theirs"]
        assert await repo.get_own(1, mine.id) is not None


async def test_name_search_treats_wildcards_literally(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as s:
        for name in ("50% off", "chairs_all", "desk"):
            await RuleRepository(s).add(rule(1, name))
    async with sessions() as s:
        repo = RuleRepository(s)
        assert [r.name for r in await repo.search_names(1, "%")] == ["50% off"]
        assert [r.name for r in await repo.search_names(1, "_")] == ["chairs_all"]


async def test_outbox_dedupes_and_claims_each_row_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as s:
        listing = await ListingRepository(s).add(Listing(id=0, title="chair", price=Decimal(5)))
    alerts = [
        NewAlert(alert_key(u, listing.id, "dm"), u, "dm", nonce_for(alert_key(u, listing.id, "dm")),
                 listing_id=listing.id)
        for u in range(1, 41)
    ]  # fmt: skip
    async with sessions.begin() as s:
        assert await OutboxRepository(s).enqueue(alerts) == 40
    async with sessions.begin() as s:
        assert await OutboxRepository(s).enqueue(alerts[:5]) == 0

    async def claim() -> list[int]:
        got: list[int] = []
        while True:
            async with sessions.begin() as s:
                rows = await OutboxRepository(s).claim_due(
                    now=utcnow(), limit=3, lease=timedelta(minutes=1)
                )
            if not rows:
                return got
            got.extend(r.id for r in rows)
            await asyncio.sleep(0)

    claimed = await asyncio.gather(claim(), claim(), claim())
    flat = [i for ids in claimed for i in ids]
    assert len(flat) == 40 and len(set(flat)) == 40, "concurrent claimers never share a row"
    async with sessions() as s:
        counts = await OutboxRepository(s).counts()
    assert counts.sending == 40 and counts.pending == 0
    assert all(len(nonce_for(a.dedupe_key)) <= 25 for a in alerts)
    assert OutboxStatus.sending == "sending"


async def test_comparables_use_top_category_currency_window_and_status(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    async with sessions.begin() as s:
        repo = ListingRepository(s)
        for price, cat, cur, age, status in [
            (10, "Furniture - Chairs", "USD", 1, "active"),
            (20, "Furniture", "USD", 2, "sold"),
            (25, "Furniture", "USD", 3, "removed"),
            (30, "Electronics", "USD", 1, "active"),
            (40, "Furniture - Desks", "EUR", 1, "active"),
            (50, "Furniture", "USD", 120, "active"),
        ]:
            await repo.add(
                Listing(
                    id=0,
                    title="Oak office chair",
                    price=Decimal(price),
                    category=cat,
                    currency=cur,
                    status=status,
                    created_at=now - timedelta(days=age),
                )
            )
    async with sessions() as s:
        found = await ListingRepository(s).comparables(
            "Furniture - Gaming", "USD", now - timedelta(days=90)
        )
    assert sorted((c.price, c.sold) for c in found) == [
        (Decimal("10.00"), False),
        (Decimal("20.00"), True),
    ]
    assert found[0].tokens == frozenset({"oak", "office", "chair"})
