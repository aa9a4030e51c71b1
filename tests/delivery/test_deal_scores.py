"""The deal score in the ingest path: comparables from the database, a fresh score after a price
change, and no score for a price too far off to believe (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

from bot.domain.listing import Listing
from bot.services import Services
from db.repositories.listings import ListingRepository
from tests.delivery.test_pipeline import Env

D = Decimal


async def stock(s: Services, prices: list[int]) -> None:
    for n, price in enumerate(prices):
        await s.listings.ingest(
            Listing(
                id=0, title=f"RTX 4090 Founders Edition #{n}", price=D(price), category="Computers"
            )
        )


async def score_of(s: Services, listing_id: int) -> tuple[float | None, str | None]:
    async with s.sessions() as session:
        found = await ListingRepository(session).get(listing_id)
    assert found is not None
    return found.deal_score, found.deal_reason


async def test_a_new_listing_is_scored_against_similar_ones(env: Env) -> None:
    s, _ = env
    await stock(s, [1500, 1550, 1600, 1650, 1700, 1600])
    cheap = await s.listings.ingest(
        Listing(id=0, title="RTX 4090 Founders Edition", price=D(1200), category="Computers")
    )
    score, reason = await score_of(s, cheap.listing.id)
    assert score is not None and score > 0.6
    assert reason == "25% below the median of 6 similar listings"


async def test_too_few_similar_listings_is_said_not_guessed(env: Env) -> None:
    s, _ = env
    await stock(s, [1500, 1600])
    lone = await s.listings.ingest(
        Listing(id=0, title="RTX 4090 Founders Edition", price=D(1200), category="Computers")
    )
    assert await score_of(s, lone.listing.id) == (None, "only 2 similar listings")


async def test_a_price_too_good_to_be_true_gets_no_score(env: Env) -> None:
    s, _ = env
    await stock(s, [1500, 1550, 1600, 1650, 1700, 1600])
    bait = await s.listings.ingest(
        Listing(id=0, title="RTX 4090 Founders Edition", price=D(1), category="Computers")
    )
    score, reason = await score_of(s, bait.listing.id)
    assert score is None and reason is not None and reason.startswith("suspicious: ")


async def test_a_price_change_rescores_the_listing(env: Env) -> None:
    s, _ = env
    await stock(s, [1500, 1550, 1600, 1650, 1700, 1600])
    item = await s.listings.ingest(
        Listing(id=0, title="RTX 4090 Founders Edition", price=D(1600), category="Computers")
    )
    before, _ = await score_of(s, item.listing.id)
    await s.listings.revise(item.listing.id, price=D(1200))
    after, reason = await score_of(s, item.listing.id)
    assert before is not None and after is not None and after > before
    assert reason == "25% below the median of 6 similar listings"  # itself not counted
