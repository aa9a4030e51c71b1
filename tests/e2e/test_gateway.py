"""The gateway side of the real process: several shards, and a connection that drops."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import World, started_world
from tests.e2e.test_flows import ok
from tests.standins.discord import default_guild, guild_id_on_shard, shard_for_guild

pytestmark = pytest.mark.e2e


async def test_two_shards_route_each_servers_commands_and_alerts(tmp_path: Path) -> None:
    first = default_guild("Shard zero server", id=guild_id_on_shard(0, 2))
    second = default_guild("Shard one server", id=guild_id_on_shard(1, 2))
    assert {shard_for_guild(g.id, 2) for g in (first, second)} == {0, 1}
    async with started_world(tmp_path, guilds=[first, second], shard_count=2) as world:
        buyer, seller = second.plain[0], first.plain[0]
        await ok(world, buyer, "alert create", in_guild=second, name="Lamps", keywords="lamp")
        await ok(world, seller, "sell", in_guild=first, title="Brass desk lamp", price="25")
        (dm,) = await world.discord.wait_dm(buyer, timeout=10)
        assert dm.embeds[0]["title"] == "Brass desk lamp"
        world.discord.assert_clean()


async def test_a_dropped_gateway_connection_resumes_and_commands_keep_working(
    world: World,
) -> None:
    buyer, seller = world.guild.plain[:2]
    await ok(world, buyer, "alert create", name="Bikes", keywords="bike")
    await world.discord.drop_gateway()
    await world.discord.wait_ready(timeout=20)
    await ok(world, seller, "sell", title="Road bike", price="300")
    (dm,) = await world.discord.wait_dm(buyer, timeout=10)
    assert dm.embeds[0]["title"] == "Road bike"
    world.discord.assert_clean()
