"""The digest DM and its Previous/Next buttons, routed through discord.py's own dispatch."""

from __future__ import annotations

from datetime import timedelta

from db.models import utcnow
from tests.cogs.harness import Harness
from tests.cogs.test_alerts import sell

ALICE, BOB, SELLER = 1_000_000_001, 1_000_000_002, 1_000_000_009


async def digest_for_alice(h: Harness, listings: int) -> None:
    await h.invoke(ALICE, "prefs frequency", frequency="daily")
    await h.invoke(ALICE, "alert create", name="Lamps", keywords="lamp")
    for n in range(listings):
        await sell(h, SELLER, f"Lamp {n}", price=str(10 + n))
    await h.deliver()
    assert h.dms_to(ALICE) == [], "daily: nothing immediate"
    later = utcnow() + timedelta(days=1, hours=1)
    h.services.digests.clock = lambda: later
    h.services.dispatcher.clock = lambda: later
    assert await h.services.digests.run_due() == 1
    await h.deliver()


async def test_a_seven_listing_digest_pages_with_buttons(h: Harness) -> None:
    await digest_for_alice(h, 7)
    (digest,) = h.dms_to(ALICE)
    embed = digest.embeds[0]
    assert embed["title"] == "Your daily digest — 7 deals"
    first_page = "\n".join(f["value"] for f in embed["fields"])
    assert "Lamp 0" in first_page and "Lamp 5" not in first_page, "cheapest five first"
    assert "page 1 of 2" in embed["footer"]["text"]

    turned = await h.click_post(ALICE, digest, "Next ▶")
    page_two = turned.reply.embeds[0]
    assert "page 2 of 2" in page_two["footer"]["text"]
    assert "Lamp 6" in "\n".join(f["value"] for f in page_two["fields"])


async def test_someone_else_cannot_page_through_your_digest(h: Harness) -> None:
    await digest_for_alice(h, 7)
    (digest,) = h.dms_to(ALICE)
    refused = await h.click_post(BOB, digest, "Next ▶")
    assert refused.reply.ephemeral and "no longer available" in (refused.reply.content or "")


async def test_a_short_digest_has_no_page_buttons(h: Harness) -> None:
    await digest_for_alice(h, 2)
    (digest,) = h.dms_to(ALICE)
    assert digest.components == []
    assert digest.embeds[0]["title"] == "Your daily digest — 2 deals"
