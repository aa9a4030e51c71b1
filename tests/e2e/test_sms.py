"""SMS through the real process: the bot's twilio client talks to the Twilio stand-in, reached
only through the documented TWILIO_* settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import started_world
from tests.e2e.test_flows import ok, run
from tests.standins.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioStandin

pytestmark = pytest.mark.e2e

MOBILE = "+14155550123"
LANDLINE = "+44 20 7946 0018"


async def test_phone_verification_then_an_alert_by_sms(tmp_path: Path) -> None:
    twilio = TwilioStandin()
    await twilio.start()
    env = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_API_BASE": twilio.base_url,
    }
    try:
        async with started_world(tmp_path, **env) as world:
            buyer, seller = world.guild.plain[:2]
            landline = await run(world, buyer, "prefs phone set", number=LANDLINE)
            assert landline.ephemeral and "number" in landline.text
            assert twilio.messages == [], "nothing is texted to a refused number"

            await ok(world, buyer, "prefs phone set", number="(415) 555-0123")
            code = re.search(r"\b(\d{6})\b", twilio.last_to(MOBILE).body)
            assert code is not None
            wrong = await run(world, buyer, "prefs phone verify", code="000000")
            assert wrong.ephemeral and "code" in wrong.text
            await ok(world, buyer, "prefs phone verify", code=code.group(1))

            await ok(world, buyer, "alert create", name="Lamps", keywords="lamp", channels="sms")
            await ok(world, seller, "sell", title="Brass floor lamp", price="45")
            await world.discord.state.wait_for(
                lambda: len(twilio.to(MOBILE)) >= 2, 15, "the alert by SMS"
            )
            text = twilio.to(MOBILE)[-1].body
            assert "Brass floor lamp" in text and "$45.00" in text
            assert twilio.to(MOBILE)[-1].num_segments <= 2
            assert world.discord.dms(buyer) == [], "delivered by SMS, not DM"
            world.discord.assert_clean()
    finally:
        await twilio.stop()
