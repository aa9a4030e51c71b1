"""/wanted through discord.py's command router, against the local Discogs stand-in: add with a
confirmation, the watcher's alert as a DM, list/edit/pause/resume/remove/check/history/import,
bad input on every command, and nobody else's entries ever visible."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.cogs.harness import ADMIN_PERMISSIONS, Harness, pings_nobody
from tests.cogs.test_alerts import ALICE, BOB, assert_field_error
from tests.standins.discogs import OWNER, TOKEN, USER_AGENT, DiscogsStandin

RUMOURS = 910001


@pytest.fixture
async def discogs() -> AsyncIterator[DiscogsStandin]:
    async with DiscogsStandin(limit=1000) as standin:
        standin.add_release(RUMOURS, "Rumours", "Fleetwood Mac", lowest_usd=35.0, num_for_sale=4)
        yield standin


@pytest.fixture
async def hw(tmp_path: Path, discogs: DiscogsStandin) -> AsyncIterator[Harness]:
    async with Harness.running(
        tmp_path,
        discogs_api_base=discogs.base_url,
        discogs_token=SecretStr(TOKEN),
        discogs_user_agent=USER_AGENT,
        discogs_requests_per_minute=1000,
    ) as harness:
        yield harness
        harness.assert_replies_private()


async def add(h: Harness, user: int, release: str = f"r{RUMOURS}", **options: object) -> None:
    dialog = await h.invoke(user, "wanted add", release=release, **options)
    assert [b["label"] for b in dialog.buttons] == ["Add", "Cancel"], dialog
    done = (await h.click(user, dialog, "Add")).reply
    assert "Added to your wanted list" in (done.embed.get("description") or ""), done


async def poll_and_deliver(h: Harness) -> None:
    while await h.services.discogs_watcher.run_due():
        pass
    await h.deliver()


async def test_add_confirms_with_the_release_then_alerts_by_dm(hw: Harness) -> None:
    dialog = await hw.invoke(
        ALICE,
        "wanted add",
        release=f"https://www.discogs.com/release/{RUMOURS}-Rumours",
        max_price="40",
        media="VG+",
    )
    assert dialog.ephemeral
    assert dialog.embed["title"] == "Fleetwood Mac – Rumours"
    assert "Max price: 40.00 USD" in dialog.field("Alert me when")
    assert "4 for sale, lowest 35.00 USD" in dialog.field("Marketplace now")
    assert (await hw.services.wanted.entries(ALICE)) == []  # nothing saved before confirming

    done = (await hw.click(ALICE, dialog, "Add")).reply
    assert "Added" in done.embed["description"]
    [entry] = await hw.services.wanted.entries(ALICE)
    assert entry.criteria.max_price is not None and str(entry.criteria.max_price) == "40.00 USD"

    await poll_and_deliver(hw)
    [dm] = hw.dms_to(ALICE)
    assert "Wanted-list match" in (dm.content or "")
    embed = dm.embeds[0]
    assert embed["title"] == "Fleetwood Mac – Rumours"
    assert "✅ price: 35.00 USD ≤ 40.00 USD" in embed["description"]
    assert "❔ media: could not check" in embed["description"]
    assert embed["thumbnail"]["url"].startswith("https://")
    assert pings_nobody(dm.allowed_mentions)
    labels = [b.get("label") for row in dm.components for b in row["components"]]
    assert labels == ["Pause this wanted entry", "Open on Discogs"]

    # The same lowest price never alerts twice.
    await hw.services.discogs_watcher.check_now([("release", RUMOURS, "USD")])
    await poll_and_deliver(hw)
    assert len(hw.dms_to(ALICE)) == 1

    # The DM's button pauses the entry (and only for its owner).
    intruder = await hw.click_post(BOB, dm, "Pause this wanted entry")
    assert "no longer exists" in (intruder.reply.content or "")
    paused = await hw.click_post(ALICE, dm, "Pause this wanted entry")
    assert "Paused" in (paused.reply.content or "")
    [entry] = await hw.services.wanted.entries(ALICE)
    assert not entry.active


async def test_a_cheaper_copy_alerts_again_and_above_max_never(
    hw: Harness, discogs: DiscogsStandin
) -> None:
    await add(hw, ALICE, max_price="30")
    await add(hw, BOB, max_price="50")
    await poll_and_deliver(hw)
    assert len(hw.dms_to(ALICE)) == 0 and len(hw.dms_to(BOB)) == 1
    discogs.set_market(RUMOURS, 29.5, 5)
    await hw.services.discogs_watcher.check_now([("release", RUMOURS, "USD")])  # falls due
    await poll_and_deliver(hw)
    assert len(hw.dms_to(ALICE)) == 1 and len(hw.dms_to(BOB)) == 2
    # Two previews (one per /wanted add), then one poll per round however many users want it.
    assert discogs.count(f"/marketplace/stats/{RUMOURS}") == 2 + 2


async def test_bad_input_names_the_option(hw: Harness) -> None:
    not_discogs = await hw.invoke(ALICE, "wanted add", release="https://evil.example/release/1")
    assert_field_error(not_discogs, "release")
    missing = await hw.invoke(ALICE, "wanted add", release="r999999")
    assert_field_error(missing, "release")
    assert "no release 999999" in (missing.content or "")
    currency = await hw.invoke(ALICE, "wanted add", release=f"r{RUMOURS}", max_price="40 XYZ")
    assert_field_error(currency, "max_price")
    clash = await hw.invoke(
        ALICE, "wanted add", release=f"r{RUMOURS}", max_price="40 EUR", currency="USD"
    )
    assert_field_error(clash, "max_price")
    grade = await hw.invoke(ALICE, "wanted add", release=f"r{RUMOURS}", ships_from="x," * 11)
    assert_field_error(grade, "ships_from")
    await add(hw, ALICE)
    twice = await hw.invoke(ALICE, "wanted add", release=f"r{RUMOURS}")
    again = (await hw.click(ALICE, twice, "Add")).reply
    assert "already on your wanted list" in (again.content or "")
    nothing = await hw.invoke(ALICE, "wanted edit", entry="1")
    assert "at least one option" in (nothing.content or "")


async def test_list_edit_pause_resume_remove_and_privacy(hw: Harness) -> None:
    await add(hw, ALICE, max_price="40")
    [entry] = await hw.services.wanted.entries(ALICE)
    listed = await hw.invoke(ALICE, "wanted list")
    assert "Fleetwood Mac – Rumours" in listed.embed["fields"][0]["name"]
    assert "monitoring" in listed.embed["fields"][0]["value"]

    # Bob sees and touches nothing of Alice's.
    assert await hw.autocomplete(BOB, "wanted edit", focused="entry", value="Rum") == []
    assert (await hw.invoke(BOB, "wanted list")).content.startswith("Your wanted list is empty")
    stolen = await hw.invoke(BOB, "wanted edit", entry=str(entry.id), max_price="1")
    assert_field_error(stolen, "entry")
    assert_field_error(await hw.invoke(BOB, "wanted remove", entry=str(entry.id)), "entry")

    offered = await hw.autocomplete(ALICE, "wanted edit", focused="entry", value="rum")
    assert offered == [str(entry.id)]
    edited = await hw.invoke(ALICE, "wanted edit", entry=str(entry.id), max_price="€45")
    assert "45.00 EUR" in edited.field("Alert me when")
    paused = await hw.invoke(ALICE, "wanted pause", entry=str(entry.id))
    assert "Paused" in (paused.content or "")
    resumed = await hw.invoke(ALICE, "wanted resume", entry=str(entry.id))
    assert "Watching" in (resumed.content or "")

    await poll_and_deliver(hw)
    listed = await hw.invoke(ALICE, "wanted list")
    assert "price matched" in listed.embed["fields"][0]["value"]
    history = await hw.invoke(ALICE, "wanted history", entry=str(entry.id))
    assert "EUR" in history.embed["description"]

    dialog = await hw.invoke(ALICE, "wanted remove", entry=str(entry.id))
    done = (await hw.click(ALICE, dialog, "Remove")).reply
    assert "Removed" in (done.content or "")
    assert await hw.services.wanted.entries(ALICE) == []


async def test_check_queues_and_says_when(hw: Harness) -> None:
    empty = await hw.invoke(ALICE, "wanted check")
    assert "nothing to check" in (empty.content or "")
    await add(hw, ALICE)
    reply = await hw.invoke(ALICE, "wanted check")
    assert "Queued 1 release." in (reply.content or "") and "min" in (reply.content or "")
    await poll_and_deliver(hw)
    again = await hw.invoke(ALICE, "wanted check")  # cannot take the polling budget over
    assert "checked in the last few minutes" in (again.content or "")


async def test_import_reads_every_page_with_notes(hw: Harness, discogs: DiscogsStandin) -> None:
    discogs.wants[OWNER][0]["notes"] = "@max=40EUR @media=VG+ @sleeve=VG @bogus=1"
    discogs.wants[OWNER][3]["notes"] = "@max=lots"
    reply = await hw.invoke(ALICE, "wanted import", username=OWNER)
    assert "Imported the wantlist" in (reply.content or "")
    assert "Added 230" in (reply.content or "")
    assert "@bogus" in (reply.content or "") and "@max='lots'" in (reply.content or "")
    entries = await hw.services.wanted.entries(ALICE)
    assert len(entries) == 230
    first = next(e for e in entries if e.target_id == 300000)
    assert str(first.criteria.max_price) == "40.00 EUR" and first.currency == "EUR"
    assert discogs.count(f"/users/{OWNER}/wants") == 3  # 100 per page

    again = await hw.invoke(ALICE, "wanted import", username=OWNER)
    assert "already on your list 230" in (again.content or "")
    nobody = await hw.invoke(ALICE, "wanted import", username="no_such_user")
    assert_field_error(nobody, "username")
    bad = await hw.invoke(ALICE, "wanted import", username="bad name!")
    assert_field_error(bad, "username")


async def test_admin_discogs_shows_budget_and_needs_manage_server(hw: Harness) -> None:
    await add(hw, ALICE)
    refused = await hw.invoke(BOB, "admin discogs")
    assert "Manage Server" in (refused.content or "") or refused.content.startswith("❌")
    shown = await hw.invoke(BOB, "admin discogs", permissions=ADMIN_PERMISSIONS)
    assert "in the last minute" in shown.field("Request budget")
    assert "1 releases for 1 entries of 1 users" in shown.field("Watched")


async def test_a_master_means_any_pressing_and_is_polled_as_a_master(
    hw: Harness, discogs: DiscogsStandin
) -> None:
    dialog = await hw.invoke(
        ALICE, "wanted add", release="https://www.discogs.com/master/96559-Sigur-Ros", max_price="5"
    )
    assert "any pressing (master)" in dialog.field("Release")
    await hw.click(ALICE, dialog, "Add")
    await poll_and_deliver(hw)
    assert discogs.count("/masters/96559") == 2  # the preview, then the poll
    assert discogs.count("/marketplace/stats/96559") == 0
    [dm] = hw.dms_to(ALICE)
    assert dm.embeds[0]["url"] == "https://www.discogs.com/master/96559"


async def test_every_entry_command_names_the_entry_it_cannot_find(hw: Harness) -> None:
    for command in ("wanted pause", "wanted resume", "wanted history", "wanted remove"):
        assert_field_error(await hw.invoke(ALICE, command, entry="12345"), "entry")
    assert_field_error(await hw.invoke(ALICE, "wanted edit", entry="nope", max_price="3"), "entry")


async def test_the_preview_shows_the_market_now_not_the_cached_release(
    hw: Harness, discogs: DiscogsStandin
) -> None:
    first = await hw.invoke(ALICE, "wanted add", release=f"r{RUMOURS}")
    assert "4 for sale, lowest 35.00 USD" in first.field("Marketplace now")
    discogs.set_market(RUMOURS, 12.0, 9)
    second = await hw.invoke(BOB, "wanted add", release=f"r{RUMOURS}")
    assert "9 for sale, lowest 12.00 USD" in second.field("Marketplace now")
    assert discogs.count(f"/releases/{RUMOURS}") == 1  # the metadata came from the cache
