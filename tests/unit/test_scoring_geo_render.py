"""Deal score, offline geocoding, and the safety of rendered embeds."""

from __future__ import annotations

from decimal import Decimal

import discord

from bot.delivery.render import (
    NO_PINGS,
    AlertContext,
    alert_buttons,
    alert_embed,
    clean,
    listing_embed,
    only_owner_pings,
)
from bot.domain.listing import Listing
from bot.domain.rule import Rule
from bot.geo import geocode
from bot.logs import redact

D = Decimal


def test_geocode_zip_and_city_state() -> None:
    zip_point = geocode("95112")
    city_point = geocode("San Jose, CA")
    assert zip_point is not None and city_point is not None
    assert zip_point.distance_mi(city_point) < 5
    assert geocode("san jose, california") == city_point
    assert geocode("New York, NY") is not None
    assert geocode("Saint Louis, MO") == geocode("St. Louis, MO")
    la = geocode("Los Angeles, CA")
    assert la is not None and 290 < city_point.distance_mi(la) < 320
    for unknown in ("Atlantis, ZZ", "00000", "", "x" * 200, "Nowhere Town, CA"):
        assert geocode(unknown) is None


def hostile_listing() -> Listing:
    return Listing(
        id=7,
        title="@everyone **FREE** <@&123> [click](http://evil) " + "x" * 400,
        price=D("1.00"),
        description="@here " + "y" * 5000,
        category="Furniture",
        location_text="San Jose, CA",
        image_url="javascript:alert(1)",
    )


def embed_total(embed: discord.Embed) -> int:
    return len(embed)


def test_untrusted_text_cannot_ping_or_break_limits() -> None:
    listing = hostile_listing()
    rule = Rule(id=1, user_id=5, name="n" * 80, keywords=("free",))
    embed = alert_embed(listing, AlertContext(rule, 3.2, "https://discord.com/channels/1/2/3"))
    data = embed.to_dict()
    assert len(data["title"]) <= 256 and "@\u200beveryone" in data["title"]
    assert "\\*\\*FREE\\*\\*" in data["title"]
    assert len(data.get("description", "")) <= 4096
    assert embed_total(embed) <= 6000
    assert "thumbnail" not in data, "non-http image URLs are dropped"
    assert len(listing_embed(listing)) <= 6000
    assert NO_PINGS.everyone is False and NO_PINGS.roles is False and NO_PINGS.users is False
    owner = only_owner_pings(5).to_dict()
    assert owner["parse"] == [] and owner["users"] == [5]


def test_clean_cuts_with_ellipsis() -> None:
    assert clean("a" * 10, 5) == "aaaa…"
    assert clean(None, 5) == ""


async def test_alert_buttons_carry_stable_custom_ids() -> None:
    view = alert_buttons(rule_id=42, listing_id=7)
    ids = [c["custom_id"] for row in view.to_components() for c in row["components"]]
    assert ids == ["ds:pause:42", "ds:nope:7", "ds:watch:7"]
    assert view.is_finished(), "stopped: discord.py keeps nothing per message (cogs answer the ids)"


def test_logs_never_show_tokens_or_phone_numbers() -> None:
    token = "MTA" + "x" * 23 + ".abcdef." + "y" * 30
    line = f"login with {token} webhook /webhooks/123/{'z' * 68} call +14155550123"
    cleaned = redact(line)
    assert token not in cleaned and "z" * 68 not in cleaned and "+14155550123" not in cleaned
