"""/prefs phone, routed through discord.py's CommandTree (tests/cogs/harness.py), with SMS
configured the way an operator would (environment variables) and pointed at the Twilio stand-in.
Bad input names the field and writes nothing; every reply is ephemeral and shows the number
masked."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.services.preferences import PreferencesView
from tests.cogs.harness import Harness, Reply
from tests.sms.conftest import DIGITS, NUMBER, SECRET
from tests.standins.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStandin

ALICE, BOB = 1001, 1002
MASKED = "`+*********23`"


@pytest.fixture
async def h(
    tmp_path: Path, twilio: TwilioStandin, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    """A running bot with every cog loaded and SMS configured through the environment; after
    the test, every reply must have been ephemeral and unable to ping anyone."""
    for name, value in {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE": twilio.base_url,
        "DEALSCOUT_SECRET_KEY": SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    async with Harness.running(tmp_path) as harness:
        yield harness
        harness.assert_replies_private()


def later(h: Harness, seconds: float) -> None:
    """Move the verification service's clock forward (past the one-code-a-minute limit)."""
    clock: Callable[[], datetime] = h.services.phone_verification.clock
    h.services.phone_verification.clock = lambda: clock() + timedelta(seconds=seconds)


def code_in(twilio: TwilioStandin, number: str = NUMBER) -> str:
    match = re.search(r"\b\d{6}\b", twilio.last_to(number).body)
    assert match
    return match.group(0)


def assert_field_error(reply: Reply, field: str) -> None:
    assert reply.ephemeral
    assert reply.content is not None and reply.content.startswith(f"❌ **{field}**"), reply


async def prefs(h: Harness, user: int = ALICE) -> PreferencesView:
    return await h.services.preferences.show(user)


async def verified(h: Harness, twilio: TwilioStandin, user: int = ALICE) -> None:
    await h.invoke(user, "prefs phone set", number="(415) 555-0123")
    reply = await h.invoke(user, "prefs phone verify", code=code_in(twilio))
    assert reply.content is not None and reply.content.startswith("✅ Verified")


async def test_phone_set_and_verify(h: Harness, twilio: TwilioStandin) -> None:
    reply = await h.invoke(ALICE, "prefs phone set", number="(415) 555-0123")
    assert reply.content == (
        f"📱 We texted a 6-digit code to {MASKED}; use `/prefs phone verify` to enter it "
        "within 10 minutes."
    )
    [message] = twilio.messages
    assert message.to == NUMBER and message.num_segments == 1
    status = await h.services.phone_verification.status(ALICE)
    assert status.masked is None  # not until it is verified
    done = await h.invoke(ALICE, "prefs phone verify", code=code_in(twilio), guild=False)
    assert done.content is not None
    assert done.content.startswith(f"✅ Verified {MASKED}. To get alerts by text")
    assert "/prefs channels dm,sms" in done.content and "At most 5 texts a day" in done.content
    status = await h.services.phone_verification.status(ALICE)
    assert (status.masked, status.verified) == ("+*********23", True)
    channels = await h.invoke(ALICE, "prefs channels", value="dm,sms")
    assert channels.content == "✅ Alerts go to: DM, SMS."


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("+44 20 7946 0018", "that is a landline; text alerts need a mobile number"),
        ("1-900-555-0123", "premium-rate"),
        ("12345", "not a valid phone number"),
        ("not a number", "not a phone number"),
    ],
    ids=["landline", "premium", "invalid", "words"],
)
async def test_phone_set_refuses_numbers_that_cannot_take_texts(
    h: Harness, twilio: TwilioStandin, number: str, says: str
) -> None:
    reply = await h.invoke(ALICE, "prefs phone set", number=number)
    assert_field_error(reply, "number")
    assert says in (reply.content or "")
    assert twilio.requests == []
    nothing = await h.invoke(ALICE, "prefs phone verify", code="123456")
    assert "no code waiting" in (nothing.content or "")


