"""Price watches end to end below Discord: a seller's change → the watch's state machine →
policy → outbox (kind ``watch_alert``) → dispatcher → senders, with failover like deal alerts.

Runs on SQLite and, with DEALSCOUT_TEST_PG_URL, on PostgreSQL. Senders are recording doubles.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.delivery.senders.base import OutgoingAlert, SendError
from bot.delivery.subjects import rule_for, rules_for
from bot.domain.rule import RuleInput
from bot.domain.watch import ENDED_SOLD
from bot.errors import NotFoundError, UserFacingError
from bot.ingest.community import SellInput
from bot.services import Services
from db.models import OutboxRow, OutboxStatus, WatchRow
from db.repositories.outbox import ALERT_KINDS
from db.repositories.preferences import PreferencesRepository
from tests.fakes import RecordingSender

BUYER, OTHER, SELLER, GUILD, ELSEWHERE = 31, 32, 99, 500, 600
Env = tuple[Services, dict[str, RecordingSender]]
DMS_CLOSED = SendError("DMs closed", permanent=True, unreachable=True)


async def listed(
    s: Services, title: str = "Oak desk", price: str = "100", guild: int = GUILD
) -> int:
    result = await s.listings.sell(
        SellInput(title=title, price=price), seller_id=SELLER, seller_name="Sam", guild_id=guild
    )
    return result.listing.id


async def drain(s: Services) -> None:
    while await s.dispatcher.run_once():
        pass


async def watch_rows(s: Services) -> list[OutboxRow]:
    async with s.sessions() as session:
        found = await session.scalars(
            select(OutboxRow).where(OutboxRow.kind == "watch_alert").order_by(OutboxRow.id)
        )
        return list(found)


async def reprice(s: Services, listing_id: int, price: str) -> None:
    await s.watchlist.edit_price(SELLER, str(listing_id), price)


def prices(alerts: list[OutgoingAlert]) -> list[int | None]:
    return [(a.listing.details or {}).get("new_cents") for a in alerts]


@pytest.fixture
def recording(env: Env) -> Env:
    s, senders = env
    senders["email"] = RecordingSender("email")
    s.dispatcher.senders = dict(senders)
    return s, senders


async def test_the_kind_is_an_alert_kind() -> None:
    assert "watch_alert" in ALERT_KINDS


async def test_a_drop_to_the_target_alerts_once_and_a_new_low_again(env: Env) -> None:
    s, senders = env
    listing = await listed(s)
    added = await s.watchlist.add(BUYER, str(listing), "85", guild_id=GUILD)
    assert added.created and not added.already_met
    assert added.watch.target_price == Decimal("85.00") and added.watch.drop_percent is None

    await reprice(s, listing, "90")  # a drop, but not to the target
    await drain(s)
    assert senders["dm"].sent == []

    await reprice(s, listing, "85")  # the target: alert
    await drain(s)
    (alert,) = senders["dm"].sent
    assert alert.kind == "watch_alert" and alert.user_id == BUYER
    details = alert.listing.details or {}
    assert (details["old_cents"], details["new_cents"], details["target_cents"]) == (
        9000,
        8500,
        8500,
    )
    assert details["event"] == "target_reached" and details["listing_id"] == listing
    assert alert.rule.name == "Oak desk" and alert.rule.user_id == BUYER

    for again in ("95", "85", "90", "85"):  # a rise and back to the same low: nothing new
        await reprice(s, listing, again)
    await drain(s)
    assert len(senders["dm"].sent) == 1, "the same price never alerts twice"

    await reprice(s, listing, "80")  # a new low that still meets the target
    await drain(s)
    assert prices(senders["dm"].sent) == [8500, 8000]
    [watch] = await s.watchlist.watches(BUYER)
    assert watch.lowest == Decimal("80.00") and watch.alerts == 2 and watch.active
    assert [r.status for r in await watch_rows(s)] == [OutboxStatus.sent] * 2


async def test_a_drop_by_percent(env: Env) -> None:
    s, senders = env
    listing = await listed(s)
    await s.watchlist.add(BUYER, listing, drop_percent=20, guild_id=GUILD)
    await reprice(s, listing, "81")
    await drain(s)
    assert senders["dm"].sent == []
    await reprice(s, listing, "80")
    await drain(s)
    (alert,) = senders["dm"].sent
    assert (alert.listing.details or {})["event"] == "dropped_by_percent"


async def test_no_target_means_a_ten_percent_drop(env: Env) -> None:
    s, _ = env
    listing = await listed(s)
    added = await s.watchlist.add(BUYER, listing, guild_id=GUILD)
    assert added.watch.drop_percent == 10 and added.watch.drop_price == Decimal("90.00")


async def test_every_watcher_hears_and_the_seller_is_never_one(env: Env) -> None:
    s, senders = env
    listing = await listed(s)
    await s.watchlist.add(BUYER, listing, "90", guild_id=GUILD)
    await s.watchlist.add(OTHER, listing, "70", guild_id=GUILD)
    with pytest.raises(UserFacingError) as own:
        await s.watchlist.add(SELLER, listing, "90", guild_id=GUILD)
    assert own.value.field == "listing"
    await reprice(s, listing, "75")
    await drain(s)
    assert [a.user_id for a in senders["dm"].sent] == [BUYER]
    await reprice(s, listing, "70")
    await drain(s)
    assert sorted(a.user_id for a in senders["dm"].sent) == [BUYER, BUYER, OTHER]


async def test_sold_ends_the_watch_with_a_note_and_tells_once(env: Env) -> None:
    s, senders = env
    listing = await listed(s)
    await s.watchlist.add(BUYER, listing, "50", guild_id=GUILD)
    change = await s.watchlist.mark_sold(SELLER, str(listing))
    assert change.listing.status == "sold"
    await drain(s)
    (notice,) = senders["dm"].sent
    assert notice.kind == "watch_alert"
    assert (notice.listing.details or {})["event"] == "ended_sold"
    assert notice.listing.title == "Sold: Oak desk"
    [watch] = await s.watchlist.watches(BUYER)
    assert watch.ended == ENDED_SOLD and not watch.active

    # The listing cannot change again through /listing, and a later change (a feed, say)
    # finds no running watch: the user was told once.
    with pytest.raises(UserFacingError) as again:
        await s.watchlist.remove_listing(SELLER, str(listing))
    assert again.value.field == "listing"
    await s.listings.revise(listing, status="removed", price=Decimal("10"))
    await drain(s)
    assert len(senders["dm"].sent) == 1
    # Nobody can start watching a sold listing.
    with pytest.raises(UserFacingError) as late:
        await s.watchlist.add(OTHER, listing, guild_id=GUILD)
    assert late.value.field == "listing" and "removed" in late.value.message


async def test_removed_is_told_too(env: Env) -> None:
    s, senders = env
    listing = await listed(s)
    await s.watchlist.add(BUYER, listing, guild_id=GUILD)
    await s.watchlist.remove_listing(SELLER, str(listing))
    await drain(s)
    (notice,) = senders["dm"].sent
    assert (notice.listing.details or {})["event"] == "ended_removed"


async def test_a_removed_watch_drops_its_queued_alert(env: Env) -> None:
    s, senders = env
    listing = await listed(s)
    await s.watchlist.add(BUYER, listing, "90", guild_id=GUILD)
    await reprice(s, listing, "80")
    removed = await s.watchlist.remove(BUYER, str(listing))
    assert removed.listing.id == listing
    await drain(s)
    assert senders["dm"].sent == []
    (row,) = await watch_rows(s)
    assert row.status == OutboxStatus.suppressed and row.reason == "alert deleted before delivery"


async def test_watch_alerts_follow_the_policy(env: Env) -> None:
    s, senders = env
    listing = await listed(s)
    await s.watchlist.add(BUYER, listing, "90", guild_id=GUILD)
    await s.preferences.pause_all(BUYER)
    await reprice(s, listing, "80")
    await drain(s)
    assert senders["dm"].sent == []
    (row,) = await watch_rows(s)
    assert row.status == OutboxStatus.suppressed and "pause" in (row.reason or "")


async def test_a_watch_alert_fails_over_like_a_deal_alert(recording: Env) -> None:
    """The buyer first got the deal alert by DM; then DMs close. Each price drop fails on DM
    and moves to email, as its own alert: neither collides with the deal alert's rows nor with
    the previous drop's fallback."""
    s, senders = recording
    async with s.sessions.begin() as session:
        row = await PreferencesRepository(session).get_or_create(BUYER)
        row.email, row.email_verified = "buyer@example.com", True
    await s.rules.create(BUYER, GUILD, RuleInput(name="Desks", keywords="desk"))
    listing = await listed(s)
    await drain(s)
    (deal,) = senders["dm"].sent
    assert deal.kind == "deal_alert"

    await s.watchlist.add(BUYER, str(listing), "90", guild_id=None)  # alerted: visible in DMs
    senders["dm"].fail_next(DMS_CLOSED)
    await reprice(s, listing, "85")
    await drain(s)
    (first,) = senders["email"].sent
    assert first.kind == "watch_alert" and first.is_fallback
    assert first.notice is not None and "DMs are closed" in first.notice

    await reprice(s, listing, "80")
    await drain(s)
    assert prices(senders["email"].sent) == [8500, 8000]
    assert senders["email"].sent[1].notice is None, "told once"
    assert [(r.channel, r.status) for r in await watch_rows(s)] == [
        ("dm", OutboxStatus.failed),
        ("email", OutboxStatus.sent),
        ("dm", OutboxStatus.failed),
        ("email", OutboxStatus.sent),
    ]
    history = await s.deliveries.history(BUYER)
    assert [h.title for h in history][:2] == ["Oak desk", "Oak desk"]


