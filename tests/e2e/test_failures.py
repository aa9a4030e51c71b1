"""Failures Discord really produces, against the real process: closed DMs, 429 storms, 5xx, and
the bot being killed with SIGKILL in the middle of delivering."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.e2e.conftest import World
from tests.e2e.test_flows import ok
from tests.standins.discord import User

pytestmark = pytest.mark.e2e

DM_CREATE = "POST /users/@me/channels"
MESSAGE_CREATE = "POST /channels/*/messages"


async def eventually(world: World, check: Callable[[], bool], what: str) -> None:
    await world.discord.state.wait_for(check, 20, what)


async def buyers_want_chairs(world: World, buyers: list[User]) -> None:
    for buyer in buyers:
        await ok(world, buyer, "alert create", name="Chairs", keywords="chair")


def alert_dms(world: World, user: User) -> list[str]:
    return [m.embeds[0]["title"] for m in world.discord.dms(user) if m.embeds]


async def test_dms_closed_falls_back_to_the_alert_channel_and_shows_in_stats(world: World) -> None:
    alice, bob, seller = world.guild.plain[:3]
    admin = world.guild.admin
    await ok(world, admin, "admin alert-channel", channel=world.channel_id("alerts"))
    await buyers_want_chairs(world, [alice, bob])
    world.discord.close_dms(alice)

    await ok(world, seller, "sell", title="Office chair", price="50")
    await world.discord.wait_dm(bob, timeout=10)
    (post,) = await world.discord.wait_channel_message(world.channel_id("alerts"), timeout=10)
    assert f"<@{alice.id}>" in post.content and "DMs are closed" in post.content
    assert post.embeds[0]["title"] == "Office chair"
    assert world.discord.dms(alice) == []

    stats = await ok(world, admin, "admin stats")
    fields = {f["name"]: f["value"] for f in stats.embeds[0]["fields"]}
    assert "1" in fields["Users with DMs closed"]
    assert "DMs closed" in stats.text

    # Remembered: the next alert goes straight to the channel, without another refused DM.
    refused_before = len(world.discord.requests_matching(MESSAGE_CREATE))
    await ok(world, seller, "sell", title="Kitchen chair", price="20")
    await world.discord.wait_channel_message(world.channel_id("alerts"), count=2, timeout=10)
    await world.discord.wait_dm(bob, count=2, timeout=10)
    dm_channel = world.discord.dm_channel_id(alice)
    new_posts = world.discord.requests_matching(MESSAGE_CREATE)[refused_before:]
    assert not [r for r in new_posts if f"/channels/{dm_channel}/" in r.path]
    world.discord.assert_clean()


async def test_a_429_storm_still_delivers_every_alert_exactly_once(world: World) -> None:
    buyers = world.guild.plain[:5]
    seller = world.guild.owner
    await buyers_want_chairs(world, buyers)
    world.discord.inject_429(MESSAGE_CREATE, count=12, retry_after=0.3)
    for title in ("Chair one", "Chair two"):
        await ok(world, seller, "sell", title=title, price="10")
    for buyer in buyers:
        await world.discord.wait_dm(buyer, count=2, timeout=30)
    await asyncio.sleep(1)
    for buyer in buyers:
        assert sorted(alert_dms(world, buyer)) == ["Chair one", "Chair two"]
    world.discord.assert_clean()


async def test_sigkill_while_delivering_then_restart_delivers_each_alert_exactly_once(
    world: World,
) -> None:
    """Killed while Discord is failing DM creation: nothing sent yet, all rows claimed."""
    buyers = world.guild.plain[:5]
    await buyers_want_chairs(world, buyers)
    outage = world.discord.inject_500(DM_CREATE, count=10_000)
    await ok(world, world.guild.owner, "sell", title="Desk chair", price="40")
    await eventually(world, lambda: outage.hits >= 1, "the bot started delivering")
    await world.bot.kill()

    world.discord.rest.limiter.faults.remove(outage)
    await world.bot.start()
    for buyer in buyers:
        await world.discord.wait_dm(buyer, timeout=30)
    await asyncio.sleep(1.5)
    for buyer in buyers:
        assert alert_dms(world, buyer) == ["Desk chair"]
    world.discord.assert_clean()


async def test_sigkill_after_discord_accepted_the_message_does_not_post_twice(
    world: World,
) -> None:
    """Discord stored the DM but the bot never heard back; it is killed, restarts, resends with
    the same nonce, and Discord (enforce_nonce) returns the first message instead of a second."""
    buyers = world.guild.plain[:3]
    await buyers_want_chairs(world, buyers)
    limbo = world.discord.inject_500(MESSAGE_CREATE, count=10_000, commit_first=True)
    await ok(world, world.guild.owner, "sell", title="Arm chair", price="60")
    await eventually(world, lambda: all(world.discord.dms(b) for b in buyers), "every DM stored")
    await world.bot.kill()

    world.discord.rest.limiter.faults.remove(limbo)
    attempts_before = len(world.discord.requests_matching(MESSAGE_CREATE))
    await world.bot.start()
    await eventually(
        world,
        lambda: len(world.discord.requests_matching(MESSAGE_CREATE)) >= attempts_before + 3,
        "the restarted bot resent the unconfirmed alerts",
    )
    await asyncio.sleep(1)
    for buyer in buyers:
        assert alert_dms(world, buyer) == ["Arm chair"], "one message per buyer, not two"
    world.discord.assert_clean()
