"""/admin feed add|list|pause|resume|remove, routed through discord.py's CommandTree, with the
feeds served by the local feed stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.ingest.feed_fetch import HTML_PAGE_ERROR
from db.models import FeedRow
from tests.cogs.harness import ADMIN_PERMISSIONS, GUILD_ID, Harness, Reply
from tests.standins.feeds import FeedStandin

ADMIN = 2001
MEMBER = 2002
OTHER_GUILD = 500_000_000_000_000_999
FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Bay Area desks'
    "</title><link>https://example.org/</link>"
    "<item><guid>a</guid><title>Oak desk $120</title><link>https://example.org/a</link></item>"
    "<item><guid>b</guid><title>Teak desk $90</title><link>https://example.org/b</link></item>"
    "</channel></rss>"
)


@pytest.fixture
async def server() -> AsyncIterator[FeedStandin]:
    async with FeedStandin() as standin:
        yield standin


async def admin(h: Harness, path: str, **options: Any) -> Reply:
    return await h.invoke(ADMIN, path, permissions=ADMIN_PERMISSIONS, **options)


async def admin_autocomplete(h: Harness, path: str, value: str = "") -> list[Any]:
    """The ``feed`` values offered to a server admin (``Harness.autocomplete`` asks as a member)."""
    data = h._command_data(path, {"feed": value}, focused="feed")
    payload = h._interaction(4, ADMIN, data, guild=True, permissions=ADMIN_PERMISSIONS)
    return (await h.dispatch(payload)).reply.choice_values


def error_for(reply: Reply, option: str) -> str:
    assert reply.ephemeral
    assert reply.content is not None and reply.content.startswith(f"❌ **{option}**"), reply
    return reply.content


async def add(h: Harness, server: FeedStandin, path: str = "/desks", **options: Any) -> int:
    reply = await admin(h, "admin feed add", url=server.serve(path, FEED), **options)
    assert reply.ephemeral and "Feed added: Bay Area desks" in reply.text, reply
    [feed] = [f for f in await h.services.feeds.list_for_guild(GUILD_ID) if f.url.endswith(path)]
    return feed.id


async def test_add_checks_the_feed_and_list_shows_its_state(
    h: Harness, server: FeedStandin
) -> None:
    reply = await admin(
        h,
        "admin feed add",
        url=server.serve("/desks", FEED) + "?token=s3cret",
        category="Furniture",
        interval=600,
    )
    assert "Feed added: Bay Area desks" in reply.text
    assert "It has 2 entries right now" in reply.text
    assert "s3cret" not in reply.text  # the query string (often a token) is never shown
    [feed] = await h.services.feeds.list_for_guild(GUILD_ID)
    assert (feed.category, feed.interval_seconds, feed.title) == (
        "Furniture",
        600,
        "Bay Area desks",
    )

    reply = await admin(h, "admin feed list")
    value = reply.field(f"#{feed.id} · Bay Area desks")
    assert "waiting for its first fetch" in value and "every 10 min" in value
    assert "category Furniture" in value and "Last success: never · 0 items seen" in value

    await h.services.feeds.run_due()
    reply = await admin(h, "admin feed list")
    value = reply.field(f"#{feed.id} · Bay Area desks")
    assert value.startswith("✅ ok") and "2 items seen" in value and "Next fetch: <t:" in value
    assert len(await h.listings()) == 2


async def test_list_shows_the_error_state_with_the_last_error(
    h: Harness, server: FeedStandin
) -> None:
    feed_id = await add(h, server, interval=60)
    server.serve_fixture("/desks", "page.html")
    for failures in (1, 2, 3):
        async with h.services.sessions.begin() as session:  # due now, as time would make it
            row = await session.get(FeedRow, feed_id)
            assert row is not None
            row.next_fetch_at = row.created_at
        await h.services.feeds.run_due()
        value = (await admin(h, "admin feed list")).field(f"#{feed_id} · Bay Area desks")
        if failures < 3:
            assert value.startswith(f"🔁 ok, retrying after {failures} failure"), value
        else:
            assert value.startswith("⚠️ error (3 failures in a row)"), value
        assert HTML_PAGE_ERROR in value


async def test_empty_list(h: Harness) -> None:
    reply = await admin(h, "admin feed list")
    assert reply.content == "This server has no feeds yet. Add one with `/admin feed add`."


async def test_pause_resume_and_remove(h: Harness, server: FeedStandin) -> None:
    feed_id = await add(h, server)
    assert await admin_autocomplete(h, "admin feed pause") == [str(feed_id)]
    assert await admin_autocomplete(h, "admin feed pause", "bay area") == [str(feed_id)]
    assert await admin_autocomplete(h, "admin feed pause", "nothing like it") == []
    # members without Manage Server are not shown the server's feeds
    assert await h.autocomplete(MEMBER, "admin feed pause", focused="feed") == []

    reply = await admin(h, "admin feed pause", feed=str(feed_id))
    assert reply.content == "⏸️ Paused **Bay Area desks**: it is not fetched until you resume it."
    assert await h.services.feeds.run_due() == []
    value = (await admin(h, "admin feed list")).field(f"#{feed_id} · Bay Area desks")
    assert value.startswith("⏸️ paused") and "Next fetch" not in value

    reply = await admin(h, "admin feed resume", feed=f"#{feed_id} Bay Area desks")
    assert reply.content == "▶️ Resumed **Bay Area desks**: it is fetched again now."
    assert [r.feed_id for r in await h.services.feeds.run_due()] == [feed_id]

    reply = await admin(h, "admin feed remove", feed=str(feed_id))
    assert reply.content == "🗑️ Removed **Bay Area desks**. Listings it already brought in stay."
    assert await h.services.feeds.list_for_guild(GUILD_ID) == []
    assert len(await h.listings()) == 2

    reply = await admin(h, "admin feed pause", feed=str(feed_id))
    assert "no such feed in this server" in error_for(reply, "feed")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.org/feed.xml", "must start with http:// or https://"),
        ("not a url", "spaces"),
        ("https://user:pw@example.org/feed", "username or password"),
    ],
)
async def test_a_bad_url_names_the_url_option(h: Harness, url: str, says: str) -> None:
    assert says in error_for(await admin(h, "admin feed add", url=url), "url")
    assert await h.services.feeds.list_for_guild(GUILD_ID) == []


async def test_a_url_that_is_not_a_feed_names_the_url_option(
    h: Harness, server: FeedStandin
) -> None:
    html = server.serve_fixture("/page", "page.html")
    assert HTML_PAGE_ERROR in error_for(await admin(h, "admin feed add", url=html), "url")
    broken = server.serve_fixture("/broken", "malformed.xml")
    assert "malformed" in error_for(await admin(h, "admin feed add", url=broken), "url")
    missing = server.url("/nothing-here")
    assert "HTTP 404" in error_for(await admin(h, "admin feed add", url=missing), "url")
    closed = "http://127.0.0.1:9/feed.xml"  # the discard port: nobody listens
    assert "could not connect" in error_for(await admin(h, "admin feed add", url=closed), "url")
    assert await h.services.feeds.list_for_guild(GUILD_ID) == []


async def test_interval_and_duplicates_are_checked(h: Harness, server: FeedStandin) -> None:
    url = server.serve("/desks", FEED)
    reply = await admin(h, "admin feed add", url=url, interval=30)
    assert "between 60 and 86400 seconds" in error_for(reply, "interval")
    await add(h, server)
    reply = await admin(h, "admin feed add", url=url)
    assert "already has that feed" in error_for(reply, "url")


@pytest.mark.parametrize(
    ("path", "options"),
    [
        ("admin feed add", {"url": "https://example.org/feed.xml"}),
        ("admin feed list", {}),
        ("admin feed pause", {"feed": "1"}),
        ("admin feed resume", {"feed": "1"}),
        ("admin feed remove", {"feed": "1"}),
    ],
)
async def test_non_admins_are_refused(
    h: Harness, server: FeedStandin, path: str, options: dict[str, Any]
) -> None:
    await add(h, server)
    reply = await h.invoke(MEMBER, path, permissions="0", **options)
    assert reply.content == "You need the **Manage Server** permission to use this command."
    [feed] = await h.services.feeds.list_for_guild(GUILD_ID)
    assert not feed.paused


async def test_feed_commands_do_not_run_in_dms(h: Harness) -> None:
    reply = await h.invoke(ADMIN, "admin feed list", guild=False)
    assert "only works in a server" in (reply.content or "")


async def test_another_servers_feed_is_invisible(h: Harness, server: FeedStandin) -> None:
    theirs = await h.services.feeds.add(OTHER_GUILD, 1, server.serve("/theirs", FEED))
    ours = await add(h, server, "/ours")
    assert await admin_autocomplete(h, "admin feed remove") == [str(ours)]
    list_text = (await admin(h, "admin feed list")).text
    assert f"#{theirs.feed.id} " not in list_text and "1 feed in this server" in list_text
    for command in ("admin feed pause", "admin feed resume", "admin feed remove"):
        reply = await admin(h, command, feed=str(theirs.feed.id))
        assert "no such feed in this server" in error_for(reply, "feed")
    [still] = await h.services.feeds.list_for_guild(OTHER_GUILD)
    assert still.id == theirs.feed.id and not still.paused