async def test_a_transient_failure_is_retried_with_the_same_nonce(env: Env) -> None:
    s, senders = env
    listing = await listed(s)
    await s.watchlist.add(BUYER, listing, "90", guild_id=GUILD)
    senders["dm"].fail_next(SendError("503", permanent=False, retry_after=0.001))
    await reprice(s, listing, "80")
    await drain(s)
    await asyncio.sleep(0.01)
    await drain(s)
    assert len(senders["dm"].attempts) == 2 and len(senders["dm"].sent) == 1
    assert senders["dm"].attempts[0].nonce == senders["dm"].attempts[1].nonce


async def test_who_may_watch_what(env: Env) -> None:
    s, _ = env
    here = await listed(s)
    there = await listed(s, "Pine desk", guild=ELSEWHERE)
    # One marketplace for every server (alerts and /deals cross servers): another server's
    # listing can be watched too, from a server or a DM; a missing one is "no such listing".
    from_elsewhere = await s.watchlist.add(BUYER, str(there), "50", guild_id=GUILD)
    assert from_elsewhere.watch.listing.id == there
    await s.watchlist.remove(BUYER, str(there))
    with pytest.raises(NotFoundError) as hidden:
        await s.watchlist.add(BUYER, "99999", guild_id=None)
    assert hidden.value.field == "listing"
    # By exact title, in its server.
    added = await s.watchlist.add(BUYER, "oak desk", "90", guild_id=GUILD)
    assert added.watch.listing.id == here
    # One watch per (user, listing): the command says so, the button answers kindly.
    with pytest.raises(UserFacingError) as twice:
        await s.watchlist.add(BUYER, str(here), "80", guild_id=GUILD)
    assert twice.value.field == "listing"
    again = await s.watchlist.add(BUYER, here, drop_percent=10, guild_id=None, from_button=True)
    assert not again.created and again.watch.target_price == Decimal("90.00")
    # Autocomplete shows only what the user can see, never their own.
    assert sorted(r.id for r in await s.watchlist.listing_choices(BUYER, GUILD, "desk")) == [
        here,
        there,
    ]
    assert await s.watchlist.listing_choices(SELLER, GUILD, "desk") == []
    assert [w.listing.id for w, _ in await s.watchlist.watch_choices(BUYER, "oak")] == [here]
    assert await s.watchlist.watch_choices(OTHER, "") == []
    with pytest.raises(NotFoundError):
        await s.watchlist.remove(OTHER, str(here))
    with pytest.raises(NotFoundError):
        await s.watchlist.remove_by_id(OTHER, added.watch.id)


