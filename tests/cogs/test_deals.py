"""/deals, routed through discord.py's CommandTree: recommendations with reasons, /deals why,
bad listing ids naming the option, the Not interested button changing later results, and
nothing of other users leaking."""

from __future__ import annotations

from tests.cogs.harness import GUILD_ID, Harness, Reply
from tests.cogs.test_alerts import ALICE, BOB, CAROL, assert_field_error, make_rule, sell

MARKET = 600_000_000_000_000_001


async def listing_id(h: Harness, title: str) -> int:
    return next(x.id for x in await h.listings() if x.title == title)


def item_values(reply: Reply) -> list[str]:
    return [f["value"] for e in reply.embeds for f in e.get("fields", [])]


async def test_for_me_shows_near_misses_with_price_link_and_reason(h: Harness) -> None:
    await h.services.admin.set_marketplace_channel(GUILD_ID, MARKET)
    await make_rule(h, ALICE, "Desks", max_price="300")
    await sell(h, BOB, "Oak desk", price="200")  # matches: Alice is alerted, not recommended
    await sell(h, BOB, "Walnut desk", price="330")  # 10% over her max
    await sell(h, BOB, "Floor lamp", price="40")
    walnut = await listing_id(h, "Walnut desk")

    reply = await h.invoke(ALICE, "deals for-me")
    assert reply.ephemeral
    assert reply.embed["title"] == "🎯 Deals for you"
    [field] = reply.embed["fields"]
    assert field["name"] == f"1. #{walnut} Walnut desk"
    value = field["value"]
    assert f"**[Walnut desk](https://discord.com/channels/{GUILD_ID}/{MARKET}/" in value
    assert "$330.00" in value
    assert "Deal score: not scored: no similar listings" in value
    assert "Why: almost matches your alert Desks (10% over your max price)" in value
    assert f"`/deals why listing:{walnut}`" in value
    assert reply.buttons == []  # one page


async def test_for_me_with_nothing_to_recommend(h: Harness) -> None:
    reply = await h.invoke(ALICE, "deals for-me", guild=False)
    assert reply.ephemeral and "Nothing to recommend yet" in (reply.content or "")
    await make_rule(h, ALICE, "Desks")
    reply = await h.invoke(ALICE, "deals for-me")
    assert "Nothing to recommend right now" in (reply.content or "")


async def test_for_me_pages_five_at_a_time_and_only_for_the_caller(h: Harness) -> None:
    for i in range(7):
        await sell(h, BOB, f"Chair model {i}", price=str(100 + i))
    await make_rule(h, ALICE, "Chairs", keywords="chair")  # after the listings: no alerts
    first = await h.invoke(ALICE, "deals for-me")
    assert len(first.embed["fields"]) == 5
    assert first.embed["footer"]["text"] == "Page 1/2"
    assert all("Why: matches your alert Chairs" in v for v in item_values(first))
    refused = await h.click(BOB, first, "Next")
    assert "someone else" in (refused.reply.content or "")
    second = (await h.click(ALICE, first, "Next")).reply
    assert len(second.embed["fields"]) == 2
    assert second.embed["fields"][0]["name"].startswith("6. #")


async def test_why_explains_a_listing_signal_by_signal(h: Harness) -> None:
    await make_rule(h, ALICE, "Desks", max_price="300")
    await make_rule(h, ALICE, "Lamps", keywords="lamp")
    await sell(h, BOB, "Walnut desk", price="330")
    walnut = await listing_id(h, "Walnut desk")

    reply = await h.invoke(ALICE, "deals why", listing=str(walnut))
    assert reply.ephemeral
    assert reply.embed["title"] == f"Why #{walnut} Walnut desk"
    assert reply.embed["description"].startswith("✅ #1 of your 1 recommendation:")
    assert reply.field("Score") == "`+0.45`"
    assert reply.field("In one line") == "almost matches your alert Desks (10% over your max price)"
    assert reply.field("Signals") == (
        "`+0.45` almost matches your alert Desks (10% over your max price)"
    )
    alerts = reply.field("Your alerts").splitlines()
    assert alerts[0] == "🟡 almost matches your alert Desks (10% over your max price)"
    assert alerts[1].startswith("❌ Lamps: keywords: none of “lamp” found")
    assert "alert match +1" in reply.embed["footer"]["text"]


async def test_why_says_what_keeps_a_listing_out(h: Harness) -> None:
    await make_rule(h, ALICE, "Desks")
    await sell(h, BOB, "Oak desk")
    await sell(h, ALICE, "Pine desk")
    oak, pine = await listing_id(h, "Oak desk"), await listing_id(h, "Pine desk")
    alerted = await h.invoke(ALICE, "deals why", listing=f"#{oak}")
    assert alerted.embed["description"] == (
        "🚫 Never recommended to you: you were already alerted about it."
    )
    own = await h.invoke(ALICE, "deals why", listing=str(pine))
    assert own.embed["description"] == "🚫 Never recommended to you: it is your own listing."
    assert "Your alerts" not in own.text
    await h.services.listings.revise(pine, status="sold")
    sold = await h.invoke(BOB, "deals why", listing=str(pine))
    assert sold.embed["description"] == (
        "🚫 Never recommended to you: it is no longer for sale (sold)."
    )


