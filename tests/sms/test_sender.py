"""The SMS sender against the Twilio stand-in, through the real twilio client: success, errors by
meaning (21610, 21614, 429, 5xx, bad credentials), and the daily limits with their one notice.
The last tests run whole alerts through the dispatcher: SMS that cannot go falls back to a DM."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.senders.base import OutgoingAlert, SendError
from bot.delivery.senders.sms import (
    LIMIT_REACHED,
    NO_NUMBER,
    NOT_CONFIGURED,
    OPTED_OUT,
    SmsSender,
    rebase,
    retry_after_seconds,
)
from bot.delivery.sms_text import measure
from bot.domain.listing import Listing
from bot.domain.rule import Rule, RuleInput
from bot.ingest.community import SellInput
from bot.services import Services
from db.models import OutboxStatus
from db.repositories.outbox import OutboxRepository
from tests.fakes import RecordingSender
from tests.sms.conftest import (
    NUMBER,
    FakeClock,
    Notices,
    preferences,
    sender_on,
    set_verified_phone,
)
from tests.standins.twilio import ACCOUNT_SID, FROM_NUMBER, MESSAGING_SERVICE_SID, TwilioStandin

USER = 4242
OTHER = 4343
DAY = "2026-11-22"


def alert(
    user_id: int = USER, title: str = "Secretlab Titan chair", outbox_id: int = 1
) -> OutgoingAlert:
    listing = Listing(
        id=7, title=title, price=Decimal("149.00"), url="https://market.example/listings/7"
    )
    return OutgoingAlert(
        outbox_id=outbox_id,
        nonce=f"n{outbox_id}",
        user_id=user_id,
        guild_id=None,
        rule=Rule(id=11, user_id=user_id, name="Chairs"),
        listing=listing,
    )


async def refused(sender: SmsSender, outgoing: OutgoingAlert) -> SendError:
    with pytest.raises(SendError) as caught:
        await sender.send(outgoing)
    return caught.value


# ---- success ----------------------------------------------------------------------------------


async def test_an_alert_reaches_the_verified_number(
    sender: SmsSender,
    sessions: async_sessionmaker[AsyncSession],
    twilio: TwilioStandin,
) -> None:
    await set_verified_phone(sessions, USER)
    assert await sender.send(alert()) is None
    [message] = twilio.messages
    assert message.to == NUMBER and message.from_ == FROM_NUMBER
    assert message.messaging_service_sid is None
    assert message.body == (
        "Deal Scout: $149.00 Secretlab Titan chair\nhttps://market.example/listings/7"
    )
    assert message.num_segments == 1
    [request] = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.authorized and request.status == 201
    assert await sender.usage.count(USER, DAY) == 1


async def test_a_long_emoji_title_stays_within_two_segments(
    sender: SmsSender, sessions: async_sessionmaker[AsyncSession], twilio: TwilioStandin
) -> None:
    await set_verified_phone(sessions, USER)
    await sender.send(alert(title="🔥 " + "Massive gaming chair bundle with footrest " * 8))
    [message] = twilio.messages
    assert message.num_segments <= 2 and measure(message.body).units <= 134
    assert message.body.endswith("https://market.example/listings/7")


async def test_a_messaging_service_is_used_when_configured(
    services: Services,
    sessions: async_sessionmaker[AsyncSession],
    twilio: TwilioStandin,
    clock: FakeClock,
) -> None:
    await set_verified_phone(sessions, USER)
    sender = sender_on(services, clock, twilio_messaging_service_sid=MESSAGING_SERVICE_SID)
    try:
        await sender.send(alert())
    finally:
        await sender.close()
    [message] = twilio.messages
    assert message.messaging_service_sid == MESSAGING_SERVICE_SID and message.from_ is None


async def test_concurrent_sends_share_one_client(
    sender: SmsSender, sessions: async_sessionmaker[AsyncSession], twilio: TwilioStandin
) -> None:
    for user in range(5000, 5005):
        await set_verified_phone(sessions, user, f"+1415555{user:04d}")
    await asyncio.gather(*(sender.send(alert(user, outbox_id=user)) for user in range(5000, 5005)))
    assert sorted(m.to for m in twilio.messages) == [f"+1415555{u:04d}" for u in range(5000, 5005)]


# ---- who may be texted ------------------------------------------------------------------------


async def test_no_verified_number_is_unreachable_without_asking_twilio(
    sender: SmsSender, sessions: async_sessionmaker[AsyncSession], twilio: TwilioStandin
) -> None:
    error = await refused(sender, alert())
    assert (error.reason, error.permanent, error.unreachable) == (NO_NUMBER, True, True)
    await set_verified_phone(sessions, USER, phone_verified=False)
    assert (await refused(sender, alert())).reason == NO_NUMBER
    await set_verified_phone(sessions, USER, sms_opted_out=True)
    assert (await refused(sender, alert())).reason == OPTED_OUT
    assert twilio.requests == []


async def test_not_configured_is_unreachable(
    services: Services,
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    twilio: TwilioStandin,
) -> None:
    await set_verified_phone(sessions, USER)
    sender = sender_on(services, clock, twilio_from_number=None)
    error = await refused(sender, alert())
    assert (error.reason, error.permanent, error.unreachable) == (NOT_CONFIGURED, True, True)
    assert twilio.requests == []


# ---- Twilio's errors by meaning ---------------------------------------------------------------


async def test_21610_marks_the_user_opted_out_and_tells_them_once(
    sender: SmsSender,
    sessions: async_sessionmaker[AsyncSession],
    twilio: TwilioStandin,
    notices: Notices,
) -> None:
    await set_verified_phone(sessions, USER)
    twilio.opt_out(NUMBER)
    error = await refused(sender, alert())
    assert (error.reason, error.permanent, error.unreachable) == (OPTED_OUT, True, True)
    prefs = await preferences(sessions, USER)
    assert prefs is not None and prefs.sms_opted_out and prefs.phone_verified
    [notice] = notices.to(USER)
    assert "STOP" in notice and "/prefs phone set" in notice
    # No second request to Twilio, no second notice.
    assert (await refused(sender, alert())).reason == OPTED_OUT
    assert len(twilio.requests) == 1 and len(notices.sent) == 1
    assert await sender.usage.count(USER, DAY) == 0  # a refused text is not counted


async def test_21614_unverifies_the_number_and_tells_them_once(
    sender: SmsSender,
    sessions: async_sessionmaker[AsyncSession],
    twilio: TwilioStandin,
    notices: Notices,
) -> None:
    await set_verified_phone(sessions, USER)
    twilio.not_mobile(NUMBER)
    error = await refused(sender, alert())
    assert error.permanent and error.unreachable and "21614" in error.reason
    prefs = await preferences(sessions, USER)
    assert prefs is not None and not prefs.phone_verified and not prefs.sms_opted_out
    [notice] = notices.to(USER)
    assert "cannot receive text messages" in notice
    assert (await refused(sender, alert())).reason == NO_NUMBER
    assert len(notices.sent) == 1


@pytest.mark.parametrize(
    ("inject", "retry_after"),
    [
        (lambda t: t.inject_429(retry_after="7"), 7.0),
        (lambda t: t.inject_429(retry_after=None), None),
        (lambda t: t.inject_500(), None),
        (lambda t: t.fail_next(20500, status=503, retry_after="30"), 30.0),
    ],
    ids=["429-retry-after", "429", "500", "503-retry-after"],
)
async def test_429_and_5xx_are_transient(
    sender: SmsSender,
    sessions: async_sessionmaker[AsyncSession],
    twilio: TwilioStandin,
    notices: Notices,
    inject: object,
    retry_after: float | None,
) -> None:
    await set_verified_phone(sessions, USER)
    inject(twilio)  # type: ignore[operator]
    error = await refused(sender, alert())
    assert not error.permanent and not error.unreachable
    assert error.retry_after == retry_after
    assert await sender.usage.count(USER, DAY) == 0
    prefs = await preferences(sessions, USER)
    assert prefs is not None and prefs.phone_verified and not prefs.sms_opted_out
    assert notices.sent == []
    await sender.send(alert())  # the retry goes through
    assert len(twilio.messages) == 1 and await sender.usage.count(USER, DAY) == 1


async def test_bad_credentials_retry_slowly(
    services: Services,
    sessions: async_sessionmaker[AsyncSession],
    twilio: TwilioStandin,
    clock: FakeClock,
) -> None:
    await set_verified_phone(sessions, USER)
    sender = sender_on(services, clock, twilio_auth_token=SecretStr("wrong"))
    try:
        error = await refused(sender, alert())
    finally:
        await sender.close()
    assert not error.permanent and error.retry_after == 300 and "20003" in error.reason
    assert [r.authorized for r in twilio.requests] == [False]


async def test_other_refusals_fall_back_at_once(
    sender: SmsSender, sessions: async_sessionmaker[AsyncSession], twilio: TwilioStandin
) -> None:
    await set_verified_phone(sessions, USER)
    twilio.fail_next(21211)
    error = await refused(sender, alert())
    assert error.permanent and error.unreachable and "21211" in error.reason
    assert NUMBER not in error.reason and "+1" not in error.reason
    twilio.fail_next(21606, message=f"The From phone number {FROM_NUMBER} is not SMS-capable")
    error = await refused(sender, alert())
    assert error.permanent and error.unreachable and FROM_NUMBER not in error.reason


async def test_twilio_unreachable_is_transient(
    services: Services, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await set_verified_phone(sessions, USER)
    sender = sender_on(services, clock, twilio_api_base="http://127.0.0.1:9")
    try:
        error = await refused(sender, alert())
    finally:
        await sender.close()
    assert not error.permanent and error.reason == "could not reach Twilio"
    assert await sender.usage.count(USER, DAY) == 0


# ---- daily limits -----------------------------------------------------------------------------


async def test_the_per_user_limit_falls_back_and_tells_once_a_day(
    services: Services,
    sender: SmsSender,
    sessions: async_sessionmaker[AsyncSession],
    twilio: TwilioStandin,
    notices: Notices,
    clock: FakeClock,
) -> None:
    assert services.settings.sms_daily_limit_per_user == 5  # the default
    await set_verified_phone(sessions, USER)
    await set_verified_phone(sessions, OTHER, "+14155550188")
    for i in range(5):
        await sender.send(alert(outbox_id=i))
    for _ in range(3):
        error = await refused(sender, alert())
        assert (error.reason, error.permanent, error.unreachable) == (LIMIT_REACHED, True, True)
    assert len(twilio.messages) == 5
    [notice] = notices.to(USER)
    assert "5 text alerts today" in notice
    assert await services.notices.sent(USER) == [f"sms_budget:{DAY}"]
    await sender.send(alert(OTHER))  # other users are not affected
    # The next UTC day: texts again, and a new notice when that day's limit is reached.
    clock.advance(hours=12)
    for i in range(5):
        await sender.send(alert(outbox_id=10 + i))
    await refused(sender, alert())
    assert len(notices.to(USER)) == 2
    assert await services.notices.sent(USER) == ["sms_budget:2026-11-23"]  # the old key pruned


async def test_the_global_budget_falls_back_and_tells_each_user_once(
    services: Services,
    sessions: async_sessionmaker[AsyncSession],
    twilio: TwilioStandin,
    notices: Notices,
    clock: FakeClock,
) -> None:
    sender = sender_on(services, clock, sms_daily_budget=3)
    users = list(range(6000, 6005))
    for user in users:
        await set_verified_phone(sessions, user, f"+1415555{user:04d}")
    try:
        results = await asyncio.gather(
            *(sender.send(alert(u, outbox_id=u)) for u in users for _ in range(2)),
            return_exceptions=True,
        )
    finally:
        await sender.close()
    errors = [r for r in results if isinstance(r, SendError)]
    assert len(twilio.messages) == 3  # never over the budget, even concurrently
    assert len(errors) == 7 and all(e.reason == LIMIT_REACHED and e.unreachable for e in errors)
    told = {user for user, _ in notices.sent}
    assert len(notices.sent) == len(told)  # once per user
    assert all("all the text messages it can today" in text for _, text in notices.sent)


async def test_a_limit_of_zero_turns_sms_off(
    services: Services,
    sessions: async_sessionmaker[AsyncSession],
    twilio: TwilioStandin,
    clock: FakeClock,
) -> None:
    await set_verified_phone(sessions, USER)
    sender = sender_on(services, clock, sms_daily_limit_per_user=0)
    assert (await refused(sender, alert())).reason == LIMIT_REACHED
    assert twilio.requests == []


async def test_without_a_notice_hook_nothing_is_recorded(
    services: Services, sender: SmsSender, sessions: async_sessionmaker[AsyncSession]
) -> None:
    services.notices.deliver = None
    await set_verified_phone(sessions, USER, sms_opted_out=False)
    sender.settings = sender.settings.model_copy(update={"sms_daily_limit_per_user": 0})
    await refused(sender, alert())
    assert await services.notices.sent(USER) == []  # given once a hook exists


# ---- helpers ----------------------------------------------------------------------------------


def test_rebase_swaps_scheme_and_host_only() -> None:
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert rebase(url, "https://api.twilio.com") == url
    assert rebase(url, "http://127.0.0.1:8081/") == (
        f"http://127.0.0.1:8081/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    )
    assert rebase(url + "?a=1", "http://h") == url.replace("https://api.twilio.com", "http://h") + (
        "?a=1"
    )


def test_retry_after_parsing() -> None:
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("0") == 1.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Sun, 22 Nov 2026 12:00:30 GMT", now=FakeClock()()) == 30.0


# ---- through the dispatcher -------------------------------------------------------------------


async def sell_to_sms_rule(services: Services, title: str = "Office chair") -> int:
    await services.rules.create(USER, None, RuleInput(name="Chairs", keywords="chair"))
    rule = (await services.rules.list(USER))[0]
    await services.rules.edit(USER, str(rule.id), RuleInput(channels="sms"))
    result = await services.listings.sell(
        SellInput(title=title, price="50"), seller_id=99, seller_name="s", guild_id=None
    )
    return result.listing.id


async def outcome(services: Services, listing_id: int) -> list[tuple[str, str, str | None]]:
    while await services.dispatcher.run_once():
        pass
    async with services.sessions() as session:
        found = await OutboxRepository(session).for_listing(listing_id)
    return sorted((r.channel, r.status, r.reason) for r in found)


async def test_an_sms_alert_is_delivered_by_the_dispatcher(
    services: Services,
    sender: SmsSender,
    twilio: TwilioStandin,
    dm: RecordingSender,
) -> None:
    await set_verified_phone(services.sessions, USER)
    listing_id = await sell_to_sms_rule(services)
    assert await outcome(services, listing_id) == [("sms", OutboxStatus.sent, None)]
    assert [m.to for m in twilio.messages] == [NUMBER] and dm.sent == []


async def test_over_the_limit_the_alert_goes_by_dm_instead(
    services: Services,
    sender: SmsSender,
    twilio: TwilioStandin,
    notices: Notices,
    dm: RecordingSender,
) -> None:
    await set_verified_phone(services.sessions, USER)
    sender.settings = sender.settings.model_copy(update={"sms_daily_limit_per_user": 0})
    listing_id = await sell_to_sms_rule(services)
    assert await outcome(services, listing_id) == [
        ("dm", OutboxStatus.sent, None),
        ("sms", OutboxStatus.failed, LIMIT_REACHED),
    ]
    assert [a.listing.id for a in dm.sent] == [listing_id]
    assert len(notices.to(USER)) == 1 and twilio.requests == []


async def test_a_twilio_outage_retries_then_falls_back_to_dm(
    services: Services,
    sender: SmsSender,
    twilio: TwilioStandin,
    dm: RecordingSender,
    clock: FakeClock,
) -> None:
    await set_verified_phone(services.sessions, USER)
    services.dispatcher.clock = clock
    services.listings.clock = clock
    twilio.inject_500(count=50)
    listing_id = await sell_to_sms_rule(services)
    for _ in range(10):
        await outcome(services, listing_id)
        clock.advance(hours=1)
    statuses = [(c, s) for c, s, _ in await outcome(services, listing_id)]
    assert statuses == [("dm", OutboxStatus.sent), ("sms", OutboxStatus.failed)]
    assert twilio.messages == []
