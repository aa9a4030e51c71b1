"""Scenario 5: many users, a burst of listings, every alert exactly once, no protocol violation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.conftest import started_world
from tests.e2e.load import create_rules, crowd_guild, post_listings, received, workload

pytestmark = pytest.mark.e2e


async def test_a_burst_of_200_listings_reaches_1000_rules_exactly_once(tmp_path: Path) -> None:
    guild = crowd_guild(200)
    load = workload(guild)
    expected = load.expected()
    assert len(load.rules) == 1000 and 300 < sum(expected.values()) < 2000
    async with started_world(tmp_path, guild) as world:
        await create_rules(world.discord, load)
        await post_listings(world.discord, guild.owner, load)
        discord, total = world.discord, sum(expected.values())
        await discord.state.wait_for(
            lambda: sum(received(discord, guild.plain).values()) >= total, 120, f"{total} DMs"
        )
        await asyncio.sleep(1.0)  # anything extra would show up now
        got = received(world.discord, guild.plain)
        assert got == expected, {
            "missing": list((expected - got).items())[:5],
            "extra": list((got - expected).items())[:5],
        }
        world.discord.assert_clean()