async def test_bad_listing_ids_name_the_listing_option(h: Harness) -> None:
    await sell(h, BOB, "Oak desk")
    for bad in ("abc", "12 desks", "999999", "0", "99999999999999999999"):
        reply = await h.invoke(ALICE, "deals why", listing=bad)
        assert_field_error(reply, "listing")


async def test_listing_autocomplete_offers_recent_listings(h: Harness) -> None:
    await sell(h, BOB, "Walnut desk", price="330")
    await sell(h, BOB, "Floor lamp", price="40")
    walnut = await listing_id(h, "Walnut desk")
    assert await h.autocomplete(ALICE, "deals why", focused="listing", value="walnut") == [
        str(walnut)
    ]
    assert len(await h.autocomplete(ALICE, "deals why", focused="listing")) == 2


async def test_the_not_interested_button_changes_later_results(h: Harness) -> None:
    await sell(h, BOB, "Herman Miller Aeron chair")
    await sell(h, BOB, "Steelcase Leap chair")
    await sell(h, BOB, "Aeron chair graphite")
    rule_id = await make_rule(h, ALICE, "Chairs", keywords="chair")
    aeron, leap, graphite = [
        await listing_id(h, t)
        for t in ("Herman Miller Aeron chair", "Steelcase Leap chair", "Aeron chair graphite")
    ]
    before = await h.invoke(ALICE, "deals for-me")
    names = [f["name"] for f in before.embed["fields"]]
    assert names == [f"1. #{graphite} Aeron chair graphite", f"2. #{leap} Steelcase Leap chair",
                     f"3. #{aeron} Herman Miller Aeron chair"]  # fmt: skip

    message = h.alert_message(rule_id, graphite, ALICE)
    clicked = (await h.click_message(ALICE, message, f"ds:nope:{graphite}")).reply
    assert "won't hear about this listing again" in (clicked.content or "")

    after = await h.invoke(ALICE, "deals for-me")
    assert [f["name"] for f in after.embed["fields"]] == [
        f"1. #{leap} Steelcase Leap chair",
        f"2. #{aeron} Herman Miller Aeron chair",  # like the dismissed one: below the Leap now
    ]
    why = await h.invoke(ALICE, "deals why", listing=str(aeron))
    assert "which you marked Not interested" in why.field("Signals")
    assert "Aeron chair graphite" in why.field("Signals")


async def test_nothing_of_other_users_leaks(h: Harness) -> None:
    await make_rule(h, BOB, "Bob secret sofa hunt", keywords="sofa, desk")
    await make_rule(h, ALICE, "Desks", max_price="100")
    await sell(h, CAROL, "Walnut desk", price="110")
    await sell(h, CAROL, "Velvet sofa", price="300")
    walnut = await listing_id(h, "Walnut desk")
    await h.services.feedback.not_interested(BOB, walnut)  # Bob's dismissal is his alone
    replies = [
        await h.invoke(ALICE, "deals for-me"),
        await h.invoke(ALICE, "deals why", listing=str(walnut)),
        await h.invoke(ALICE, "deals why", listing=str(await listing_id(h, "Velvet sofa"))),
    ]
    assert f"#{walnut} Walnut desk" in replies[0].text
    for reply in replies:
        assert "Bob" not in reply.text and "sofa hunt" not in reply.text
        assert "which you marked Not interested" not in reply.text
    bob = await h.invoke(BOB, "deals for-me")
    assert "Walnut desk" not in bob.text  # he was alerted to it and dismissed it


async def test_listing_text_is_escaped(h: Harness) -> None:
    await make_rule(h, ALICE, "Desks", max_price="100")
    await sell(h, BOB, "**Loud** desk @everyone [x](https://evil.example)", price="110")
    reply = await h.invoke(ALICE, "deals for-me")
    [field] = reply.embed["fields"]
    assert "**Loud**" not in field["name"] and "\\*\\*Loud\\*\\*" in field["name"]
    assert "@everyone" not in reply.text
    assert "\\[x](https://evil.example)" in field["value"]  # shown as text, not as a link
    assert " [x](" not in field["value"]


async def test_a_linked_title_cannot_smuggle_its_own_link(h: Harness) -> None:
    await h.services.admin.set_marketplace_channel(GUILD_ID, MARKET)
    await make_rule(h, ALICE, "Desks", max_price="100")
    await sell(h, BOB, "Desk [cheap](https://evil.example)", price="110")
    reply = await h.invoke(ALICE, "deals for-me")
    first_line = reply.embed["fields"][0]["value"].splitlines()[0]
    assert first_line.startswith("**[Desk (cheap)(https://evil.example)](https://discord.com/")


async def test_long_titles_and_many_alerts_stay_within_discords_limits(h: Harness) -> None:
    """Titles of 200 markdown characters (escaping doubles them) and 25 long alert names: the
    harness refuses anything Discord would."""
    await h.services.admin.set_marketplace_channel(GUILD_ID, MARKET)
    for i in range(25):
        name = f"{i:02d} " + "*_~" * 25
        await make_rule(h, ALICE, name, keywords=f"chair, desk{i}", max_price="100")
    for i in range(10):
        await sell(h, BOB, f"chair {i} " + "*_`|" * 48, price="110")
    reply = await h.invoke(ALICE, "deals for-me")
    assert len(reply.embed["fields"]) == 5
    chair = await listing_id(h, f"chair 9 {'*_`|' * 48}")
    why = await h.invoke(ALICE, "deals why", listing=str(chair))
    assert "…and" in why.field("Your alerts")
