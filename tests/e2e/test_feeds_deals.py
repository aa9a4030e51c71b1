"""Listing feeds (/admin feed) and recommendations (/deals) through the real `python -m bot`
process, the Discord stand-in and the feed stand-in (a real HTTP server on 127.0.0.1).

The bot reaches the feed only through the URL an admin types and its documented setting
FEED_USER_AGENT; its poller runs as in production: ``/admin feed add`` checks the URL with one
fetch and pokes the poller, whose first fetch follows at once, and ``/admin feed resume`` makes a
feed due at once (the interval is at least 60 s, so nothing here waits for it). One bot process
serves the module (starting it is most of the runtime); each test plays its own users.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.conftest import World, started_world
from tests.e2e.test_flows import buttons, ok, run
from tests.standins.discord import ClientWouldRefuse, InteractionResponse, StoredMessage, User
from tests.standins.feeds import FeedStandin

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

USER_AGENT = "DealScoutE2E/1.0 (+https://example.invalid/feeds)"
FEED_PATH = "/r/hardwareswap.rss"
THREAD = "https://www.reddit.com/r/hardwareswap/comments"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worlds(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[World, FeedStandin]]:
    async with FeedStandin() as feeds:
        tmp_path = tmp_path_factory.mktemp("feeds_deals")
        async with started_world(
            tmp_path, FEED_USER_AGENT=USER_AGENT, FEED_ALLOW_PRIVATE_HOSTS="true"
        ) as world:
            yield world, feeds


# ---------------------------------------------------------------------------------- helpers


def entry(key: str, title: str, published: datetime, summary: str = "") -> str:
    return (
        f"<item><guid isPermaLink='false'>{key}</guid><title>{escape(title)}</title>"
        f"<link>{THREAD}/{key}/</link><description>{escape(summary)}</description>"
        f"<pubDate>{format_datetime(published)}</pubDate></item>"
    )


def rss(*items: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>r/hardwareswap</title><link>https://www.reddit.com/r/hardwareswap/</link>"
        f"{''.join(items)}</channel></rss>"
    )


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields") or []}


async def feed_list(world: World, admin: User, until: str, timeout: float = 5.0) -> str:
    """``/admin feed list`` once it says ``until`` (the poller records a fetch just after the
    entries it stored, so an alert can reach the buyer a moment before the list is updated)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        listed = await ok(world, admin, "admin feed list")
        if until in listed.text or asyncio.get_running_loop().time() > deadline:
            assert until in listed.text, listed.text
            return listed.text
        await asyncio.sleep(0.3)


def listing_ids(reply: InteractionResponse) -> dict[str, int]:
    """title → id of the listings on a ``/deals for-me`` page ("1. #12 Oak desk")."""
    out = {}
    for name in fields(reply.embeds[0]):
        found = re.fullmatch(r"\d+\. #(\d+) (.+)", name)
        assert found, name
        out[found[2]] = int(found[1])
    return out


# ------------------------------------------------------------------------------------ feeds


