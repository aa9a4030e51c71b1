"""Webhooks and failover through the real `python -m bot` process and the Discord stand-in: a
user whose DMs are closed gets alerts through their webhook; when the webhook is deleted in
Discord the next alert goes to the next channel (the server's alert channel), and the user is
told once."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import World
from tests.e2e.test_flows import ok, run
from tests.standins.discord import StoredMessage, Webhook

pytestmark = pytest.mark.e2e


def webhook_posts(world: World, hook: Webhook) -> list[StoredMessage]:
    return [m for m in world.discord.channel_messages(hook.channel_id) if m.webhook_id == hook.id]


async def test_dms_closed_webhook_then_webhook_gone_then_alert_channel(world: World) -> None:
    alice, seller = world.guild.plain[0], world.guild.plain[1]
    admin = world.guild.admin
    await ok(world, admin, "admin alert-channel", channel=world.channel_id("alerts"))
    await ok(world, alice, "alert create", name="Chairs", keywords="chair")
    hook = world.discord.add_webhook("general")
    saved = await ok(world, alice, "prefs webhook set", url=hook.url)
    assert str(hook.id) in saved.text and hook.token not in saved.text
    world.discord.close_dms(alice)

    # 1. DMs closed (discovered by a refused DM) → the webhook, with a one-time notice.
    await ok(world, seller, "sell", title="Office chair", price="50")
    await world.discord.state.wait_for(
        lambda: webhook_posts(world, hook), 15, "an alert through the webhook"
    )
    (post,) = webhook_posts(world, hook)
    assert post.author["username"] == "Deal Scout"
    assert post.embeds[0]["title"] == "Office chair"
    assert "DMs are closed" in post.content
    assert world.discord.dms(alice) == []

    # 2. The webhook is deleted in Discord → disabled, and the alert goes to the alert channel.
    world.discord.webhook_gone(hook)
    await ok(world, seller, "sell", title="Kitchen chair", price="20")
    (moved,) = await world.discord.wait_channel_message(world.channel_id("alerts"), timeout=15)
    assert moved.embeds[0]["title"] == "Kitchen chair"
    assert f"<@{alice.id}>" in moved.content
    assert "webhook was deleted" in moved.content and "/prefs webhook set" in moved.content

    # 3. Told once: the next alert goes straight to the channel, without the notice, and the
    # deleted webhook is not called again.
    executes = len(world.discord.requests_matching("POST /webhooks/*/*"))
    await ok(world, seller, "sell", title="Desk chair", price="30")
    posts = await world.discord.wait_channel_message(
        world.channel_id("alerts"), count=2, timeout=15
    )
    assert posts[1].embeds[0]["title"] == "Desk chair"
    assert "webhook was deleted" not in posts[1].content
    await asyncio.sleep(1)
    assert len(world.discord.channel_messages(world.channel_id("alerts"))) == 2
    assert len(webhook_posts(world, hook)) == 1
    follow_ups = [
        r for r in world.discord.requests_matching("POST /webhooks/*/*")[executes:]
        if str(hook.id) in r.path
    ]  # fmt: skip
    assert follow_ups == [], "a disabled webhook is never called again"

    shown = await ok(world, alice, "prefs show")
    assert "deleted in Discord" in shown.text and hook.token not in shown.text
    history = await run(world, alice, "alert history")
    assert "webhook deleted" in history.text and "DMs closed" in history.text
    assert hook.token not in world.bot.tail(lines=100_000), "the webhook URL is never logged"
    world.discord.assert_clean()


async def test_a_non_discord_webhook_url_is_refused_naming_the_option(world: World) -> None:
    alice = world.guild.plain[0]
    for url in (
        "https://127.0.0.1:8080/api/webhooks/123456789012345678/" + "t" * 68,
        "https://discord.com.evil.io/api/webhooks/123456789012345678/" + "t" * 68,
    ):
        answer = await run(world, alice, "prefs webhook set", url=url)
        assert answer.ephemeral and "❌ **url**" in answer.text
    world.discord.assert_clean()
