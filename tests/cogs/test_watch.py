"""/watch and the watch buttons, routed through discord.py's CommandTree: every command, bad
input naming the option, other users' watches invisible, "Watch price" on an alert DM, the
price-drop DM and its "Stop watching" button, and the history chart (a real PNG)."""

from __future__ import annotations

import struct
from typing import Any

from bot.delivery.render_watch import WATCH_PRICE_ID
from tests.cogs.harness import Harness, Post, Reply
from tests.cogs.test_alerts import ALICE, BOB, CAROL, assert_field_error, make_rule, sell

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def oak_desk(h: Harness, price: str = "100") -> int:
    """Bob lists an oak desk in the server; returns its id."""
    await sell(h, BOB, "Oak desk", price)
    listing = next(li for li in await h.listings() if li.title == "Oak desk")
    return listing.id


def labels(post: Post) -> list[str]:
    return [b["label"] for row in post.components for b in row["components"]]


async def test_add_list_remove(h: Harness) -> None:
    listing = await oak_desk(h)
    assert await h.autocomplete(ALICE, "watch add", focused="listing", value="oak") == [
        str(listing)
    ]
    names = [c["name"] for c in h.exchanges[list(h.exchanges)[-1]].reply.choices]
    assert names == [f"#{listing} Oak desk — $100.00"]

    added = await h.invoke(ALICE, "watch add", listing=str(listing), target_price="$85")
    assert added.ephemeral
    assert "Watching **Oak desk** (now $100.00)" in (added.content or "")
    assert "at or below $85.00" in (added.content or "")

    both = await h.invoke(
        CAROL, "watch add", listing=f"#{listing}", target_price="80", drop_percent=15.0
    )
    assert "at or below $80.00 or 15% below $100.00 (at or below $85.00)" in (both.content or "")

    shown = await h.invoke(ALICE, "watch list")
    assert shown.embed["title"] == "👀 Your watched listings (1)"
    value = shown.field(f"#{listing} Oak desk")
    assert "Now $100.00 · started at $100.00 · lowest $100.00" in value
    assert "Alerts when at or below $85.00" in value

    assert await h.autocomplete(ALICE, "watch remove", focused="listing", value="") == [
        str(listing)
    ]
    removed = await h.invoke(ALICE, "watch remove", listing=str(listing))
    assert "Stopped watching **Oak desk**" in (removed.content or "")
    empty = await h.invoke(ALICE, "watch list")
    assert "aren't watching any listings" in (empty.content or "")
    # Carol's watch is untouched.
    assert "Oak desk" in (await h.invoke(CAROL, "watch list")).text


async def test_a_watch_by_title_and_the_default_ten_percent(h: Harness) -> None:
    await oak_desk(h)
    reply = await h.invoke(ALICE, "watch add", listing="oak desk")
    assert "10% below $100.00 (at or below $90.00)" in (reply.content or "")


async def test_bad_input_names_the_option(h: Harness) -> None:
    listing = str(await oak_desk(h))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"listing": listing, "target_price": "cheap"}, "target_price"),
        ({"listing": listing, "target_price": "0"}, "target_price"),
        ({"listing": listing, "drop_percent": 150.0}, "drop_percent"),
        ({"listing": listing, "drop_percent": 0.0}, "drop_percent"),
        ({"listing": "no such thing"}, "listing"),
        ({"listing": "999999"}, "listing"),
        ({"listing": "9" * 19}, "listing"),
    ]
    for options, field in cases:
        assert_field_error(await h.invoke(ALICE, "watch add", **options), field)
    own = await h.invoke(BOB, "watch add", listing=listing)
    assert_field_error(own, "listing")
    assert "your own listing" in (own.content or "")
    await h.invoke(ALICE, "watch add", listing=listing)
    assert_field_error(await h.invoke(ALICE, "watch add", listing=listing), "listing")
    assert_field_error(await h.invoke(ALICE, "watch remove", listing="nothing"), "listing")
    assert_field_error(await h.invoke(ALICE, "watch history", listing="nothing"), "listing")
    assert len(await h.services.watchlist.watches(ALICE)) == 1


async def test_other_users_watches_are_invisible(h: Harness) -> None:
    listing = str(await oak_desk(h))
    await h.invoke(ALICE, "watch add", listing=listing, target_price="85")
    assert "aren't watching" in ((await h.invoke(CAROL, "watch list")).content or "")
    assert await h.autocomplete(CAROL, "watch remove", focused="listing", value="") == []
    assert_field_error(await h.invoke(CAROL, "watch remove", listing=listing), "listing")
    assert_field_error(await h.invoke(CAROL, "watch remove", listing="Oak desk"), "listing")
    assert len(await h.services.watchlist.watches(ALICE)) == 1


async def test_any_server_listing_can_be_watched_from_a_dm(h: Harness) -> None:
    """One marketplace for every server (as alerts and /deals): a DM may watch it too."""
    listing = str(await oak_desk(h))
    assert await h.autocomplete(ALICE, "watch add", focused="listing", guild=False) == [listing]
    reply = await h.invoke(ALICE, "watch add", listing=listing, guild=False)
    assert (reply.content or "").startswith("👀") or "Watching" in (reply.content or ""), reply
    assert_field_error(await h.invoke(ALICE, "watch add", listing="99999", guild=False), "listing")


