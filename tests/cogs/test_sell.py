"""/sell: store, match, post in the marketplace, alert the buyers (never the seller)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.rule import RuleInput
from tests.cogs.harness import GUILD_ID, Harness, pings_nobody
from tests.cogs.test_alerts import ALICE, BOB, CAROL, assert_field_error, make_rule

MARKET = 600_000_000_000_000_001


async def test_sell_stores_the_listing_and_alerts_matching_rule_owners(h: Harness) -> None:
    await h.services.admin.set_marketplace_channel(GUILD_ID, MARKET)
    await make_rule(h, ALICE, "Desks")
    await make_rule(h, CAROL, "Cheap desks", max_price="500")
    await make_rule(h, BOB, "My own desks")  # the seller's own rule must not alert him
    await make_rule(h, CAROL, "Chairs", keywords="chair")

    h.names[BOB] = "Bob the Seller"
    reply = await h.invoke(
        BOB,
        "sell",
        title="Oak standing desk",
        price="$350",
        condition="like_new",
        category="Furniture",
        location="97201",
        description="Solid oak.",
        photo={"content_type": "image/jpeg", "filename": "desk.jpg"},
    )
    assert reply.ephemeral
    assert reply.content == "✅ Listed! 2 alerts queued."
    assert reply.embed["title"] == "Oak standing desk"
    post_link = reply.field("Marketplace post")
    assert f"https://discord.com/channels/{GUILD_ID}/{MARKET}/" in post_link
    assert reply.embed["image"]["url"].endswith("desk.jpg")

    [post] = h.posts_in(MARKET)
    assert post.embeds[0]["title"] == "Oak standing desk"
    assert pings_nobody(post.allowed_mentions)

    assert await h.listing_count() == 1
    await h.deliver()
    assert sorted(a.user_id for a in h.alerts) == [ALICE, CAROL]
    assert BOB not in {a.user_id for a in h.alerts}
    assert {a.listing.seller_name for a in h.alerts} == {"Bob the Seller"}
    [dm] = h.dms_to(ALICE)
    assert dm.embeds[0]["url"].startswith(f"https://discord.com/channels/{GUILD_ID}/{MARKET}/")


async def test_sell_in_a_dm_posts_nothing_in_a_server(h: Harness) -> None:
    await h.services.admin.set_marketplace_channel(GUILD_ID, MARKET)
    await make_rule(h, ALICE, "Desks")
    reply = await h.invoke(BOB, "sell", guild=False, title="Pine desk", price="80")
    assert reply.content == "✅ Listed! 1 alert queued."
    with pytest.raises(KeyError):
        reply.field("Marketplace post")
    assert h.posts_in(MARKET) == []
    await h.deliver()
    [alert] = h.alerts
    assert alert.listing.guild_id is None and alert.user_id == ALICE


BAD_SELL = [
    pytest.param({"title": "Desk", "price": "abc"}, "price", id="bad-price"),
    pytest.param({"title": "Desk", "price": "-3"}, "price", id="negative-price"),
    pytest.param({"title": "Desk", "price": "99999999"}, "price", id="absurd-price"),
    pytest.param({"title": "   ", "price": "10"}, "title", id="empty-title"),
    pytest.param({"title": "ab", "price": "10"}, "title", id="short-title"),
    pytest.param(
        {"title": "Desk", "price": "10", "location": "Atlantis, ZZ"},
        "location",
        id="unknown-location",
    ),
    pytest.param(
        {
            "title": "Desk",
            "price": "10",
            "photo": {"content_type": "application/pdf", "filename": "desk.pdf"},
        },
        "photo",
        id="not-an-image",
    ),
]


@pytest.mark.parametrize(("options", "field"), BAD_SELL)
async def test_sell_rejects_bad_input_naming_the_field(
    h: Harness, options: dict[str, Any], field: str
) -> None:
    await make_rule(h, ALICE, "Desks")
    reply = await h.invoke(BOB, "sell", **options)
    assert_field_error(reply, field)
    assert await h.listing_count() == 0
    await h.deliver()
    assert h.alerts == []


async def test_untrusted_title_is_escaped_and_pings_nobody(h: Harness) -> None:
    await h.services.admin.set_marketplace_channel(GUILD_ID, MARKET)
    await h.services.admin.set_alert_channel(GUILD_ID, MARKET + 1)
    await h.services.rules.create(
        ALICE, GUILD_ID, RuleInput(name="Desks", keywords="desk", channels="dm,channel")
    )
    title = "@everyone **FREE** desk <@&42> <@1003>"
    reply = await h.invoke(BOB, "sell", title=title, price="1", description="@here _wow_")
    assert "@everyone" not in reply.embed["title"]
    assert "\\*\\*FREE\\*\\*" in reply.embed["title"]
    await h.deliver()
    assert {a.listing.title for a in h.alerts} == {title}  # stored as typed

    dm = h.dms_to(ALICE)[0]
    channel_alert = h.posts_in(MARKET + 1)[0]
    market_post = h.posts_in(MARKET)[0]
    for post in (dm, channel_alert, market_post):
        embed = post.embeds[0]
        assert "@everyone" not in embed["title"] and "@here" not in embed.get("description", "")
        assert "\\*\\*FREE\\*\\*" in embed["title"]
        assert "@everyone" not in (post.content or "")
    assert pings_nobody(dm.allowed_mentions)
    assert pings_nobody(market_post.allowed_mentions)
    # A channel alert may ping its owner, and nobody else.
    allowed = channel_alert.allowed_mentions or {}
    assert allowed.get("parse") == [] and [int(u) for u in allowed.get("users", [])] == [ALICE]
    assert not allowed.get("roles")


async def test_category_autocomplete_on_sell(h: Harness) -> None:
    offered = await h.autocomplete(
        BOB, "sell", focused="category", value="game", title="x", price="1"
    )
    assert offered == ["Video Games"]
