"""Preferences applied to real deliveries: quiet hours, daily limit, digests, stop, fallback.

The clock is injected into the listing service, the dispatcher and the digest service, so every
test controls time exactly (no sleeps). Runs on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.delivery.senders.base import SendError
from bot.domain.rule import RuleInput
from bot.ingest.community import SellInput
from bot.services import Services
from db.models import OutboxStatus
from db.repositories.outbox import OutboxRepository
from tests.fakes import RecordingSender

BUYER, SELLER, GUILD = 21, 99, 500
Env = tuple[Services, dict[str, RecordingSender]]


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def use_clock(s: Services, start: datetime) -> Clock:
    clock = Clock(start)
    s.listings.clock = clock
    s.dispatcher.clock = clock
    s.digests.clock = clock
    return clock


async def setup(s: Services, **rule: str) -> None:
    await s.rules.create(
        BUYER,
        GUILD,
        RuleInput(name="Chairs", keywords="chair", **rule),  # type: ignore[arg-type]
    )


async def sell(s: Services, title: str = "Office chair", price: str = "50") -> int:
    result = await s.listings.sell(
        SellInput(title=title, price=price), seller_id=SELLER, seller_name="s", guild_id=GUILD
    )
    return result.listing.id


async def drain(s: Services) -> None:
    while await s.dispatcher.run_once():
        pass


async def rows(s: Services, listing_id: int) -> list[tuple[str, str, str | None]]:
    async with s.sessions() as session:
        found = await OutboxRepository(session).for_listing(listing_id)
    return [(r.channel, r.status, r.reason) for r in found]


def la(hour: int, minute: int = 0, day: int = 15) -> datetime:
    """A Los Angeles wall time in June 2026 (UTC-7) as UTC; 2026-06-15 is a Monday."""
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC) + timedelta(hours=7)


async def test_quiet_hours_hold_the_alert_until_the_window_ends(env: Env) -> None:
    s, senders = env
    clock = use_clock(s, la(23, 30))
    await s.preferences.set_timezone(BUYER, "America/Los_Angeles")
    await s.preferences.set_quiet_hours(BUYER, "22:00", "07:00")
    await setup(s)
    listing = await sell(s)
    await drain(s)
    assert senders["dm"].sent == []
    ((_, status, reason),) = await rows(s, listing)
    assert status == OutboxStatus.pending and reason == "quiet hours until 07:00"
    clock.now = la(6, 59, day=16)
    await drain(s)
    assert senders["dm"].sent == [], "still quiet a minute before the end"
    clock.now = la(7, 0, day=16)
    await drain(s)
    assert [a.listing.id for a in senders["dm"].sent] == [listing]


async def test_daily_limit_moves_the_overflow_to_the_next_digest(env: Env) -> None:
    s, senders = env
    clock = use_clock(s, la(12))
    await s.preferences.set_timezone(BUYER, "America/Los_Angeles")
    await s.preferences.set_daily_limit(BUYER, 2)
    await setup(s)
    ids = [await sell(s, f"Chair {n}", str(10 + n)) for n in range(3)]
    await drain(s)
    assert [a.listing.id for a in senders["dm"].sent] == ids[:2]
    ((_, status, reason),) = await rows(s, ids[2])
    assert status == OutboxStatus.digest and reason == "daily limit of 2 reached"

    clock.now = la(9, 0, day=16)  # the next daily digest, 09:00 local
    assert await s.digests.run_due() == 1
    assert await s.digests.run_due() == 0, "one digest per user and period"
    await drain(s)
    (digest,) = senders["dm"].digests
    assert [e.listing.id for e in digest.entries] == [ids[2]]
    assert digest.held_by_cap == 1 and digest.period == "daily:2026-06-16"
    assert (await rows(s, ids[2]))[0][1] == OutboxStatus.sent
    # A new local day resets the limit.
    fresh = await sell(s, "Chair tomorrow", "20")
    await drain(s)
    assert senders["dm"].sent[-1].listing.id == fresh


async def test_daily_digest_lists_each_listing_once_best_first(env: Env) -> None:
    s, senders = env
    clock = use_clock(s, la(10))
    await s.preferences.set_timezone(BUYER, "America/Los_Angeles")
    await s.preferences.set_frequency(BUYER, "daily")
    await setup(s)
    await s.rules.create(BUYER, GUILD, RuleInput(name="Office", keywords="office"))
    cheap = await sell(s, "Office chair", "30")
    dear = await sell(s, "Gaming chair", "300")
    await drain(s)
    assert senders["dm"].sent == [], "daily users get no immediate alerts"
    clock.now = la(8, 59, day=16)
    assert await s.digests.run_due() == 0, "not before the digest time"
    clock.now = la(9, 0, day=16)
    assert await s.digests.run_due() == 1
    await drain(s)
    (digest,) = senders["dm"].digests
    assert [e.listing.id for e in digest.entries] == [cheap, dear]
    assert digest.entries[0].rule_names == ("Chairs",), "two alerts matched: listed once"
    assert digest.entries[1].rule_names == ("Chairs",)


async def test_empty_digests_are_not_sent(env: Env) -> None:
    s, senders = env
    clock = use_clock(s, la(10))
    await s.preferences.set_frequency(BUYER, "daily")
    await setup(s)
    listing = await sell(s)
    rule = await s.rules.resolve(BUYER, "Chairs")
    await s.rules.delete(BUYER, rule.id)
    assert await s.feedback.not_interested(BUYER, listing)
    clock.advance(days=1)
    await s.digests.run_due()
    await drain(s)
    assert senders["dm"].digests == []


async def test_rule_frequency_overrides_the_user_default(env: Env) -> None:
    s, senders = env
    use_clock(s, la(10))
    await s.preferences.set_frequency(BUYER, "weekly")
    await setup(s, frequency="immediate")
    await sell(s)
    await drain(s)
    assert len(senders["dm"].sent) == 1


async def test_stop_and_pause_all_suppress_with_a_reason(env: Env) -> None:
    s, senders = env
    use_clock(s, la(10))
    await setup(s)
    await s.preferences.stop(BUYER)
    stopped = await sell(s)
    await s.preferences.resume_all(BUYER)
    await s.preferences.pause_all(BUYER)
    paused = await sell(s, "Desk chair")
    await drain(s)
    assert senders["dm"].sent == []
    assert (await rows(s, stopped))[0][1:] == (
        OutboxStatus.suppressed,
        "you stopped all alerts (/prefs stop)",
    )
    assert (await rows(s, paused))[0][2] == "alerts paused (/prefs pause-all)"


async def test_category_filter_applies_to_every_rule(env: Env) -> None:
    s, senders = env
    use_clock(s, la(10))
    await s.preferences.set_categories(BUYER, "Furniture")
    await setup(s)
    await s.listings.sell(
        SellInput(title="Chair", price="5", category="Furniture - Office"),
        seller_id=SELLER, seller_name="s", guild_id=GUILD,
    )  # fmt: skip
    outside = await sell(s, "Camping chair")
    await drain(s)
    assert [a.listing.title for a in senders["dm"].sent] == ["Chair"]
    assert (await rows(s, outside))[0][2] == "outside your category filter"


async def test_email_that_cannot_be_delivered_falls_back_to_dm(env: Env) -> None:
    s, senders = env
    use_clock(s, la(10))
    senders["email"] = RecordingSender("email")
    s.dispatcher.senders = dict(senders)
    await setup(s, channels="email")
    senders["email"].fail_next(
        SendError("no verified email address", permanent=True, unreachable=True)
    )
    listing = await sell(s)
    await drain(s)
    assert [a.listing.id for a in senders["dm"].sent] == [listing]
    statuses = sorted((c, st) for c, st, _ in await rows(s, listing))
    assert statuses == [("dm", OutboxStatus.sent), ("email", OutboxStatus.failed)]


async def test_smtp_outage_retries_then_falls_back_to_dm(env: Env) -> None:
    s, senders = env
    clock = use_clock(s, la(10))
    senders["email"] = RecordingSender("email")
    s.dispatcher.senders = dict(senders)
    await setup(s, channels="email")
    senders["email"].fail_next(*[SendError("SMTP unavailable", permanent=False)] * 20)
    listing = await sell(s)
    for _ in range(10):
        await drain(s)
        clock.advance(hours=1)
    statuses = sorted((c, st) for c, st, _ in await rows(s, listing))
    assert statuses == [("dm", OutboxStatus.sent), ("email", OutboxStatus.failed)]
    stats = await s.admin.stats(GUILD)
    assert any("SMTP unavailable" in reason for reason, _ in stats.top_failures)
