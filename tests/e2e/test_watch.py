"""The watchlist through the real `python -m bot` process and the Discord stand-in: a buyer's
alert DM → "Watch price" → the seller lowers the price with /listing edit → a price-drop DM."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import World
from tests.e2e.test_flows import buttons, ok

pytestmark = pytest.mark.e2e


async def test_watch_price_from_an_alert_then_a_price_drop_dm(world: World) -> None:
    buyer, seller = world.guild.plain[0], world.guild.plain[1]
    await ok(world, buyer, "alert create", name="Desks", keywords="desk")
    await ok(world, seller, "sell", title="Oak standing desk", price="200")

    (alert,) = await world.discord.wait_dm(buyer, timeout=10)
    assert set(buttons(alert)) == {"Pause this alert", "Not interested", "Watch price"}
    clicked = await world.discord.click(buyer, alert, buttons(alert)["Watch price"])
    watching = await clicked.response(10)
    assert watching.ephemeral
    assert "Watching **Oak standing desk** (now $200.00)" in watching.text
    assert "10% below $200.00 (at or below $180.00)" in watching.text

    # The seller finds the listing through the autocomplete (only their own) and cuts the price.
    (choice,) = await world.discord.autocomplete(
        seller, "listing edit", "listing", {"listing": "oak"}
    )
    assert choice["name"].endswith("Oak standing desk — $200.00")
    assert await world.discord.autocomplete(buyer, "listing edit", "listing", {"listing": ""}) == []
    await ok(world, seller, "listing edit", listing=choice["value"], price="170")

    _, drop = await world.discord.wait_dm(buyer, count=2, timeout=10)
    assert "Price drop: **Oak standing desk** is now $170.00" in drop.content
    embed = drop.embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Price"] == "~~$200.00~~ → **$170.00**"
    assert fields["Drop you asked for"] == "10% (at or below $180.00)"
    assert set(buttons(drop)) == {"Stop watching"}

    listed = await ok(world, buyer, "watch list")
    assert "Oak standing desk" in listed.text and "lowest $170.00" in listed.text
    assert world.discord.dms(seller) == [], "the seller hears nothing about their own listing"
    world.discord.assert_clean()