async def test_a_feed_an_admin_adds_alerts_fresh_and_later_entries_but_not_its_backlog(
    worlds: tuple[World, FeedStandin],
) -> None:
    world, server = worlds
    admin, buyer = world.guild.admin, world.guild.plain[0]
    now = datetime.now(UTC).replace(microsecond=0)
    await ok(
        world, buyer, "alert create", name="GPUs", keywords="rtx 3080",
        max_price="500", category="Computers",
    )  # fmt: skip
    fresh = entry(
        "fe1", "[USA-CA][H] RTX 3080 FE $450 [W] PayPal", now - timedelta(minutes=10),
        "Founders Edition, original box. Local pickup or shipped.",
    )  # fmt: skip
    backlog = entry("strix", "[USA-TX][H] RTX 3080 Strix $480 [W] PayPal", now - timedelta(days=3))
    wanted = entry("wtb", "[USA-NY][H] PayPal [W] RTX 3080", now - timedelta(minutes=5))
    url = server.serve(FEED_PATH, rss(wanted, fresh, backlog))

    added = await ok(world, admin, "admin feed add", url=url, category="Computers", interval=120)
    (embed,) = added.embeds
    assert embed["title"] == "✅ Feed added: r/hardwareswap"
    assert "It has 3 entries right now" in embed["description"]
    assert "every 2 min · category Computers" in added.text

    # The poller's first fetch follows at once: only the entry published in the last 24 hours
    # alerts; the 3-day-old one is stored quietly; the want-to-buy post is nothing for sale.
    (dm,) = await world.discord.wait_dm(buyer, timeout=10)
    assert "New match for your alert **GPUs**" in dm.content
    alert = dm.embeds[0]
    assert alert["title"] == "RTX 3080 FE $450"  # the [H] side of the swap title
    assert alert["url"] == f"{THREAD}/fe1/"
    assert "Founders Edition" in alert["description"]
    shown = fields(alert)
    assert shown["Price"] == "$450.00"
    assert shown["Category"] == "Computers"
    assert shown["Location"] == "CA, USA"
    assert "Matched your alert “GPUs”" in alert["footer"]["text"]
    assert set(buttons(dm)) == {"Pause this alert", "Not interested", "Watch price"}

    listed = await feed_list(world, admin, "2 items seen")
    assert "r/hardwareswap" in listed and "✅ ok" in listed and url in listed
    assert "every 2 min · category Computers" in listed

    # A later entry alerts whatever its date (only the first fetch's backlog is quiet). Pause
    # and resume make the feed due now instead of in two minutes.
    late = entry("ti", "RTX 3080 Ti - $499", now - timedelta(days=2))
    first_etag = server.routes[FEED_PATH].etag
    server.update(FEED_PATH, rss(late, wanted, fresh, backlog))
    (choice,) = await world.discord.autocomplete(admin, "admin feed pause", "feed", {"feed": ""})
    assert choice["name"].endswith("r/hardwareswap")
    paused = await ok(world, admin, "admin feed pause", feed=choice["value"])
    assert "Paused **r/hardwareswap**" in paused.text
    assert "⏸️ paused" in await feed_list(world, admin, "⏸️ paused")
    resumed = await ok(world, admin, "admin feed resume", feed=choice["value"])
    assert "Resumed **r/hardwareswap**" in resumed.text

    _, second = await world.discord.wait_dm(buyer, count=2, timeout=10)
    assert second.embeds[0]["title"] == "RTX 3080 Ti - $499"
    assert fields(second.embeds[0])["Price"] == "$499.00"
    assert "✅ ok" in await feed_list(world, admin, "3 items seen")

    # Three fetches (the check at add time, the first poll, the one after resuming), each with
    # the configured User-Agent; the last asked with the validators of the one before.
    fetches = server.requests_to(FEED_PATH)
    assert len(fetches) == 3
    assert {r.headers.get("User-Agent") for r in fetches} == {USER_AGENT}
    assert "If-None-Match" not in fetches[1].headers, "the first poll fetches it whole"
    assert fetches[2].headers.get("If-None-Match") == first_etag
    assert fetches[2].status == 200
    await asyncio.sleep(1)
    assert len(world.discord.dms(buyer)) == 2, "the backlog entry never alerted"
    world.discord.assert_clean()


async def test_feed_add_is_refused_for_members_and_bad_urls_with_ephemeral_errors(
    worlds: tuple[World, FeedStandin],
) -> None:
    world, server = worlds
    admin, member = world.guild.admin, world.guild.plain[2]
    page = server.serve_fixture("/page.html", "page.html")
    before = len(server.requests)

    # Discord hides /admin from members without Manage Server...
    with pytest.raises(ClientWouldRefuse):
        await run(world, member, "admin feed add", url=page)
    # ...unless the server opens it to everyone: the bot checks again and fetches nothing.
    world.discord.allow_everyone("admin")
    denied = await run(world, member, "admin feed add", url=page)
    assert denied.ephemeral and "Manage Server" in denied.text, denied.text
    assert (
        await world.discord.autocomplete(member, "admin feed pause", "feed", {"feed": ""}) == []
    ), "a member sees no feeds"
    assert len(server.requests) == before

    bad = await run(world, admin, "admin feed add", url="ftp://x")
    assert bad.ephemeral and bad.text.startswith("❌ **url**"), bad.text
    assert "http://" in bad.text and "ftp://" in bad.text
    assert len(server.requests) == before, "a refused URL is never fetched"

    html = await run(world, admin, "admin feed add", url=page)
    assert html.ephemeral and html.text.startswith("❌ **url**"), html.text
    assert "HTML page, not a feed" in html.text
    assert [r.path for r in server.requests[before:]] == ["/page.html"]

    listed = await run(world, admin, "admin feed list")
    assert "page.html" not in listed.text and "ftp://" not in listed.text
    world.discord.assert_clean()


