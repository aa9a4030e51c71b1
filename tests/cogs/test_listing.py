"""/listing edit|sold|remove, routed through discord.py's CommandTree: a seller changes only
their own /sell listings, bad input names the option, and watchers hear about it."""

from __future__ import annotations

from decimal import Decimal

from tests.cogs.harness import Harness
from tests.cogs.test_alerts import ALICE, BOB, CAROL, assert_field_error, sell


async def listing_of(h: Harness, title: str) -> str:
    return str(next(li.id for li in await h.listings() if li.title == title))


async def test_edit_changes_the_price_and_keeps_the_history(h: Harness) -> None:
    await sell(h, BOB, "Oak desk", "100")
    await sell(h, BOB, "Pine desk", "60")
    await sell(h, CAROL, "Oak chair", "40")
    oak = await listing_of(h, "Oak desk")
    assert await h.autocomplete(BOB, "listing edit", focused="listing", value="oak") == [oak]
    assert len(await h.autocomplete(BOB, "listing edit", focused="listing", value="")) == 2
    assert await h.autocomplete(ALICE, "listing edit", focused="listing", value="") == []

    reply = await h.invoke(BOB, "listing edit", listing=oak, price="$89.50")
    assert reply.ephemeral
    assert "**Oak desk** now costs $89.50 (was $100.00)" in (reply.content or "")
    by_title = await h.invoke(BOB, "listing edit", listing="oak desk", price="85")
    assert "now costs $85.00 (was $89.50)" in (by_title.content or "")
    [listing] = [li for li in await h.listings() if li.title == "Oak desk"]
    assert listing.price == Decimal("85.00")
    history = await h.services.watchlist.history(BOB, oak, guild_id=None)
    assert [p for _, p in history.points] == [Decimal(100), Decimal("89.50"), Decimal(85)]


async def test_bad_input_names_the_option_and_changes_nothing(h: Harness) -> None:
    await sell(h, BOB, "Oak desk", "100")
    oak = await listing_of(h, "Oak desk")
    for price in ("cheap", "-5", "100"):
        assert_field_error(await h.invoke(BOB, "listing edit", listing=oak, price=price), "price")
    for ref in ("nothing", "123456", "9" * 19):
        assert_field_error(await h.invoke(BOB, "listing edit", listing=ref, price="5"), "listing")
    [listing] = await h.listings()
    assert listing.price == Decimal("100.00")


async def test_other_sellers_listings_cannot_be_changed(h: Harness) -> None:
    await sell(h, BOB, "Oak desk", "100")
    oak = await listing_of(h, "Oak desk")
    for command, options in (
        ("listing edit", {"price": "1"}),
        ("listing sold", {}),
        ("listing remove", {}),
    ):
        for ref in (oak, "Oak desk"):
            reply = await h.invoke(ALICE, command, listing=ref, **options)
            assert_field_error(reply, "listing")
            assert "no such listing of yours" in (reply.content or "")
    [listing] = await h.listings()
    assert (listing.price, listing.status) == (Decimal("100.00"), "active")


async def test_sold_and_remove_end_the_listing_and_tell_watchers(h: Harness) -> None:
    await sell(h, BOB, "Oak desk", "100")
    await sell(h, BOB, "Pine desk", "60")
    oak, pine = await listing_of(h, "Oak desk"), await listing_of(h, "Pine desk")
    await h.invoke(ALICE, "watch add", listing=oak, target_price="50")
    await h.invoke(ALICE, "watch add", listing=pine)

    sold = await h.invoke(BOB, "listing sold", listing=oak)
    assert "**Oak desk** is marked as sold" in (sold.content or "")
    await h.deliver()
    removed = await h.invoke(BOB, "listing remove", listing="Pine desk")
    assert "**Pine desk** was removed" in (removed.content or "")
    assert await h.autocomplete(BOB, "listing edit", focused="listing", value="") == []
    again = await h.invoke(BOB, "listing edit", listing=oak, price="10")
    assert_field_error(again, "listing")
    assert "already sold" in (again.content or "")

    await h.deliver()
    headlines = [(p.content or "").split("\n")[0] for p in h.dms_to(ALICE)]
    assert headlines == [
        "🏷️ **Oak desk** was sold; your price watch has ended.",
        "🗑️ **Pine desk** was removed; your price watch has ended.",
    ]
    for post in h.dms_to(ALICE):
        assert post.components == [] or all(not row["components"] for row in post.components)
        assert "Last price" in [f["name"] for f in post.embeds[0]["fields"]]
    watched = await h.invoke(ALICE, "watch list")
    assert "🏁 Ended: the listing was sold" in watched.text
    assert "🏁 Ended: the listing was removed" in watched.text
    # Nobody can start watching them any more, and they are no longer offered.
    assert_field_error(await h.invoke(CAROL, "watch add", listing=oak), "listing")
    assert await h.autocomplete(CAROL, "watch add", focused="listing", value="desk") == []


async def test_a_price_rise_tells_nobody(h: Harness) -> None:
    await sell(h, BOB, "Oak desk", "100")
    oak = await listing_of(h, "Oak desk")
    await h.invoke(ALICE, "watch add", listing=oak, target_price="90")
    await h.invoke(BOB, "listing edit", listing=oak, price="120")
    await h.deliver()
    assert h.dms_to(ALICE) == []
