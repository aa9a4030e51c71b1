"""Structural checks over every command in the tree (python-discord's habit)."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands

from tests.cogs.harness import Harness

NAME = re.compile(r"^[-_a-z0-9]{1,32}$")


def walk(h: Harness) -> list[Any]:
    found: list[Any] = []

    def visit(node: Any) -> None:
        found.append(node)
        if isinstance(node, app_commands.Group):
            for child in node.commands:
                visit(child)

    for command in h.tree.get_commands():
        visit(command)
    return found


async def test_the_tree_holds_the_expected_commands(h: Harness) -> None:
    names = sorted(c.qualified_name for c in walk(h) if isinstance(c, app_commands.Command))
    assert names == [
        "admin alert-channel",
        "admin deliveries",
        "admin discogs",
        "admin feed add",
        "admin feed list",
        "admin feed pause",
        "admin feed remove",
        "admin feed resume",
        "admin marketplace-channel",
        "admin stats",
        "admin sync",
        "alert create",
        "alert delete",
        "alert edit",
        "alert history",
        "alert list",
        "alert pause",
        "alert resume",
        "alert show",
        "alert test",
        "deals for-me",
        "deals why",
        "listing edit",
        "listing remove",
        "listing sold",
        "prefs categories",
        "prefs channel-order",
        "prefs channels",
        "prefs currency",
        "prefs daily-limit",
        "prefs digest-day",
        "prefs digest-time",
        "prefs email remove",
        "prefs email set",
        "prefs email verify",
        "prefs frequency",
        "prefs language",
        "prefs pause-all",
        "prefs phone remove",
        "prefs phone set",
        "prefs phone verify",
        "prefs quiet-hours",
        "prefs resume-all",
        "prefs show",
        "prefs stop",
        "prefs timezone",
        "prefs webhook remove",
        "prefs webhook set",
        "prefs webhook test",
        "sell",
        "wanted add",
        "wanted check",
        "wanted edit",
        "wanted history",
        "wanted import",
        "wanted list",
        "wanted pause",
        "wanted remove",
        "wanted resume",
        "watch add",
        "watch history",
        "watch list",
        "watch remove",
    ]


async def test_every_command_and_option_is_named_and_described(h: Harness) -> None:
    problems = []
    for node in walk(h):
        if not NAME.match(node.name):
            problems.append(f"bad name /{node.qualified_name}")
        if not node.description or node.description == "…" or len(node.description) > 100:
            problems.append(f"description of /{node.qualified_name}: {node.description!r}")
        if not isinstance(node, app_commands.Command):
            continue
        for param in node.parameters:
            where = f"/{node.qualified_name} {param.display_name}"
            if not NAME.match(param.display_name):
                problems.append(f"bad option name {where}")
            if param.description in ("", "…") or len(param.description) > 100:
                problems.append(f"option description {where}: {param.description!r}")
            for choice in param.choices:
                if not 1 <= len(choice.name) <= 100:
                    problems.append(f"choice {choice.name!r} of {where}")
    assert not problems, "\n".join(problems)


async def test_the_schema_discord_receives_is_valid(h: Harness) -> None:
    payload = [c.to_dict(h.tree) for c in h.tree.get_commands()]
    assert len(payload) == 8
    for command in payload:
        assert len(str(command)) < 8000  # Discord's limit on a command's total size
    admin = next(c for c in payload if c["name"] == "admin")
    assert int(admin["default_member_permissions"]) == discord.Permissions(manage_guild=True).value
    assert admin["contexts"] == [0]  # guild only
    alert = next(c for c in payload if c["name"] == "alert")
    create = next(o for o in alert["options"] if o["name"] == "create")
    options = {o["name"]: o for o in create["options"]}
    assert (options["radius"]["min_value"], options["radius"]["max_value"]) == (1, 500)
    assert (options["min_deal_score"]["min_value"], options["min_deal_score"]["max_value"]) == (
        0,
        1,
    )
    assert [c["value"] for c in options["condition"]["choices"]] == [
        "new", "like_new", "excellent", "good", "fair", "poor",
    ]  # fmt: skip
    assert options["channels"]["autocomplete"] and options["category"]["autocomplete"]
    assert options["name"]["required"] and not options.get("keywords", {}).get("required")


async def test_a_tour_of_every_command_replies_ephemerally(h: Harness) -> None:
    """Runs every command (happy and failing paths); the fixture then checks that every reply
    was ephemeral and pinged nobody. Only marketplace posts and alerts (REST) are public."""
    from tests.cogs.harness import ADMIN_PERMISSIONS, OWNER_ID

    alice, bob = 1001, 1002
    h.add_text_channel(42)
    admin: dict[str, Any] = {"permissions": ADMIN_PERMISSIONS}
    await h.invoke(alice, "alert create", name="Desks", keywords="desk")
    await h.invoke(alice, "alert create", name="Bad", keywords="desk", max_price="x")
    await h.invoke(alice, "alert list")
    await h.invoke(alice, "alert show", rule="Desks")
    await h.invoke(alice, "alert edit", rule="Desks", max_price="300")
    await h.invoke(alice, "alert pause", rule="Desks")
    await h.invoke(alice, "alert resume", rule="Desks")
    await h.invoke(alice, "alert test", rule="Desks")
    await h.invoke(bob, "sell", title="Oak desk", price="100")
    await h.invoke(bob, "sell", title="Oak desk", price="?")
    dialog = await h.invoke(alice, "alert delete", rule="Desks")
    await h.click(bob, dialog, "Delete")
    await h.click(alice, dialog, "Delete")
    await h.invoke(alice, "admin stats", permissions="0")
    await h.invoke(alice, "admin stats", **admin)
    await h.invoke(alice, "admin alert-channel", channel=42, **admin)
    await h.invoke(alice, "admin marketplace-channel", channel=42, **admin)
    await h.invoke(alice, "admin sync", **admin)
    await h.invoke(OWNER_ID, "admin sync", **admin)
    await h.invoke(alice, "alert history")
    await h.invoke(alice, "admin deliveries", permissions="0")
    await h.invoke(alice, "admin deliveries", **admin)
    await h.invoke(alice, "prefs webhook set", url="https://example.com/api/webhooks/1/x")
    await h.invoke(alice, "prefs channel-order", order="webhook,dm")
    assert len(h.exchanges) == 24
    assert all(e.replies for e in h.exchanges.values())