# ------------------------------------------------------------------------------------ deals


async def test_deals_for_me_finds_a_near_miss_explains_it_and_not_interested_sinks_it(
    worlds: tuple[World, FeedStandin],
) -> None:
    world, _ = worlds
    buyer, seller = world.guild.plain[3], world.guild.plain[4]
    await ok(
        world, buyer, "alert create", name="Standing desks", keywords="standing desk",
        max_price="200",
    )  # fmt: skip
    await ok(world, seller, "sell", title="Oak standing desk", price="150")
    # 15% over the alert's maximum: no alert, but within the 20% a recommendation allows.
    await ok(world, seller, "sell", title="Oak standing desk XL", price="230")
    (dm,) = await world.discord.wait_dm(buyer, timeout=10)
    assert dm.embeds[0]["title"] == "Oak standing desk"

    deals = await ok(world, buyer, "deals for-me")
    (page,) = deals.embeds
    assert page["title"] == "🎯 Deals for you"
    ids = listing_ids(deals)
    assert list(ids) == ["Oak standing desk XL"], "the alerted listing is not recommended again"
    xl = ids["Oak standing desk XL"]
    (item,) = fields(page).values()
    assert "$230.00" in item
    assert "Why: almost matches your alert Standing desks (15% over your max price)" in item
    assert f"`/deals why listing:{xl}`" in item

    # The autocomplete finds it by title; /deals why explains where it stands.
    choices = await world.discord.autocomplete(buyer, "deals why", "listing", {"listing": "XL"})
    assert [c["value"] for c in choices] == [str(xl)]
    why = await ok(world, buyer, "deals why", listing=choices[0]["value"])
    (explained,) = why.embeds
    assert explained["title"] == f"Why #{xl} Oak standing desk XL"
    assert explained["description"].startswith("✅ #1 of your 1 recommendation")
    shown = fields(explained)
    assert shown["Price"] == "$230.00"
    assert shown["Score"].startswith("`+0.3"), shown["Score"]  # a near miss: 0.6 to 0.3
    assert "🟡 almost matches your alert Standing desks (15% over" in shown["Your alerts"]

    alerted = await ok(world, buyer, "deals why", listing=f"#{dm_listing_id(dm)}")
    assert "Never recommended to you: you were already alerted about it" in alerted.text
    assert "✅ matches your alert Standing desks" in alerted.text

    # "Not interested" on the alert: a listing much like the dismissed one now ranks below zero.
    clicked = await world.discord.click(buyer, dm, buttons(dm)["Not interested"])
    noted = await clicked.response(10)
    assert noted.ephemeral and "Noted" in noted.text
    after = await ok(world, buyer, "deals for-me")
    assert not after.embeds and after.text.startswith("Nothing to recommend right now"), after.text
    sunk = await ok(world, buyer, "deals why", listing=str(xl))
    assert "Not recommended: what counts against it outweighs what fits" in sunk.text
    assert "like Oak standing desk, which you marked Not interested" in sunk.text
    dismissed = await ok(world, buyer, "deals why", listing=str(dm_listing_id(dm)))
    assert "you marked it Not interested" in dismissed.text

    bad = await run(world, buyer, "deals why", listing="desk")
    assert bad.ephemeral and bad.text.startswith("❌ **listing**"), bad.text
    world.discord.assert_clean()


def dm_listing_id(dm: StoredMessage) -> int:
    """The listing an alert DM is about, from its "Not interested" button (ds:nope:<id>)."""
    return int(buttons(dm)["Not interested"].rpartition(":")[2])
