"""/admin: server settings for people who can manage the server; stats; owner-only sync."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cogs.harness import ADMIN_PERMISSIONS, GUILD_ID, OWNER_ID, Harness
from tests.cogs.test_alerts import ALICE, BOB, CAROL, make_rule, sell

ADMIN = 2001
ALERTS_CH = 600_000_000_000_000_010
MARKET_CH = 600_000_000_000_000_011


@pytest.mark.parametrize(
    ("path", "options"),
    [
        ("admin alert-channel", {"channel": ALERTS_CH}),
        ("admin marketplace-channel", {"channel": MARKET_CH}),
        ("admin stats", {}),
    ],
)
async def test_non_admins_are_refused_and_nothing_changes(
    h: Harness, path: str, options: dict[str, Any]
) -> None:
    h.add_text_channel(ALERTS_CH)
    h.add_text_channel(MARKET_CH)
    reply = await h.invoke(ALICE, path, permissions="0", **options)
    assert reply.ephemeral
    assert reply.content == "You need the **Manage Server** permission to use this command."
    stats = await h.services.admin.stats(GUILD_ID)
    assert stats.alert_channel_id is None and stats.marketplace_channel_id is None


async def test_admin_sets_and_clears_the_alert_channel(h: Harness) -> None:
    h.add_text_channel(ALERTS_CH, "alerts")
    reply = await h.invoke(
        ADMIN, "admin alert-channel", permissions=ADMIN_PERMISSIONS, channel=ALERTS_CH
    )
    assert reply.ephemeral and f"<#{ALERTS_CH}>" in (reply.content or "")
    assert (await h.services.admin.stats(GUILD_ID)).alert_channel_id == ALERTS_CH

    reply = await h.invoke(ADMIN, "admin alert-channel", permissions=ADMIN_PERMISSIONS)
    assert "off" in (reply.content or "")
    assert (await h.services.admin.stats(GUILD_ID)).alert_channel_id is None


async def test_admin_sets_the_marketplace_channel_and_sell_posts_there(h: Harness) -> None:
    h.add_text_channel(MARKET_CH, "market")
    reply = await h.invoke(
        ADMIN, "admin marketplace-channel", permissions=ADMIN_PERMISSIONS, channel=MARKET_CH
    )
    assert f"<#{MARKET_CH}>" in (reply.content or "")
    assert (await h.services.admin.stats(GUILD_ID)).marketplace_channel_id == MARKET_CH
    await sell(h, BOB, "Oak desk")
    assert len(h.posts_in(MARKET_CH)) == 1


async def test_manage_guild_alone_is_enough(h: Harness) -> None:
    h.add_text_channel(ALERTS_CH)
    reply = await h.invoke(ADMIN, "admin alert-channel", permissions=str(1 << 5), channel=ALERTS_CH)
    assert "✅" in (reply.content or "")


async def test_a_channel_discord_py_cannot_resolve_names_the_option(h: Harness) -> None:
    reply = await h.invoke(ADMIN, "admin alert-channel", permissions=ADMIN_PERMISSIONS, channel=123)
    assert reply.ephemeral and (reply.content or "").startswith("❌ **channel**")
    assert (await h.services.admin.stats(GUILD_ID)).alert_channel_id is None


async def test_admin_commands_do_not_run_in_dms(h: Harness) -> None:
    reply = await h.invoke(ADMIN, "admin stats", guild=False)
    assert reply.ephemeral and "only works in a server" in (reply.content or "")


async def test_stats_shows_counts_and_channels(h: Harness) -> None:
    await h.services.admin.set_alert_channel(GUILD_ID, ALERTS_CH)
    await make_rule(h, ALICE, "Desks")
    await make_rule(h, CAROL, "Desks too", channels="channel")
    await sell(h, BOB, "Oak desk")
    await sell(h, BOB, "Lamp shade")
    await h.deliver()
    reply = await h.invoke(ADMIN, "admin stats", permissions=ADMIN_PERMISSIONS)
    assert reply.ephemeral
    assert reply.field("Rules") == "2"
    assert reply.field("Listings") == "2"
    assert "sent **2**" in reply.field("Alerts")
    assert "failed **0**" in reply.field("Alerts")
    assert reply.field("Users with DMs closed") == "0"
    assert reply.field("Top failure reasons") == "none"
    assert reply.field("Alert channel") == f"<#{ALERTS_CH}>"
    assert "not set" in reply.field("Marketplace channel")


async def test_sync_is_for_the_owner_only(h: Harness) -> None:
    reply = await h.invoke(ADMIN, "admin sync", permissions=ADMIN_PERMISSIONS, scope="guild")
    assert reply.ephemeral and "only the bot's owner" in (reply.content or "")
    assert h.synced == []


async def test_owner_syncs_to_this_guild_and_globally(h: Harness) -> None:
    reply = await h.invoke(OWNER_ID, "admin sync", permissions=ADMIN_PERMISSIONS, scope="guild")
    n = len(h.tree.get_commands())
    assert reply.content == f"✅ Synced {n} commands to this server."
    assert h.synced[0][0] == GUILD_ID
    reply = await h.invoke(OWNER_ID, "admin sync", permissions=ADMIN_PERMISSIONS, scope="global")
    assert reply.content is not None and reply.content.startswith(
        f"✅ Synced {n} commands globally"
    )
    assert h.synced[1][0] is None