@pytest.mark.parametrize(
    ("target", "percent", "field"),
    [
        ("abc", None, "target_price"),
        ("0", None, "target_price"),
        ("-5", None, "target_price"),
        (None, 0.0, "drop_percent"),
        (None, 100.0, "drop_percent"),
        (None, float("nan"), "drop_percent"),
    ],
)
async def test_bad_input_names_the_field_and_stores_nothing(
    env: Env, target: str | None, percent: float | None, field: str
) -> None:
    s, _ = env
    listing = await listed(s)
    with pytest.raises(UserFacingError) as bad:
        await s.watchlist.add(BUYER, listing, target, percent, guild_id=GUILD)
    assert bad.value.field == field
    assert await s.watchlist.watches(BUYER) == []


async def test_a_target_already_met_alerts_at_every_new_low(env: Env) -> None:
    s, senders = env
    listing = await listed(s)
    added = await s.watchlist.add(BUYER, listing, "120", guild_id=GUILD)
    assert added.already_met
    await reprice(s, listing, "99")
    await drain(s)
    assert prices(senders["dm"].sent) == [9900]


async def test_the_seller_side_checks_owner_and_price(env: Env) -> None:
    s, _ = env
    listing = await listed(s)
    for call in (
        s.watchlist.edit_price(OTHER, str(listing), "50"),
        s.watchlist.mark_sold(OTHER, str(listing)),
        s.watchlist.remove_listing(OTHER, "Oak desk"),
    ):
        with pytest.raises(NotFoundError) as theirs:
            await call
        assert theirs.value.field == "listing"
    for price in ("abc", "", "-1", "100"):
        with pytest.raises(UserFacingError) as bad:
            await s.watchlist.edit_price(SELLER, str(listing), price)
        assert bad.value.field == "price", price
    change = await s.watchlist.edit_price(SELLER, "Oak desk", "$75")
    assert (change.old_price, change.listing.price) == (Decimal("100.00"), Decimal("75.00"))
    assert [r.id for r in await s.watchlist.own_listings(SELLER, "oak")] == [listing]
    assert await s.watchlist.own_listings(OTHER, "") == []