async def test_a_number_the_carrier_refuses(h: Harness, twilio: TwilioStandin) -> None:
    twilio.not_mobile(NUMBER)
    reply = await h.invoke(ALICE, "prefs phone set", number=NUMBER)
    assert_field_error(reply, "number")
    assert "cannot receive text messages" in (reply.content or "")


async def test_wrong_codes_then_a_new_one(h: Harness, twilio: TwilioStandin) -> None:
    await h.invoke(ALICE, "prefs phone set", number="(415) 555-0123")
    right = code_in(twilio)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    answers = [
        (await h.invoke(ALICE, "prefs phone verify", code=wrong)).content or "" for _ in range(6)
    ]
    for answer, left in zip(answers[:4], ["4 tries", "3 tries", "2 tries", "1 try"], strict=True):
        assert answer.startswith("❌ **code**: wrong code") and f"{left} left" in answer, answer
    assert "last try" in answers[4] and "entered wrong too often" in answers[5]
    locked = await h.invoke(ALICE, "prefs phone verify", code=right)
    assert "request a new code" in (locked.content or "")
    assert not (await h.services.phone_verification.status(ALICE)).verified
    malformed = await h.invoke(ALICE, "prefs phone verify", code="12ab56")
    assert_field_error(malformed, "code")
    soon = await h.invoke(ALICE, "prefs phone set", number=NUMBER)
    assert "less than a minute ago" in (soon.content or "")
    later(h, 61)
    await h.invoke(ALICE, "prefs phone set", number=NUMBER)
    assert len(twilio.messages) == 2
    done = await h.invoke(ALICE, "prefs phone verify", code=code_in(twilio))
    assert (done.content or "").startswith("✅ Verified")


async def test_sms_channel_needs_a_verified_number_first(h: Harness, twilio: TwilioStandin) -> None:
    reply = await h.invoke(ALICE, "prefs channels", value="sms")
    assert_field_error(reply, "channels")
    assert "/prefs phone set" in (reply.content or "")
    assert (await prefs(h)).channels == ("dm",)
    offered = await h.autocomplete(ALICE, "prefs channels", focused="value", value="sm")
    assert offered and all("sms" in v for v in offered) and "dm,sms" in offered


async def test_phone_remove(h: Harness, twilio: TwilioStandin) -> None:
    await verified(h, twilio)
    await h.services.preferences.set_channels(ALICE, "dm,sms")
    reply = await h.invoke(ALICE, "prefs phone remove")
    assert reply.content == (
        "🗑️ Removed your phone number. Alerts meant for SMS come by DM instead; "
        "change that with `/prefs channels`."
    )
    status = await h.services.phone_verification.status(ALICE)
    assert (status.masked, status.verified) == (None, False)
    plain = await h.invoke(BOB, "prefs phone remove", guild=False)
    assert plain.content == "🗑️ Removed your phone number."


async def test_sms_not_configured_says_so(h: Harness, twilio: TwilioStandin) -> None:
    sms = h.services.sms
    sms.settings = sms.settings.model_copy(update={"twilio_account_sid": None})
    reply = await h.invoke(ALICE, "prefs phone set", number=NUMBER)
    assert reply.content == "❌ text messages are not set up on this bot; ask its owner"
    assert twilio.requests == []


async def test_the_number_is_never_logged_nor_shown(
    h: Harness, twilio: TwilioStandin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await h.invoke(ALICE, "prefs phone set", number="+44 20 7946 0018")
    await h.invoke(ALICE, "prefs phone set", number="(415) 555-0123")
    wrong = f"{(int(code_in(twilio)) + 1) % 1_000_000:06d}"
    await h.invoke(ALICE, "prefs phone verify", code=wrong)
    await h.invoke(ALICE, "prefs phone verify", code=code_in(twilio))
    shown_prefs = await h.invoke(ALICE, "prefs show")
    assert "number ending 23 (✅ verified)" in shown_prefs.text
    await h.invoke(ALICE, "prefs phone remove")
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    shown = "\n".join(reply.text for _, reply in h.all_replies())
    for fragment in (DIGITS, "5550123", "555-0123", "7946"):
        assert fragment not in logged
        assert fragment not in shown
