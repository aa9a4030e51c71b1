"""Phone verification: numbers normalised and screened by phonenumbers, the code texted through
the real twilio client to the stand-in, the clock injected; the number encrypted at rest and
never logged."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.sms_text import measure
from bot.errors import UserFacingError
from bot.services import Services
from bot.services.phone import PhoneVerificationService, mask, normalise_number
from db.models import VerificationRow
from db.repositories.preferences import PreferencesRepository
from tests.sms.conftest import DIGITS, NUMBER, FakeClock, preferences
from tests.standins.twilio import FROM_NUMBER, TwilioStandin

USER = 77
UK_MOBILE = "+447400123456"


def received_code(twilio: TwilioStandin, number: str = NUMBER) -> str:
    message = twilio.last_to(number)
    assert message.from_ == FROM_NUMBER
    match = re.search(r"\b(\d{6})\b", message.body)
    assert match, message.body
    return match.group(1)


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def pending(
    sessions: async_sessionmaker[AsyncSession], user_id: int = USER
) -> VerificationRow | None:
    async with sessions() as session:
        return await PreferencesRepository(session).verification(user_id, "phone")


# ---- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(415) 555-0123", NUMBER),
        ("415.555.0123", NUMBER),
        (" +1 415 555 0123 ", NUMBER),
        ("1-415-555-0123", NUMBER),
        ("+44 7400 123456", UK_MOBILE),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, e164: str) -> None:
    assert normalise_number(raw) == e164


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("+44 20 7946 0018", "landline"),  # London: FIXED_LINE in phonenumbers' metadata
        ("1-900-555-0123", "premium-rate"),
        ("(800) 555-0123", "toll-free"),
        ("12345", "not a valid phone number"),
        ("415 555 01234", "not a valid phone number"),
        ("call me maybe", "not a phone number"),
        ("", "type a phone number"),
        ("+1" + "5" * 60, "type a phone number"),
    ],
)
def test_numbers_that_cannot_take_texts_are_refused(raw: str, says: str) -> None:
    with pytest.raises(UserFacingError) as caught:
        normalise_number(raw)
    assert caught.value.field == "number"
    assert says in caught.value.message
    digits = re.sub(r"\D", "", raw)
    assert len(digits) < 5 or digits not in caught.value.message  # never echoed


def test_mask_keeps_only_the_last_two_digits() -> None:
    assert mask(NUMBER) == "+*********23"
    assert mask(UK_MOBILE) == "+**********56"


# ---- the code ---------------------------------------------------------------------------------


async def test_code_arrives_by_sms_and_verifies_the_normalised_number(
    phone: PhoneVerificationService,
    sessions: async_sessionmaker[AsyncSession],
    twilio: TwilioStandin,
) -> None:
    assert await phone.start(USER, "(415) 555-0123") == "+*********23"
    [message] = twilio.messages
    assert message.to == NUMBER and message.num_segments == 1
    assert measure(message.body).segments == 1
    assert "10 minutes" in message.body
    [request] = twilio.requests
    assert request.authorized and request.content_type == "application/x-www-form-urlencoded"
    code = received_code(twilio)
    row = await pending(sessions)
    assert row is not None and code not in row.code_hash and row.attempts == 0
    assert (await preferences(sessions, USER)) is None  # nothing is the user's until verified

    assert await phone.verify(USER, f"{code[:3]} {code[3:]}") == "+*********23"
    prefs = await preferences(sessions, USER)
    assert prefs is not None and prefs.phone_verified and not prefs.sms_opted_out
    assert prefs.phone_last2 == "23"
    assert await pending(sessions) is None
    status = await phone.status(USER)
    assert (status.masked, status.verified, status.opted_out) == ("+*********23", True, False)


async def test_the_number_is_encrypted_at_rest_pending_and_verified(
    phone: PhoneVerificationService,
    services: Services,
    twilio: TwilioStandin,
) -> None:
    await phone.start(USER, NUMBER)

    async def raw_rows() -> str:
        async with services.engine.connect() as conn:
            prefs = (await conn.execute(text("SELECT * FROM preferences"))).all()
            pending = (await conn.execute(text("SELECT * FROM verifications"))).all()
        return repr(prefs) + repr(pending)

    assert DIGITS not in await raw_rows()
    assert "5550123" not in await raw_rows()
    await phone.verify(USER, received_code(twilio))
    dump = await raw_rows()
    assert DIGITS not in dump and "5550123" not in dump
    prefs = await preferences(services.sessions, USER)
    assert prefs is not None and prefs.phone_encrypted and DIGITS not in prefs.phone_encrypted


async def test_six_wrong_codes(
    phone: PhoneVerificationService,
    twilio: TwilioStandin,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await phone.start(USER, NUMBER)
    code = received_code(twilio)
    messages = []
    for _ in range(6):
        with pytest.raises(UserFacingError) as caught:
            await phone.verify(USER, other_than(code))
        assert caught.value.field == "code"
        messages.append(caught.value.message)
    assert messages == [
        "wrong code; 4 tries left",
        "wrong code; 3 tries left",
        "wrong code; 2 tries left",
        "wrong code; 1 try left",
        "wrong code, and that was the last try; request a new code",
        "this code was entered wrong too often; request a new code",
    ]
    with pytest.raises(UserFacingError, match="entered wrong too often"):
        await phone.verify(USER, code)  # even the right one, now
    prefs = await preferences(sessions, USER)
    assert prefs is None or not prefs.phone_verified


@pytest.mark.parametrize("code", ["12345", "1234567", "12ab56", "١٢٣٤٥٦"])
async def test_a_malformed_code_costs_no_attempt(
    phone: PhoneVerificationService,
    twilio: TwilioStandin,
    sessions: async_sessionmaker[AsyncSession],
    code: str,
) -> None:
    await phone.start(USER, NUMBER)
    with pytest.raises(UserFacingError, match="6 digits in the text") as caught:
        await phone.verify(USER, code)
    assert caught.value.field == "code"
    row = await pending(sessions)
    assert row is not None and row.attempts == 0


async def test_the_code_expires_after_ten_minutes(
    phone: PhoneVerificationService, twilio: TwilioStandin, clock: FakeClock
) -> None:
    await phone.start(USER, NUMBER)
    code = received_code(twilio)
    clock.advance(minutes=10)
    with pytest.raises(UserFacingError, match="expired"):
        await phone.verify(USER, code)
    clock.advance(seconds=1)
    assert await phone.start(USER, NUMBER) == "+*********23"
    clock.advance(minutes=9, seconds=59)
    assert await phone.verify(USER, received_code(twilio)) == "+*********23"


async def test_no_code_waiting(phone: PhoneVerificationService) -> None:
    with pytest.raises(UserFacingError, match="no code waiting"):
        await phone.verify(USER, "123456")


async def test_resends_are_limited_to_one_a_minute_and_five_an_hour(
    phone: PhoneVerificationService, twilio: TwilioStandin, clock: FakeClock
) -> None:
    await phone.start(USER, NUMBER)
    clock.advance(seconds=30)
    with pytest.raises(
        UserFacingError, match="less than a minute ago; you can ask again in 30 seconds"
    ):
        await phone.start(USER, NUMBER)
    for _ in range(4):
        clock.advance(seconds=60)
        await phone.start(USER, NUMBER)
    assert len(twilio.messages) == 5
    clock.advance(seconds=60)
    with pytest.raises(
        UserFacingError, match="5 codes in the last hour; you can ask again in 55 minutes"
    ):
        await phone.start(USER, NUMBER)
    assert len(twilio.messages) == 5
    clock.advance(minutes=56)
    await phone.start(USER, NUMBER)
    assert len(twilio.messages) == 6
    # Only the newest code works.
    codes = [re.search(r"\d{6}", m.body).group(0) for m in twilio.messages]  # type: ignore[union-attr]
    if codes[-2] != codes[-1]:
        with pytest.raises(UserFacingError, match="wrong code"):
            await phone.verify(USER, codes[-2])
    assert await phone.verify(USER, codes[-1]) == "+*********23"


async def test_a_landline_is_refused_before_anything_is_sent(
    phone: PhoneVerificationService,
    twilio: TwilioStandin,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(UserFacingError) as caught:
        await phone.start(USER, "+44 20 7946 0018")
    assert caught.value.field == "number" and "landline" in caught.value.message
    assert twilio.requests == [] and await pending(sessions) is None


async def test_a_number_the_carrier_says_is_no_mobile_is_refused_and_nothing_kept(
    phone: PhoneVerificationService,
    twilio: TwilioStandin,
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
) -> None:
    twilio.not_mobile(NUMBER)
    with pytest.raises(UserFacingError) as caught:
        await phone.start(USER, NUMBER)
    assert caught.value.field == "number"
    assert "cannot receive text messages" in caught.value.message
    assert await pending(sessions) is None  # undone: no rate limit spent on a failed send
    twilio.landlines.clear()
    await phone.start(USER, NUMBER)  # at once: the failed send did not count
    assert len(twilio.messages) == 1


async def test_an_opted_out_number_is_told_how_to_opt_back_in(
    phone: PhoneVerificationService, twilio: TwilioStandin
) -> None:
    twilio.opt_out(NUMBER)
    with pytest.raises(UserFacingError) as caught:
        await phone.start(USER, NUMBER)
    assert caught.value.field == "number" and "START" in caught.value.message


async def test_a_twilio_outage_keeps_the_previous_code(
    phone: PhoneVerificationService, twilio: TwilioStandin, clock: FakeClock
) -> None:
    await phone.start(USER, NUMBER)
    first = received_code(twilio)
    clock.advance(seconds=61)
    twilio.inject_500()
    with pytest.raises(UserFacingError, match="could not send the code; try again later"):
        await phone.start(USER, NUMBER)
    assert await phone.verify(USER, first) == "+*********23"


async def test_sms_not_configured(
    services: Services, clock: FakeClock, twilio: TwilioStandin
) -> None:
    services.sms.settings = services.settings.model_copy(update={"twilio_auth_token": None})
    with pytest.raises(UserFacingError, match="not set up on this bot") as caught:
        await services.phone_verification.start(USER, NUMBER)
    assert caught.value.field is None
    assert twilio.requests == []


async def test_codes_count_towards_the_daily_budget(
    services: Services, phone: PhoneVerificationService, twilio: TwilioStandin, clock: FakeClock
) -> None:
    services.sms.settings = services.settings.model_copy(update={"sms_daily_budget": 1})
    await phone.start(USER, NUMBER)
    clock.advance(seconds=61)
    with pytest.raises(UserFacingError, match="all the text messages it can today"):
        await phone.start(USER, NUMBER)
    assert len(twilio.messages) == 1
    assert await services.sms.usage.count(USER, "2026-11-22") == 1


async def test_remove_forgets_number_and_pending_code(
    phone: PhoneVerificationService,
    twilio: TwilioStandin,
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
) -> None:
    await phone.start(USER, NUMBER)
    await phone.verify(USER, received_code(twilio))
    clock.advance(seconds=61)
    await phone.start(USER, "+1 212 555 0199")
    await phone.remove(USER)
    prefs = await preferences(sessions, USER)
    assert prefs is not None
    assert (prefs.phone_encrypted, prefs.phone_last2, prefs.phone_verified) == (None, None, False)
    assert await pending(sessions) is None
    assert (await phone.status(USER)).masked is None
    await phone.remove(USER)  # twice is fine
    await phone.remove(999)  # and for a user with nothing


async def test_the_number_never_reaches_a_log(
    phone: PhoneVerificationService,
    services: Services,
    twilio: TwilioStandin,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await phone.start(USER, "(415) 555-0123")
    with pytest.raises(UserFacingError):
        await phone.verify(USER, other_than(received_code(twilio)))
    await phone.verify(USER, received_code(twilio))
    clock.advance(seconds=61)
    twilio.inject_500()
    with pytest.raises(UserFacingError):
        await phone.start(USER, NUMBER)
    clock.advance(seconds=61)
    twilio.not_mobile(NUMBER)
    with pytest.raises(UserFacingError):
        await phone.start(USER, NUMBER)
    await phone.remove(USER)
    assert caplog.records, "expected the flow to log something (twilio's client logs requests)"
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
    )
    for fragment in (DIGITS, "555-0123", "5550123", "(415) 555"):
        assert fragment not in logged
