"""Failover between channels, webhooks that disappear, and circuit breakers, on real deliveries.

Runs on SQLite and, with DEALSCOUT_TEST_PG_URL, on PostgreSQL. DM, email and channel senders are
recording doubles; the webhook sender is the real one, talking to a fake Discord webhook endpoint
(tests/delivery/webhook_fakes.py). Time is injected, so breakers open and close exactly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from bot.delivery.breaker import BreakerSettings, BreakerState
from bot.delivery.senders.base import SendError
from bot.domain.rule import RuleInput
from bot.ingest.community import SellInput
from bot.logs import RedactingFilter
from bot.services import Services
from db.models import OutboxStatus, utcnow
from db.repositories.accounts import UserRepository
from db.repositories.outbox import OutboxRepository
from db.repositories.preferences import PreferencesRepository
from tests.delivery.webhook_fakes import real_webhook_sender, server_error, webhook_url
from tests.fakes import RecordingSender

BUYER, SELLER, GUILD, ALERTS = 31, 99, 500, 777
HOOK = 1_111_111_111_111_111_111
TOKEN = "Secret_token-" * 5 + "abcd"
Env = tuple[Services, dict[str, RecordingSender]]
DMS_CLOSED = SendError("DMs closed", permanent=True, unreachable=True)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def recording(env: Env) -> Env:
    """Recording email and channel senders next to the recording DM sender."""
    s, senders = env
    senders["email"] = RecordingSender("email")
    s.dispatcher.senders = dict(senders)
    return s, senders


async def verified_email(s: Services, user_id: int = BUYER) -> None:
    async with s.sessions.begin() as session:
        row = await PreferencesRepository(session).get_or_create(user_id)
        row.email, row.email_verified = "buyer@example.com", True


async def rule(
    s: Services, channels: str = "dm", user_id: int = BUYER, name: str = "Chairs"
) -> None:
    await s.rules.create(user_id, GUILD, RuleInput(name=name, keywords="chair", channels=channels))


async def sell(s: Services, title: str = "Office chair") -> int:
    result = await s.listings.sell(
        SellInput(title=title, price="50"), seller_id=SELLER, seller_name="s", guild_id=GUILD
    )
    return result.listing.id


async def drain(s: Services) -> None:
    while await s.dispatcher.run_once():
        pass


async def rows(s: Services, listing_id: int) -> list[tuple[str, str, str | None]]:
    async with s.sessions() as session:
        found = await OutboxRepository(session).for_listing(listing_id)
    return [(r.channel, r.status, r.reason) for r in found]


async def assert_all_settled(s: Services, listing_id: int) -> None:
    """Invariant 2: every row ends sent, failed with a reason, or suppressed with a reason."""
    for channel, status, reason in await rows(s, listing_id):
        assert status in (OutboxStatus.sent, OutboxStatus.failed, OutboxStatus.suppressed), (
            channel,
            status,
        )
        if status != OutboxStatus.sent:
            assert reason, (channel, status)


async def test_dms_closed_goes_to_the_webhook_and_says_so_once(recording: Env) -> None:
    s, senders = recording
    await rule(s)
    with real_webhook_sender(s) as (_, endpoint):
        await s.webhooks.set(BUYER, webhook_url(HOOK, TOKEN))
        senders["dm"].fail_next(DMS_CLOSED)
        first = await sell(s)
        await drain(s)
        assert await rows(s, first) == [
            ("dm", OutboxStatus.failed, "DMs closed"),
            ("webhook", OutboxStatus.sent, None),
        ]
        (posted,) = endpoint.posts_to(HOOK)
        assert posted["username"] == "Deal Scout"
        assert posted["embeds"][0]["title"] == "Office chair"
        assert posted["allowed_mentions"] == {"parse": []}
        assert "DMs are closed" in posted["content"]
        assert "components" not in posted or not posted["components"]

        second = await sell(s, "Desk chair")
        await drain(s)
        assert len(senders["dm"].attempts) == 1, "DMs known closed: not tried again"
        assert [c for c, st, _ in await rows(s, second) if st == OutboxStatus.sent] == ["webhook"]
        later = endpoint.posts_to(HOOK)[1]
        assert "DMs are closed" not in later["content"], "told once"
        await assert_all_settled(s, second)


async def test_webhook_gone_is_disabled_and_the_alert_moves_on_told_once(
    recording: Env, caplog: pytest.LogCaptureFixture
) -> None:
    s, senders = recording
    caplog.set_level(logging.DEBUG)
    await rule(s, channels="webhook")
    with real_webhook_sender(s) as (_, endpoint):
        await s.webhooks.set(BUYER, webhook_url(HOOK, TOKEN))
        endpoint.gone.add(HOOK)
        first = await sell(s)
        await drain(s)
        assert await rows(s, first) == [
            ("webhook", OutboxStatus.failed, "webhook deleted"),
            ("dm", OutboxStatus.sent, None),
        ]
        assert (await s.webhooks.status(BUYER)).disabled
        (dm,) = senders["dm"].sent
        assert dm.notice is not None and "webhook was deleted" in dm.notice
        assert dm.notice.endswith("/prefs webhook set.")

        second = await sell(s, "Desk chair")
        await drain(s)
        assert len(endpoint.requests) == 1, "a disabled webhook is never called again"
        assert await rows(s, second) == [
            ("webhook", OutboxStatus.failed, "webhook deleted"),
            ("dm", OutboxStatus.sent, None),
        ]
        assert senders["dm"].sent[1].notice is None, "told once"

        # A new webhook re-enables the channel, and a later deletion is told again.
        await s.webhooks.set(BUYER, webhook_url(HOOK + 1, TOKEN))
        assert not (await s.webhooks.status(BUYER)).disabled
        endpoint.gone.add(HOOK + 1)
        await sell(s, "Camp chair")
        await drain(s)
        assert (
            senders["dm"].sent[2].notice and "webhook was deleted" in senders["dm"].sent[2].notice
        )
    assert TOKEN not in caplog.text, "the webhook URL is never logged"


async def test_chain_dm_closed_then_webhook_gone_then_email(recording: Env) -> None:
    s, senders = recording
    await rule(s)
    await verified_email(s)
    with real_webhook_sender(s) as (_, endpoint):
        await s.webhooks.set(BUYER, webhook_url(HOOK, TOKEN))
        endpoint.gone.add(HOOK)
        senders["dm"].fail_next(DMS_CLOSED)
        first = await sell(s)
        await drain(s)
        assert await rows(s, first) == [
            ("dm", OutboxStatus.failed, "DMs closed"),
            ("webhook", OutboxStatus.failed, "webhook deleted"),
            ("email", OutboxStatus.sent, None),
        ]
        (mail,) = senders["email"].sent
        assert mail.is_fallback and mail.notice is not None
        assert "DMs are closed" in mail.notice and "webhook was deleted" in mail.notice

        second = await sell(s, "Desk chair")
        await drain(s)
        assert len(endpoint.requests) == 1 and len(senders["dm"].attempts) == 1
        assert await rows(s, second) == [
            ("dm", OutboxStatus.failed, "DMs closed"),
            ("email", OutboxStatus.sent, None),
        ], "broken channels are skipped, straight to the next usable one"
        assert senders["email"].sent[1].notice is None
        await assert_all_settled(s, first)


async def test_the_users_own_order_decides_and_left_out_channels_are_never_used(
    recording: Env,
) -> None:
    s, senders = recording
    await s.admin.set_alert_channel(GUILD, ALERTS)
    await rule(s)
    await verified_email(s)
    await s.preferences.set_channel_order(BUYER, "dm,email")
    senders["dm"].fail_next(DMS_CLOSED)
    senders["email"].fail_next(
        SendError("email address refused (550)", permanent=True, unreachable=True)
    )
    listing = await sell(s)
    await drain(s)
    assert await rows(s, listing) == [
        ("dm", OutboxStatus.failed, "DMs closed"),
        ("email", OutboxStatus.failed, "email address refused (550)"),
    ], "the server channel is not in this user's order"
    assert senders["channel"].sent == []

    await s.preferences.set_channel_order(BUYER, "email,channel,dm")
    await reopen_dms(s)
    senders["dm"].fail_next(DMS_CLOSED)
    other = await sell(s, "Desk chair")
    await drain(s)
    assert await rows(s, other) == [
        ("dm", OutboxStatus.failed, "DMs closed"),
        ("email", OutboxStatus.sent, None),
    ], "email comes before the channel in this order"


async def reopen_dms(s: Services) -> None:
    async with s.sessions.begin() as session:
        await UserRepository(session).reopen_dms(BUYER)


async def test_two_channels_of_one_alert_failing_at_once_still_move_it_on(
    recording: Env,
) -> None:
    """DM and webhook rows of the same alert fail in the same batch: the failures see each
    other (row locks on PostgreSQL, the write lock on SQLite), so the alert reaches email."""
    s, senders = recording
    await rule(s, channels="dm,webhook")
    await verified_email(s)
    with real_webhook_sender(s) as (_, endpoint):
        await s.webhooks.set(BUYER, webhook_url(HOOK, TOKEN))
        endpoint.gone.add(HOOK)
        senders["dm"].fail_next(DMS_CLOSED)
        listing = await sell(s)
        await drain(s)
    assert sorted(await rows(s, listing)) == [
        ("dm", OutboxStatus.failed, "DMs closed"),
        ("email", OutboxStatus.sent, None),
        ("webhook", OutboxStatus.failed, "webhook deleted"),
    ]
    assert len(senders["email"].sent) == 1


async def test_nowhere_left_tells_the_user_once_by_dm(recording: Env) -> None:
    s, _ = recording
    told: list[tuple[int, str]] = []

    async def deliver(user_id: int, text: str) -> None:
        told.append((user_id, text))

    s.notices.deliver = deliver
    await rule(s, channels="webhook")
    await s.preferences.set_channel_order(BUYER, "webhook")
    with real_webhook_sender(s) as (_, endpoint):
        await s.webhooks.set(BUYER, webhook_url(HOOK, TOKEN))
        endpoint.gone.add(HOOK)
        first = await sell(s)
        await sell(s, "Desk chair")
        await drain(s)
    assert (await rows(s, first)) == [("webhook", OutboxStatus.failed, "webhook deleted")]
    ((user, text),) = told
    assert user == BUYER and "Discord webhook" in text and "webhook deleted" in text


async def test_a_webhook_that_keeps_failing_gives_up_and_moves_on(recording: Env) -> None:
    s, senders = recording
    clock = Clock()
    s.dispatcher.clock = s.listings.clock = clock
    await rule(s, channels="webhook")
    with real_webhook_sender(s) as (_, endpoint):
        await s.webhooks.set(BUYER, webhook_url(HOOK, TOKEN))
        endpoint.failures.extend(server_error() for _ in range(8))
        listing = await sell(s)
        for _ in range(12):
            await drain(s)
            clock.advance(3600)
    assert [(c, st) for c, st, _ in await rows(s, listing)] == [
        ("webhook", OutboxStatus.failed),
        ("dm", OutboxStatus.sent),
    ]
    reason = (await rows(s, listing))[0][2] or ""
    assert reason.startswith("gave up after 8 tries: Discord error 503")
    (dm,) = senders["dm"].sent
    assert dm.notice and "keep failing" in dm.notice
    assert not (await s.webhooks.status(BUYER)).disabled, "a flaky webhook is not disabled"


# ---- circuit breaker ---------------------------------------------------------------------


async def email_buyers(s: Services, count: int) -> list[int]:
    buyers = [BUYER + 100 + n for n in range(count)]
    for user_id in buyers:
        await rule(s, channels="email", user_id=user_id)
    return buyers


def use_breakers(s: Services, clock: Clock, failures: int = 3) -> None:
    s.dispatcher.clock = s.listings.clock = clock  # the breakers read the dispatcher's clock
    s.dispatcher.breakers.settings = BreakerSettings(
        failures=failures, cooldown=timedelta(seconds=60)
    )


async def test_breaker_opens_holds_alerts_and_closes_after_a_good_probe(recording: Env) -> None:
    s, senders = recording
    clock = Clock()
    use_breakers(s, clock)
    email = senders["email"]
    buyers = await email_buyers(s, 3)
    email.fail_next(*[SendError("the mail server is busy (421)", permanent=False)] * 3)
    first = await sell(s)
    await drain(s)
    breaker = s.dispatcher.breakers["email"]
    assert breaker.state is BreakerState.open
    assert len(email.attempts) == 3

    # While open the sender is not called; rows wait with the reason, no attempt spent.
    second = await sell(s, "Desk chair")
    clock.advance(30)
    await drain(s)
    assert len(email.attempts) == 3
    held = await rows(s, second)
    assert {(st, reason) for _, st, reason in held} == {
        (OutboxStatus.pending, "circuit open: email")
    }
    async with s.sessions() as session:
        waiting = await OutboxRepository(session).for_listing(second)
    assert all(r.attempts == 0 for r in waiting)
    assert all(r.next_attempt_at == clock.now + timedelta(seconds=30) for r in waiting)

    # Cool-down over: one probe goes; it succeeds, the circuit closes and the rest follow.
    clock.advance(31)
    await drain(s)
    assert breaker.state is BreakerState.closed
    assert sorted(a.user_id for a in email.sent) == sorted(buyers * 2)
    for listing in (first, second):
        assert {st for _, st, _ in await rows(s, listing)} == {OutboxStatus.sent}
    health = await s.deliveries.health(GUILD)
    assert {b.channel: b.state for b in health.breakers}["email"] is BreakerState.closed


async def test_a_failed_probe_keeps_the_circuit_open(recording: Env) -> None:
    s, senders = recording
    clock = Clock()
    use_breakers(s, clock)
    email = senders["email"]
    await email_buyers(s, 3)
    email.fail_next(*[SendError("the mail server timed out", permanent=False)] * 4)
    listing = await sell(s)
    await drain(s)
    clock.advance(61)
    await drain(s)
    breaker = s.dispatcher.breakers["email"]
    assert len(email.attempts) == 4, "exactly one probe"
    assert breaker.state is BreakerState.open
    reasons = {reason for _, _, reason in await rows(s, listing)}
    assert "circuit open: email" in reasons
    snapshot = {b.channel: b for b in (await s.deliveries.health(GUILD)).breakers}["email"]
    assert snapshot.state is BreakerState.open and snapshot.retry_at is not None
    clock.advance(61)
    for _ in range(5):
        await drain(s)
        clock.advance(120)
    assert breaker.state is BreakerState.closed
    assert {st for _, st, _ in await rows(s, listing)} == {OutboxStatus.sent}


async def test_rate_limits_and_permanent_failures_do_not_open_the_circuit(
    recording: Env,
) -> None:
    s, senders = recording
    clock = Clock()
    use_breakers(s, clock)
    await email_buyers(s, 4)
    senders["email"].fail_next(
        SendError("rate limited", permanent=False, retry_after=5),
        SendError("rate limited", permanent=False, retry_after=5),
        SendError("email address refused (550)", permanent=True, unreachable=True),
        SendError("email address refused (550)", permanent=True, unreachable=True),
    )
    await sell(s)
    await drain(s)
    assert s.dispatcher.breakers["email"].state is BreakerState.closed


def test_webhook_urls_in_library_log_lines_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    """discord.py logs the webhook URL it requested (at DEBUG); the bot's log filter takes the
    token out of every line, whoever logs it."""
    caplog.handler.addFilter(RedactingFilter())
    caplog.set_level(logging.DEBUG, logger="discord.webhook.async_")
    logging.getLogger("discord.webhook.async_").debug(
        "Webhook ID %s with %s %s has returned status code %s",
        HOOK,
        "POST",
        webhook_url(HOOK, TOKEN),
        404,
    )
    assert TOKEN not in caplog.text
    assert f"/webhooks/{HOOK}/[token]" in caplog.text
