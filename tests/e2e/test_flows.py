"""User-visible flows through the real `python -m bot` process and the Discord stand-in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import World
from tests.standins.discord import (
    ClientWouldRefuse,
    Guild,
    InteractionResponse,
    StoredMessage,
    User,
)

pytestmark = pytest.mark.e2e

CHAIR = {
    "title": "Vintage Leather Gaming Chair",
    "price": "299.99",
    "condition": "excellent",
    "category": "Furniture - Gaming",
    "location": "San Jose, CA",
    "description": "Comfortable, barely used.",
}


async def run(
    world: World, user: User, command: str, *, in_guild: Guild | None = None, **options: Any
) -> InteractionResponse:
    ix = await world.discord.invoke(user, command, options, guild=in_guild or world.guild)
    return await ix.response(10)


async def ok(
    world: World, user: User, command: str, *, in_guild: Guild | None = None, **options: Any
) -> InteractionResponse:
    reply = await run(world, user, command, in_guild=in_guild, **options)
    assert reply.ephemeral, f"/{command} answered publicly: {reply.text}"
    assert "❌" not in reply.text, f"/{command} failed: {reply.text}"
    return reply


async def quiet_for(world: World, users: list[User], seconds: float = 1.5) -> None:
    """Give the dispatcher time to (wrongly) deliver, then check these users got nothing."""
    await asyncio.sleep(seconds)
    for user in users:
        assert world.discord.dms(user) == [], f"{user.username} got an alert it should not"


def listings_in(stats: InteractionResponse) -> int:
    fields = {f["name"]: f["value"] for f in stats.embeds[0]["fields"]}
    return int(fields["Listings"].replace(",", ""))


def buttons(message: StoredMessage) -> dict[str, str]:
    return {
        c["label"]: c["custom_id"]
        for row in message.components
        for c in row.get("components", [])
        if "custom_id" in c
    }


async def test_walkthrough_two_buyers_get_their_dm_and_the_third_rule_nothing(world: World) -> None:
    alice, bob, carol, dave = (world.guild.plain[i] for i in range(4))
    admin = world.guild.admin
    await ok(world, admin, "admin marketplace-channel", channel=world.channel_id("marketplace"))
    await ok(
        world, alice, "alert create", name="Gaming Furniture Under $350",
        keywords="gaming, chair", min_price="100", max_price="350", category="Furniture",
    )  # fmt: skip
    await ok(
        world, bob, "alert create", name="Any Furniture Under $500",
        exclude="damaged, broken", max_price="500", category="Furniture", condition="good",
    )  # fmt: skip
    await ok(
        world, carol, "alert create", name="Cheap non-leather chairs",
        keywords="chair", exclude="leather", max_price="200",
    )  # fmt: skip

    sold = await ok(world, dave, "sell", **CHAIR)
    assert "2 alerts queued" in sold.text

    post = (await world.discord.wait_channel_message(world.channel_id("marketplace"), timeout=10))[
        0
    ]
    assert post.embeds[0]["title"] == CHAIR["title"]
    for buyer, rule in ((alice, "Gaming Furniture Under $350"), (bob, "Any Furniture Under $500")):
        (dm,) = await world.discord.wait_dm(buyer, timeout=10)
        embed = dm.embeds[0]
        text = dm.text
        assert embed["title"] == CHAIR["title"]
        for expected in (
            "$299.99",
            "Excellent",
            "Furniture - Gaming",
            "San Jose, CA",
            str(dave.id),
        ):
            assert expected in text, (expected, text)
        assert f"Matched your alert “{rule}”" in embed["footer"]["text"]
        assert embed["url"].endswith(f"/{post.channel_id}/{post.id}"), "links to the listing post"
        assert set(buttons(dm)) == {"Pause this alert", "Not interested", "Watch price"}
    await quiet_for(world, [carol, dave])
    world.discord.assert_clean()


async def test_rule_lifecycle_through_discord(world: World) -> None:
    alice, bob, seller = world.guild.plain[0], world.guild.plain[1], world.guild.plain[2]
    await ok(world, alice, "alert create", name="Gaming chairs", keywords="gaming chair")
    await ok(world, alice, "alert create", name="Desks", keywords="desk", max_price="100")
    await ok(world, bob, "alert create", name="Bob's bikes", keywords="bike")

    listing = await ok(world, alice, "alert list")
    assert "Gaming chairs" in listing.text and "Desks" in listing.text
    assert "Bob's bikes" not in listing.text

    choices = await world.discord.autocomplete(alice, "alert edit", "rule", {"rule": "ga"})
    assert [c["name"] for c in choices] == ["Gaming chairs"]
    assert await world.discord.autocomplete(bob, "alert edit", "rule", {"rule": "ga"}) == []

    edited = await ok(world, alice, "alert edit", rule="Desks", max_price="150")
    assert "$150.00" in edited.text

    await ok(world, alice, "alert pause", rule="Gaming chairs")
    await ok(world, seller, "sell", title="RGB gaming chair", price="120")
    await quiet_for(world, [alice])

    await ok(world, alice, "alert resume", rule="Gaming chairs")
    await ok(world, seller, "sell", title="Racing gaming chair", price="130")
    (dm,) = await world.discord.wait_dm(alice, timeout=10)
    assert dm.embeds[0]["title"] == "Racing gaming chair"

    tested = await run(world, alice, "alert test", rule="Desks")
    assert "✅" in tested.text and "❌" in tested.text
    for check in ("price", "keywords", "category", "condition", "distance", "score"):
        assert check in tested.text.lower()

    # "Pause this alert" on the DM pauses the rule it names.
    pause = await world.discord.click(alice, dm, buttons(dm)["Pause this alert"])
    assert "Paused" in (await pause.response(10)).text
    shown = await ok(world, alice, "alert show", rule="Gaming chairs")
    assert "paused" in shown.text.lower()

    confirm = await ok(world, alice, "alert delete", rule="Desks")
    labels = {c["label"]: c["custom_id"] for row in confirm.components for c in row["components"]}
    assert confirm.message is not None
    clicked = await world.discord.click(alice, confirm.message, labels["Delete"])
    await clicked.response(10)
    remaining = await ok(world, alice, "alert list")
    assert "Desks" not in remaining.text and "Gaming chairs" in remaining.text
    world.discord.assert_clean()


async def test_bad_input_gets_clear_ephemeral_errors_and_writes_nothing(world: World) -> None:
    alice, bob = world.guild.plain[0], world.guild.plain[1]
    bad_price = await run(world, alice, "alert create", name="x", keywords="chair", max_price="abc")
    assert bad_price.ephemeral and "max_price" in bad_price.text

    bad_range = await run(
        world, alice, "alert create", name="x", keywords="chair", min_price="500", max_price="10"
    )
    assert bad_range.ephemeral and "min_price" in bad_range.text

    nothing = await run(world, alice, "alert show", rule="No such alert")
    assert nothing.ephemeral and "rule" in nothing.text and "No such alert" in nothing.text

    await ok(world, bob, "alert create", name="Bob secret", keywords="bike")
    theirs = await run(world, alice, "alert edit", rule="Bob secret", max_price="1")
    assert theirs.ephemeral and "no alert named" in theirs.text
    theirs_delete = await run(world, alice, "alert delete", rule="Bob secret")
    assert theirs_delete.ephemeral and "no alert named" in theirs_delete.text

    bad_sale = await run(world, alice, "sell", title="Desk", price="-3")
    assert bad_sale.ephemeral and "price" in bad_sale.text

    # Discord hides /admin from members without Manage Server...
    with pytest.raises(ClientWouldRefuse):
        await run(world, alice, "admin stats")
    # ...unless the server's integration settings open it to everyone: the bot checks again.
    world.discord.allow_everyone("admin")
    for command, options in (
        ("admin stats", {}),
        ("admin alert-channel", {"channel": world.channel_id("general")}),
    ):
        denied = await run(world, alice, command, **options)
        assert denied.ephemeral and "Manage Server" in denied.text

    assert "Bob secret" not in (await ok(world, alice, "alert list")).text
    bob_rules = await ok(world, bob, "alert show", rule="Bob secret")
    assert "$1.00" not in bob_rules.text, "another user's rule was not changed"
    stats = await ok(world, world.guild.admin, "admin stats")
    assert "Alert channel" in stats.text and "not set" in stats.text, "alice changed nothing"
    assert listings_in(stats) == 0, "the rejected /sell stored nothing"
    world.discord.assert_clean()
