"""The one error handler for every slash command (``tree.on_error``).

What the user can fix is answered ephemerally, naming the option at fault; anything else is
logged with an error id the user can quote, and answered with a short apology."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserFacingError
from bot.i18n import N_, locale_of, t
from cogs.ui.replies import (
    new_error_id,
    safe_respond,
    unexpected_error_text,
    user_error_text,
)

if TYPE_CHECKING:
    from bot.client import DealScoutBot

log = logging.getLogger(__name__)

MANAGE_SERVER = N_("You need the **Manage Server** permission to use this command.")


def _permission_names(names: list[str]) -> str:
    return ", ".join(n.replace("_", " ").replace("guild", "server").title() for n in names)


def option_name(interaction: discord.Interaction, error: app_commands.TransformerError) -> str:
    """The option whose value failed to convert (TransformerError does not say)."""
    for name, value in interaction.namespace:
        if value is error.value:
            return name
    command = interaction.command
    if isinstance(command, app_commands.Command):
        same_type = [p.display_name for p in command.parameters if p.type == error.type]
        if len(same_type) == 1:
            return same_type[0]
    return "option"


def error_text(interaction: discord.Interaction, error: app_commands.AppCommandError) -> str:
    """What to tell the user, in their language; logs what they cannot fix."""
    locale = locale_of(interaction)
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, UserFacingError):
        return user_error_text(original, locale)
    if isinstance(error, app_commands.NoPrivateMessage):
        return t("This command only works in a server, not in DMs.", locale)
    if isinstance(error, app_commands.MissingPermissions):
        if error.missing_permissions == ["manage_guild"]:
            return t(MANAGE_SERVER, locale)
        names = _permission_names(error.missing_permissions)
        return t("You need the **{names}** permission to use this command.", locale, names=names)
    if isinstance(error, app_commands.BotMissingPermissions):
        names = _permission_names(error.missing_permissions)
        return t("I need the **{names}** permission here to do that.", locale, names=names)
    if isinstance(error, app_commands.CommandOnCooldown):
        return t(
            "Slow down a little: try again in {seconds} s.",
            locale,
            seconds=f"{error.retry_after:.0f}",
        )
    if isinstance(error, app_commands.CheckFailure):
        return t("You are not allowed to use this command here.", locale)
    if isinstance(error, app_commands.TransformerError):
        name = option_name(interaction, error)
        return t(
            "❌ **{option}**: that value is not valid here; pick one of the suggestions.",
            locale,
            option=name,
        )
    error_id = new_error_id()
    command = interaction.command.qualified_name if interaction.command else "?"
    log.exception("unexpected error in /%s [error id %s]", command, error_id, exc_info=original)
    return unexpected_error_text(error_id, locale)


class Errors(commands.Cog):
    """Installs the tree's error handler; puts the previous one back when unloaded."""

    def __init__(self, bot: DealScoutBot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error

    async def cog_load(self) -> None:
        self.bot.tree.error(self.on_app_command_error)

    async def cog_unload(self) -> None:
        self.bot.tree.error(self._previous)

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await safe_respond(interaction, error_text(interaction, error))


async def setup(bot: DealScoutBot) -> None:
    await bot.add_cog(Errors(bot))
