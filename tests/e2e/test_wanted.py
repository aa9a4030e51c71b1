"""/wanted through the real `python -m bot` process, the Discord stand-in and the Discogs stand-in.

The bot reaches Discogs only through its documented settings (DISCOGS_API_BASE, DISCOGS_TOKEN,
DISCOGS_USER_AGENT); its watcher runs as in production (idle poll 5 s, poked by /wanted add and
/wanted check), so nothing here drives it by hand. One bot process serves the module (starting
it is most of the runtime); each test plays its own user, so neither sees the other's entries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio

from tests.e2e.conftest import World, started_world
from tests.e2e.test_flows import buttons, ok, run
from tests.standins.discogs import TOKEN, USER_AGENT, DiscogsStandin
from tests.standins.discord import InteractionResponse, StoredMessage

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

RUMOURS = 910001
NAME = "Fleetwood Mac – Rumours"
URL = f"https://www.discogs.com/release/{RUMOURS}-Fleetwood-Mac-Rumours"


@asynccontextmanager
async def discogs_world(tmp_path: Path) -> AsyncIterator[tuple[World, DiscogsStandin]]:
    async with DiscogsStandin() as discogs:  # Discogs' own limit: 60 a minute with a token
        discogs.add_release(RUMOURS, "Rumours", "Fleetwood Mac", lowest_usd=35.0, num_for_sale=4)
        env = {
            "DISCOGS_API_BASE": discogs.base_url,
            "DISCOGS_TOKEN": TOKEN,
            "DISCOGS_USER_AGENT": USER_AGENT,
            "DISCOGS_CHECK_COOLDOWN_SECONDS": "0",  # the test checks again seconds later
        }
        async with started_world(tmp_path, **env) as world:
            yield world, discogs


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worlds(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[World, DiscogsStandin]]:
    async with discogs_world(tmp_path_factory.mktemp("wanted")) as pair:
        yield pair


def message(reply: InteractionResponse) -> StoredMessage:
    assert reply.message is not None, reply
    return reply.message


def wanted_field(listing: InteractionResponse) -> str:
    (embed,) = listing.embeds
    (entry,) = embed["fields"]
    assert entry["name"].endswith(NAME), entry
    return str(entry["value"])


async def test_add_confirm_alert_dm_list_check_again_and_pause_from_the_dm(
    worlds: tuple[World, DiscogsStandin],
) -> None:
    world, discogs = worlds
    alice = world.guild.plain[0]

    dialog = await ok(world, alice, "wanted add", release=URL, max_price="40")
    assert dialog.embeds[0]["title"] == NAME
    assert "4 for sale, lowest 35.00 USD" in dialog.text
    assert set(buttons(message(dialog))) == {"Add", "Cancel"}
    # The preview reads the market once (fresh, not from the 6-hour release cache); nothing is
    # watched before confirming.
    assert discogs.count("/marketplace/stats") == 1
    clicked = await world.discord.click(alice, message(dialog), buttons(message(dialog))["Add"])
    added = await clicked.response(10)
    assert added.ephemeral and "Added to your wanted list" in added.text

    (dm,) = await world.discord.wait_dm(alice, timeout=10)
    assert f"Wanted-list match: **{NAME}**" in dm.content
    embed = dm.embeds[0]
    assert embed["title"] == NAME
    assert "✅ price: 35.00 USD ≤ 40.00 USD" in embed["description"]
    assert embed["thumbnail"]["url"] == f"https://i.discogs.com/img/{RUMOURS}.jpg"
    assert embed["url"].startswith("https://www.discogs.com/release/")
    assert [b.get("label") for b in dm.buttons] == ["Pause this wanted entry", "Open on Discogs"]
    assert discogs.count(f"/marketplace/stats/{RUMOURS}") == 2  # preview + first poll

    listed = await ok(world, alice, "wanted list")
    assert "price matched" in wanted_field(listed)
    assert "4 for sale, lowest 35.00 USD" in wanted_field(listed)

    # A cheaper copy: /wanted check polls at once instead of in 10 minutes.
    discogs.set_market(RUMOURS, 29.5, 5)
    checked = await ok(world, alice, "wanted check")
    assert "Queued 1 release." in checked.text
    second = (await world.discord.wait_dm(alice, count=2, timeout=10))[1]
    assert "✅ price: 29.50 USD ≤ 40.00 USD" in second.embeds[0]["description"]
    assert discogs.count(f"/marketplace/stats/{RUMOURS}") == 3

    # The DM's button pauses the entry: the list says so and there is nothing left to check.
    pause = await world.discord.click(alice, second, buttons(second)["Pause this wanted entry"])
    paused = await pause.response(10)
    assert paused.ephemeral and "Paused" in paused.text and NAME in paused.text
    assert "paused" in wanted_field(await ok(world, alice, "wanted list"))
    idle = await run(world, alice, "wanted check")
    assert idle.ephemeral and "nothing to check" in idle.text
    assert len(world.discord.dms(alice)) == 2
    world.discord.assert_clean()


async def test_a_link_that_is_not_discogs_is_refused_naming_release(
    worlds: tuple[World, DiscogsStandin],
) -> None:
    world, discogs = worlds
    bob = world.guild.plain[1]
    before = len(discogs.requests)
    refused = await run(world, bob, "wanted add", release="https://evil.example/release/1")
    assert refused.ephemeral and refused.text.startswith("❌ **release**"), refused.text
    assert "discogs.com" in refused.text
    assert not refused.components, "no Add button for a refused link"
    fetched = [r.path for r in discogs.requests[before:] if not r.path.startswith("/marketplace")]
    assert fetched == [], "the bot looked nothing up for it"
    empty = await ok(world, bob, "wanted list")
    assert empty.text.startswith("Your wanted list is empty")
    world.discord.assert_clean()
