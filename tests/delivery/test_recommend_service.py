"""RecommendationService on SQLite and PostgreSQL: which listings are candidates (not alerted,
not one's own, not dismissed, not watched, recent, active, public), and feedback ("Not
interested", a watch) changing later results."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from bot.domain.listing import Listing
from bot.domain.rule import RuleInput
from bot.errors import NotFoundError, UserFacingError
from bot.services import Services
from bot.services.recommend import WINDOW, Exclusion, parse_listing_ref
from db.models import ListingRow, WatchRow, utcnow
from db.repositories.outbox import OutboxRepository
from tests.fakes import RecordingSender

Env = tuple[Services, dict[str, RecordingSender]]

ALICE, BOB, CAROL, SELLER = 21, 22, 23, 99
GUILD = 500


async def add(
    s: Services,
    title: str,
    price: str,
    *,
    seller: int = SELLER,
    score: float | None = None,
    reason: str | None = None,
    **kw: object,
) -> int:
    """Ingest a listing as /sell would, then pin its deal score (the real one needs a market)."""
    listing = Listing(
        id=0,
        title=title,
        price=Decimal(price),
        seller_id=seller,
        seller_name="seller",
        guild_id=GUILD,
        **kw,  # type: ignore[arg-type]
    )
    result = await s.listings.ingest(listing)
    lid = result.listing.id
    if score is not None:
        async with s.sessions.begin() as session:
            await session.execute(
                update(ListingRow)
                .where(ListingRow.id == lid)
                .values(deal_score=score, deal_reason=reason)
            )
    return lid


async def rule(s: Services, user: int, name: str, keywords: str, **kw: str) -> None:
    await s.rules.create(user, GUILD, RuleInput(name=name, keywords=keywords, **kw))


async def watch(s: Services, user: int, listing_id: int) -> None:
    async with s.sessions.begin() as session:
        session.add(WatchRow(user_id=user, listing_id=listing_id, start_cents=1, lowest_cents=1))


async def ids_for(s: Services, user: int) -> list[int]:
    return [r.listing.id for r in (await s.recommend.for_me(user)).items]


async def test_candidates_exclude_alerted_own_dismissed_old_ended_and_private(env: Env) -> None:
    s, _ = env
    await rule(s, ALICE, "Desks", "desk", max_price="300")
    alerted = await add(s, "Oak desk", "200")  # a match: Alice is alerted
    near = await add(s, "Walnut desk", "330")  # 10% over her max: a near miss, no alert
    own = await add(s, "Pine desk", "320", seller=ALICE)
    dismissed = await add(s, "Cherry desk", "340")
    old = await add(s, "Maple desk", "310", created_at=utcnow() - WINDOW - timedelta(days=1))
    sold = await add(s, "Teak desk", "310")
    await s.listings.revise(sold, status="sold")
    private = await add(s, "Desk (Discogs offer)", "310", source="discogs")
    await s.feedback.not_interested(ALICE, dismissed)
    async with s.sessions() as session:
        assert [r.user_id for r in await OutboxRepository(session).for_listing(alerted)] == [ALICE]

    result = await s.recommend.for_me(ALICE)
    assert result.personal
    assert [r.listing.id for r in result.items] == [near]
    [item] = result.items
    assert [c.kind.value for c in item.reason] == ["alert_near"]
    assert item.reason[0].fit is not None and item.reason[0].fit.price_over == pytest.approx(0.1)

    # Someone else's alerts, listings and dismissals change nothing for Alice ...
    await s.feedback.not_interested(BOB, near)
    await rule(s, BOB, "Bob desks", "desk")
    assert await ids_for(s, ALICE) == [near]
    # ... and what Alice was alerted to, sold or dismissed is still there for Bob (his new alert
    # matches them exactly; equal scores go newest first), but not what he dismissed.
    assert await ids_for(s, BOB) == [dismissed, own, alerted]

    why = {e: await s.recommend.why(ALICE, str(i)) for e, i in [
        (Exclusion.ALERTED, alerted),
        (Exclusion.OWN, own),
        (Exclusion.NOT_INTERESTED, dismissed),
        (Exclusion.TOO_OLD, old),
        (Exclusion.NOT_ACTIVE, sold),
    ]}  # fmt: skip
    for exclusion, explanation in why.items():
        assert explanation.exclusions == (exclusion,)
        assert explanation.position is None
    with pytest.raises(NotFoundError) as missing:
        await s.recommend.why(ALICE, str(private))  # someone's wanted offer: not visible
    assert missing.value.field == "listing"


async def test_not_interested_changes_later_results(env: Env) -> None:
    s, _ = env
    aeron = await add(
        s, "Herman Miller Aeron chair size B", "450",
        score=0.62, reason="20% below the median of 20 similar listings",
    )  # fmt: skip
    graphite = await add(
        s, "Aeron chair graphite", "500",
        score=0.6, reason="18% below the median of 20 similar listings",
    )  # fmt: skip
    leap = await add(
        s, "Steelcase Leap chair", "350",
        score=0.58, reason="15% below the median of 20 similar listings",
    )  # fmt: skip
    await rule(s, ALICE, "Office chairs", "chair")  # after the listings: no alerts went out
    assert await ids_for(s, ALICE) == [aeron, graphite, leap]

    assert await s.feedback.not_interested(ALICE, graphite)
    after = await ids_for(s, ALICE)
    assert graphite not in after
    assert after == [leap, aeron]  # the other Aeron sinks below the Leap
    why = await s.recommend.why(ALICE, f"#{aeron}")
    assert why.position == 2 and why.ranked == 2
    [penalty] = [
        c for c in why.recommendation.breakdown if c.kind.value == "not_interested_similar"
    ]
    assert penalty.counted and penalty.points < 0 and penalty.subject_id == graphite


async def test_a_watch_changes_later_results(env: Env) -> None:
    s, _ = env
    leap = await add(
        s,
        "Steelcase Leap chair",
        "350",
        score=0.6,
        reason="18% below the median of 9 similar listings",
    )
    aeron = await add(
        s,
        "Herman Miller Aeron chair",
        "450",
        score=0.55,
        reason="10% below the median of 9 similar listings",
    )
    other = await add(s, "Aeron chair graphite", "500")
    desk = await add(
        s, "Oak desk", "90", score=0.8, reason="50% below the median of 9 similar listings"
    )
    await rule(s, ALICE, "Office chairs", "chair")
    assert await ids_for(s, ALICE) == [leap, aeron, other]

    await watch(s, ALICE, other)
    after = (await s.recommend.for_me(ALICE)).items
    assert [r.listing.id for r in after] == [aeron, leap]  # the watched one itself drops out
    assert [c.kind.value for c in after[0].reason] == ["alert_match", "watch_similar", "deal"]
    assert after[0].reason[1].subject == "Aeron chair graphite"
    assert (await s.recommend.why(ALICE, str(other))).exclusions == (Exclusion.WATCHING,)
    # Carol's watch is hers: it hides the desk from her (and nothing like it is for sale),
    # and changes nothing for Alice.
    await watch(s, CAROL, desk)
    assert await ids_for(s, CAROL) == []
    assert await ids_for(s, ALICE) == [aeron, leap]


async def test_without_alerts_the_best_deals_and_why_ranks_consistently(env: Env) -> None:
    s, _ = env
    cheap = await add(
        s, "Oak desk", "90", score=0.8, reason="50% below the median of 9 similar listings"
    )
    fair = await add(
        s, "Lamp", "20", score=0.55, reason="10% below the median of 9 similar listings"
    )
    await add(s, "Sofa", "900", score=0.3, reason="53% above the median of 9 similar listings")
    await add(s, "Mystery box", "5")
    result = await s.recommend.for_me(ALICE)
    assert not result.personal and result.considered == 4
    assert [r.listing.id for r in result.items] == [cheap, fair]
    why = await s.recommend.why(ALICE, str(fair))
    assert (why.position, why.ranked, why.exclusions, why.personal) == (2, 2, (), False)


async def test_why_names_the_listing_field_on_bad_input(env: Env) -> None:
    s, _ = env
    for bad in ("abc", "", "12 desks", "-3"):
        with pytest.raises(UserFacingError) as error:
            await s.recommend.why(ALICE, bad)
        assert error.value.field == "listing"
    for missing in ("0", "424242", str(2**63)):
        with pytest.raises(NotFoundError) as error:
            await s.recommend.why(ALICE, missing)
        assert error.value.field == "listing"
    assert parse_listing_ref(" #17 ") == 17
    assert parse_listing_ref("https://example.com/listings/17?x=1") == 17


async def test_why_lists_every_alert_of_the_user_only(env: Env) -> None:
    s, _ = env
    lid = await add(s, "Walnut desk", "330")
    await rule(s, ALICE, "Desks", "desk", max_price="300")
    await rule(s, ALICE, "Lamps", "lamp")
    await rule(s, BOB, "Bob desks", "desk")
    why = await s.recommend.why(ALICE, str(lid))
    assert [v.rule.name for v in why.rules] == ["Desks", "Lamps"]
    desks, lamps = why.rules
    assert desks.fit is not None and not desks.fit.strict
    assert lamps.fit is None and [c.name for c in lamps.failed] == ["keywords"]
    assert why.position == 1


async def test_search_offers_recent_public_listings(env: Env) -> None:
    s, _ = env
    desk = await add(s, "Oak desk 100% solid", "90")
    await add(s, "Lamp", "20")
    await add(s, "Desk offer", "20", source="discogs")
    assert [x.id for x in await s.recommend.search("desk")] == [desk]
    assert [x.id for x in await s.recommend.search("100%")] == [desk]
    assert [x.id for x in await s.recommend.search(f"#{desk}")] == [desk]
    assert len(await s.recommend.search("")) == 2


async def test_the_clock_bounds_the_window(env: Env) -> None:
    s, _ = env
    lid = await add(s, "Oak desk", "90")
    await rule(s, ALICE, "Desks", "desk", max_price="80")
    assert await ids_for(s, ALICE) == [lid]
    s.recommend.clock = lambda: utcnow() + WINDOW + timedelta(hours=1)
    assert await ids_for(s, ALICE) == []
    assert (await s.recommend.why(ALICE, str(lid))).exclusions == (Exclusion.TOO_OLD,)