async def test_history_lists_every_price(env: Env) -> None:
    s, _ = env
    listing = await listed(s)
    await reprice(s, listing, "90")
    await reprice(s, listing, "95")
    view = await s.watchlist.history(BUYER, str(listing), guild_id=GUILD)
    assert [p for _, p in view.points] == [Decimal("100.00"), Decimal("90.00"), Decimal("95.00")]
    assert view.watch is None
    elsewhere = await s.watchlist.history(BUYER, str(listing), guild_id=ELSEWHERE)
    assert len(elsewhere.points) == 3  # one marketplace: the same history from any server
    with pytest.raises(NotFoundError):
        await s.watchlist.history(BUYER, "424242", guild_id=GUILD)


async def test_watch_rows_keep_the_state_machine(env: Env) -> None:
    s, _ = env
    listing = await listed(s)
    await s.watchlist.add(BUYER, listing, "90", guild_id=GUILD)
    await reprice(s, listing, "85")
    async with s.sessions() as session:
        (row,) = await session.scalars(select(WatchRow))
        assert (row.start_cents, row.lowest_cents, row.armed, row.alerts) == (10000, 8500, False, 1)
        assert row.guild_id == GUILD


async def test_a_digest_user_gets_drops_in_the_digest_and_subjects_resolve_the_watch(
    env: Env,
) -> None:
    s, senders = env
    await s.preferences.set_frequency(BUYER, "daily")
    await s.rules.create(BUYER, GUILD, RuleInput(name="Desks", keywords="desk"))
    listing = await listed(s)
    added = await s.watchlist.add(BUYER, listing, "90", guild_id=GUILD)
    await reprice(s, listing, "80")
    await drain(s)
    assert senders["dm"].sent == []
    async with s.sessions() as session:
        rows = list(
            await session.scalars(
                select(OutboxRow).where(OutboxRow.user_id == BUYER).order_by(OutboxRow.id)
            )
        )
        assert [(r.kind, r.status) for r in rows] == [
            ("deal_alert", OutboxStatus.digest),
            ("watch_alert", OutboxStatus.digest),
        ]
        rules = await rules_for(session, rows)
        deal, watch = rules[rows[0].id], rules[rows[1].id]
        assert deal.name == "Desks"
        assert (watch.id, watch.name, watch.active) == (added.watch.id, "Oak desk", True)
        assert await rule_for(session, "watch_alert", added.watch.id) == watch
        assert await rule_for(session, "watch_alert", 987654) is None
