"""The single error handler: what users can fix is named; everything else gets an error id."""

from __future__ import annotations

import logging
import re

import pytest
from discord import app_commands

from bot.errors import UserFacingError
from tests.cogs.harness import Harness
from tests.cogs.test_alerts import ALICE, make_rule


async def test_an_unexpected_error_is_logged_with_an_id_the_user_sees(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(user_id: int) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(h.services.rules, "list", broken)
    with caplog.at_level(logging.ERROR, logger="cogs.errors"):
        reply = await h.invoke(ALICE, "alert list")
    assert reply.ephemeral
    match = re.search(r"error id `([0-9a-f]{8})`", reply.content or "")
    assert match, reply.content
    assert "database on fire" not in (reply.content or "")
    [record] = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert record.exc_info and "database on fire" in str(record.exc_info[1])


async def test_a_value_outside_the_choices_names_the_option(h: Harness) -> None:
    reply = await h.invoke(ALICE, "alert create", name="Desks", keywords="desk", condition="mint")
    assert reply.ephemeral and (reply.content or "").startswith("❌ **condition**")
    assert await h.rule_count(ALICE) == 0


async def test_user_errors_escape_what_the_user_typed(h: Harness) -> None:
    reply = await h.invoke(
        ALICE, "alert create", name="x", keywords="desk", max_price="**@everyone**"
    )
    assert (reply.content or "").startswith("❌ **max_price**")
    assert "@everyone" not in (reply.content or "")


async def test_errors_inside_a_view_reach_the_user(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_rule(h, ALICE, "Desks")

    async def refuse(user_id: int, rule_id: int) -> bool:
        raise UserFacingError("that alert is locked", field="rule")

    monkeypatch.setattr(h.services.rules, "delete", refuse)
    dialog = await h.invoke(ALICE, "alert delete", rule="Desks")
    reply = (await h.click(ALICE, dialog, "Delete")).reply
    assert reply.ephemeral and reply.content == "❌ **rule**: that alert is locked"


async def test_unloading_the_errors_cog_restores_the_previous_handler(h: Harness) -> None:
    assert h.tree.on_error.__func__ is not app_commands.CommandTree.on_error  # type: ignore[attr-defined]
    await h.bot.unload_extension("cogs.errors")
    assert h.tree.on_error.__func__ is app_commands.CommandTree.on_error  # type: ignore[attr-defined]
