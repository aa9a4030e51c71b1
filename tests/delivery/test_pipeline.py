"""The delivery path end to end inside one process: /sell → index → outbox → dispatcher → sender.

Runs on SQLite and, with DEALSCOUT_TEST_PG_URL, on PostgreSQL. The senders are recording doubles
that fail the way Discord fails (50007, 429, 5xx); the real Discord wire is tested in tests/e2e.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.delivery.senders.base import SendError
from bot.domain.listing import Listing
from bot.domain.rule import RuleInput
from bot.ingest.community import SellInput
from bot.services import Services
from bot.services.rules import build_index
from db.models import OutboxStatus, utcnow
from db.repositories.outbox import OutboxRepository
from tests.fakes import RecordingSender, SimulatedCrash

BUYER_A, BUYER_B, SELLER, GUILD = 11, 12, 99, 500

CHAIR = SellInput(
    title="Vintage Leather Gaming Chair",
    price="299.99",
    condition="excellent",
    category="Furniture - Gaming",
    location="San Jose, CA",
)

Env = tuple[Services, dict[str, RecordingSender]]


async def walkthrough_rules(s: Services, channels: str = "dm") -> None:
    await s.rules.create(
        BUYER_A,
        GUILD,
        RuleInput(
            name="Gaming Furniture Under $350",
            keywords="gaming, chair",
            min_price="100",
            max_price="350",
            category="Furniture",
            channels=channels,
        ),
    )
    await s.rules.create(
        BUYER_B,
        GUILD,
        RuleInput(
            name="Any Furniture Under $500",
            exclude="damaged, broken",
            max_price="500",
            category="Furniture",
            condition="good",
            channels=channels,
        ),
    )


async def sell(s: Services, data: SellInput = CHAIR, seller: int = SELLER) -> int:
    result = await s.listings.sell(data, seller_id=seller, seller_name="seller", guild_id=GUILD)
    return result.listing.id


async def drain(s: Services) -> None:
    while await s.dispatcher.run_once():
        pass


async def statuses(s: Services, listing_id: int) -> list[tuple[int, str, str, str | None]]:
    async with s.sessions() as session:
        rows = await OutboxRepository(session).for_listing(listing_id)
    return [(r.user_id, r.channel, r.status, r.reason) for r in rows]


def advance(s: Services, seconds: float) -> None:
    start = utcnow()
    s.dispatcher.clock = lambda: start + timedelta(seconds=seconds)


async def test_walkthrough_delivers_each_buyer_once(env: Env) -> None:
    s, senders = env
    await walkthrough_rules(s)
    listing_id = await sell(s)
    await drain(s)
    got = sorted((a.user_id, a.rule.name) for a in senders["dm"].sent)
    assert got == [
        (BUYER_A, "Gaming Furniture Under $350"),
        (BUYER_B, "Any Furniture Under $500"),
    ]
    assert all(a.listing.id == listing_id for a in senders["dm"].sent)
    assert {st for _, _, st, _ in await statuses(s, listing_id)} == {OutboxStatus.sent}
    # Matching the same listing again queues nothing new: one alert per (user, listing, channel).
    listing = senders["dm"].sent[0].listing
    async with s.sessions.begin() as session:
        from bot.delivery.outbox import plan_alerts
        from db.repositories.rules import RuleRepository

        rules = await RuleRepository(session).get_many(s.index.match(listing))
        assert await OutboxRepository(session).enqueue(plan_alerts(listing, rules)) == 0


async def test_non_matching_listings_alert_nobody(env: Env) -> None:
    s, senders = env
    await walkthrough_rules(s)
    await sell(s, SellInput(title="Broken gaming chair", price="120", category="Furniture"))
    await sell(s, SellInput(title="Gaming chair deluxe", price="900", category="Furniture"))
    await drain(s)
    # "broken" is excluded by B; A's rule matches the first (no exclusions) but not the $900 one.
    assert [(a.user_id, a.listing.title) for a in senders["dm"].sent] == [
        (BUYER_A, "Broken gaming chair")
    ]


async def test_seller_is_not_alerted_about_own_listing(env: Env) -> None:
    s, senders = env
    await walkthrough_rules(s)
    await sell(s, seller=BUYER_A)
    await drain(s)
    assert [a.user_id for a in senders["dm"].sent] == [BUYER_B]


async def test_paused_rule_gets_nothing_and_resumed_rule_does(env: Env) -> None:
    s, senders = env
    await walkthrough_rules(s)
    await s.rules.set_active(BUYER_A, "Gaming Furniture Under $350", False)
    await sell(s)
    await drain(s)
    assert [a.user_id for a in senders["dm"].sent] == [BUYER_B]
    await s.rules.set_active(BUYER_A, "gaming furniture under $350", True)
    await sell(s, SellInput(title="RGB gaming chair", price="150", category="Furniture"))
    await drain(s)
    assert BUYER_A in [a.user_id for a in senders["dm"].sent]


async def test_dms_closed_falls_back_to_alert_channel_once_and_is_remembered(env: Env) -> None:
    s, senders = env
    await s.admin.set_alert_channel(GUILD, 777)
    await walkthrough_rules(s)
    senders["dm"].fail_next(SendError("DMs closed", permanent=True, unreachable=True))
    first = await sell(s)
    await drain(s)
    rows = await statuses(s, first)
    failed = [r for r in rows if r[2] == OutboxStatus.failed]
    assert len(failed) == 1 and failed[0][3] == "DMs closed"
    fallback = senders["channel"].sent
    assert len(fallback) == 1 and fallback[0].is_fallback
    closed_user = failed[0][0]
    assert fallback[0].user_id == closed_user
    stats = await s.admin.stats(GUILD)
    assert stats.dms_closed_users == 1
    assert stats.alerts.failed == 1 and stats.alerts.sent == 2
    # Next time the closed user's DM is not even attempted: straight to the channel.
    attempts_before = len(senders["dm"].attempts)
    await sell(s, SellInput(title="Office gaming chair", price="200", category="Furniture"))
    await drain(s)
    dm_users = [a.user_id for a in senders["dm"].attempts[attempts_before:]]
    assert closed_user not in dm_users
    assert len(senders["channel"].sent) == 2


async def test_dms_closed_without_alert_channel_fails_visibly(env: Env) -> None:
    s, senders = env
    await walkthrough_rules(s)
    senders["dm"].fail_next(
        SendError("DMs closed", permanent=True, unreachable=True),
        SendError("DMs closed", permanent=True, unreachable=True),
    )
    listing_id = await sell(s)
    await drain(s)
    assert {(st, reason) for _, _, st, reason in await statuses(s, listing_id)} == {
        (OutboxStatus.failed, "DMs closed")
    }
    assert senders["channel"].sent == []


async def test_rate_limited_send_is_retried_after_retry_after_and_delivered_once(env: Env) -> None:
    s, senders = env
    await walkthrough_rules(s)
    senders["dm"].fail_next(
        SendError("rate limited", permanent=False, retry_after=30),
        SendError("Discord error 503", permanent=False),
    )
    listing_id = await sell(s)
    await drain(s)
    assert len(senders["dm"].sent) == 0, "both buyers' first tries failed"
    pending = [r for r in await statuses(s, listing_id) if r[2] == OutboxStatus.pending]
    assert pending, "the rate-limited alert waits for its retry"
    advance(s, 31)
    await drain(s)
    advance(s, 31 + 3600)
    await drain(s)
    assert sorted(a.user_id for a in senders["dm"].sent) == [BUYER_A, BUYER_B]
    assert {st for _, _, st, _ in await statuses(s, listing_id)} == {OutboxStatus.sent}


async def test_gives_up_after_max_attempts_with_reason(env: Env) -> None:
    s, senders = env
    await s.rules.create(BUYER_A, GUILD, RuleInput(name="chairs", keywords="chair"))
    senders["dm"].fail_next(*[SendError("Discord error 500", permanent=False)] * 20)
    listing_id = await sell(s)
    for hour in range(1, 20):
        advance(s, hour * 3600)
        await drain(s)
    ((_, _, status, reason),) = await statuses(s, listing_id)
    assert status == OutboxStatus.failed
    assert reason is not None and "gave up after 8 tries" in reason


async def test_crash_between_claim_and_send_loses_nothing(env: Env) -> None:
    s, senders = env
    await walkthrough_rules(s)
    listing_id = await sell(s)
    # A dispatcher claims the rows and dies before sending anything.
    async with s.sessions.begin() as session:
        claimed = await OutboxRepository(session).claim_due(
            now=utcnow(), limit=10, lease=timedelta(seconds=60)
        )
    assert len(claimed) == 2
    await drain(s)
    assert senders["dm"].sent == [], "leased rows are not taken while the lease holds"
    advance(s, 61)
    await drain(s)
    assert sorted(a.user_id for a in senders["dm"].sent) == [BUYER_A, BUYER_B]
    assert {st for _, _, st, _ in await statuses(s, listing_id)} == {OutboxStatus.sent}


async def test_crash_after_send_before_record_does_not_double_post(env: Env) -> None:
    s, senders = env
    await s.rules.create(BUYER_A, GUILD, RuleInput(name="chairs", keywords="chair"))
    listing_id = await sell(s)
    senders["dm"].crash_after_send = True
    with pytest.raises(SimulatedCrash):
        await s.dispatcher.run_once()
    senders["dm"].crash_after_send = False
    assert len(senders["dm"].sent) == 1
    advance(s, 61)
    await drain(s)
    assert len(senders["dm"].attempts) == 2, "the row was resent after the lease expired"
    assert len(senders["dm"].sent) == 1, "with the same nonce, so Discord kept one message"
    assert {st for _, _, st, _ in await statuses(s, listing_id)} == {OutboxStatus.sent}


async def test_deleted_rule_and_not_interested_are_suppressed_with_reason(env: Env) -> None:
    s, senders = env
    await walkthrough_rules(s)
    rule_a = await s.rules.resolve(BUYER_A, "Gaming Furniture Under $350")
    listing_id = await sell(s)  # queued, not yet delivered
    assert await s.rules.delete(BUYER_A, rule_a.id)
    assert await s.feedback.not_interested(BUYER_B, listing_id)
    await drain(s)
    assert senders["dm"].sent == []
    reasons = {reason for _, _, _, reason in await statuses(s, listing_id)}
    assert reasons == {"alert deleted before delivery", "user marked the listing not interested"}


async def test_index_is_rebuilt_from_the_database_on_start(env: Env) -> None:
    s, _ = env
    await walkthrough_rules(s)
    await s.rules.set_active(BUYER_B, "Any Furniture Under $500", False)
    rebuilt = await build_index(s.sessions)
    assert len(rebuilt) == len(s.index) == 2
    chair = Listing(id=1, title="gaming chair", price=Decimal("200"), category="Furniture")
    rule_a = await s.rules.resolve(BUYER_A, "Gaming Furniture Under $350")
    assert rebuilt.match(chair) == s.index.match(chair) == [rule_a.id]