async def alert_dm(h: Harness) -> Post:
    """Alice has an alert for desks; Bob sells one; Alice gets the DM with three buttons."""
    await make_rule(h, ALICE, "Desks")
    await sell(h, BOB, "Oak desk", "100")
    await h.deliver()
    [post] = h.dms_to(ALICE)
    assert labels(post) == ["Pause this alert", "Not interested", "Watch price"]
    return post


async def test_watch_price_on_an_alert_dm_then_the_drop_dm(h: Harness) -> None:
    post = await alert_dm(h)
    [listing] = await h.listings()
    ids = [b["custom_id"] for row in post.components for b in row["components"]]
    assert ids[2] == WATCH_PRICE_ID.format(listing_id=listing.id)

    clicked = (await h.click_post(ALICE, post, "Watch price")).reply
    assert clicked.ephemeral
    assert "Watching **Oak desk**" in (clicked.content or "") and "10%" in (clicked.content or "")
    again = (await h.click_post(ALICE, post, "Watch price")).reply
    assert "already watch **Oak desk**" in (again.content or "")
    assert len(await h.services.watchlist.watches(ALICE)) == 1

    edited = await h.invoke(BOB, "listing edit", listing=str(listing.id), price="85")
    assert "now costs $85.00 (was $100.00)" in (edited.content or "")
    await h.deliver()
    drop = h.dms_to(ALICE)[-1]
    assert drop.content is not None and "Price drop: **Oak desk** is now $85.00" in drop.content
    embed = drop.embeds[0]
    assert embed["title"] == "Oak desk"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Price"] == "~~$100.00~~ → **$85.00**"
    assert fields["Drop you asked for"] == "10% (at or below $90.00)"
    assert fields["Lowest since you started watching"] == "$85.00, a new low (before: $100.00)"
    assert "15% below $100.00" in embed["description"]
    assert labels(drop) == ["Stop watching"]
    assert drop.allowed_mentions == {"parse": []}

    # Someone else's click finds nothing; the owner's stops the watch.
    other = (await h.click_post(CAROL, drop, "Stop watching", guild=True)).reply
    assert other.ephemeral and "no longer exists" in (other.content or "")
    stopped = (await h.click_post(ALICE, drop, "Stop watching")).reply
    assert "Stopped watching **Oak desk**" in (stopped.content or "")
    assert await h.services.watchlist.watches(ALICE) == []


async def test_watch_price_in_the_alert_channel_is_for_whoever_clicks(h: Harness) -> None:
    """Carol sees the channel alert in the server and watches the listing for herself."""
    await make_rule(h, ALICE, "Desks")
    await sell(h, BOB, "Oak desk", "100")
    [listing] = await h.listings()
    message = h.alert_message(1, listing.id)
    custom_id = WATCH_PRICE_ID.format(listing_id=listing.id)
    reply = (await h.click_message(CAROL, message, custom_id)).reply
    assert "Watching **Oak desk**" in (reply.content or "")
    assert [w.listing.id for w in await h.services.watchlist.watches(CAROL)] == [listing.id]
    assert await h.services.watchlist.watches(ALICE) == []
    # The seller's own click is refused, naming the listing.
    own = (await h.click_message(BOB, message, custom_id)).reply
    assert own.ephemeral and (own.content or "").startswith("❌ **listing**")


async def test_watch_price_for_a_listing_that_is_gone(h: Harness) -> None:
    message = h.alert_message(1, 999)
    for custom_id in ("ds:watch:999", "ds:watch:" + "9" * 19, "ds:unwatch:" + "9" * 19):
        message["components"][0]["components"][2]["custom_id"] = custom_id
        reply = (await h.click_message(ALICE, message, custom_id)).reply
        assert reply.ephemeral and (reply.content or "").startswith("❌"), custom_id


def capture_files(h: Harness) -> list[tuple[str, bytes]]:
    """Every file the bot uploads with an interaction response (the harness keeps only JSON)."""
    files: list[tuple[str, bytes]] = []
    original = h.adapter.request

    async def spy(*args: Any, **kwargs: Any) -> Any:
        for part in kwargs.get("multipart") or []:
            if str(part.get("name", "")).startswith("files["):
                fp = part["value"]
                at = fp.tell()
                files.append((str(part.get("filename")), fp.read()))
                fp.seek(at)
        return await original(*args, **kwargs)

    h.adapter.request = spy  # type: ignore[method-assign]
    return files


async def test_history_attaches_a_png_chart(h: Harness) -> None:
    listing = str(await oak_desk(h))
    await h.invoke(ALICE, "watch add", listing=listing, target_price="80")
    await h.invoke(BOB, "listing edit", listing=listing, price="90")
    await h.invoke(BOB, "listing edit", listing=listing, price="95")
    files = capture_files(h)
    assert await h.autocomplete(ALICE, "watch history", focused="listing", value="oak") == [listing]
    reply: Reply = await h.invoke(ALICE, "watch history", listing=listing)
    assert reply.ephemeral
    assert reply.embed["title"] == "Oak desk"
    assert reply.embed["image"]["url"] == "attachment://price-history.png"
    assert reply.field("Now") == "$95.00" and reply.field("Lowest") == "$90.00"
    assert "Alerts when at or below $80.00" in reply.field("Your watch")
    assert reply.embed["description"].count("$") == 3
    [(name, png)] = files
    assert name == "price-history.png" and png[:8] == PNG_MAGIC
    assert struct.unpack(">II", png[16:24]) == (800, 400)

    # Anyone who can see the listing may see its history; it shows no watch of theirs.
    carol = await h.invoke(CAROL, "watch history", listing="Oak desk")
    assert "Your watch" not in carol.text and len(files) == 2
