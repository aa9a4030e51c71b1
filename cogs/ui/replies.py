"""Answering interactions: respond, or follow up if already responded (Red-DiscordBot's helper).

Every reply the bot makes to a command is ephemeral unless the caller says otherwise, and no reply
can ping anyone (``allowed_mentions`` none), whatever text a user managed to put in it.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord

from bot.delivery.render import clean
from bot.errors import UserFacingError
from bot.i18n import locale_of, t

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
CONTENT_LIMIT = 2000

SentMessage = discord.InteractionMessage | discord.WebhookMessage


async def defer(interaction: discord.Interaction) -> None:
    """Acknowledge now (ephemerally, "thinking…") so slow work cannot miss the 3 s deadline."""
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)


async def respond(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    embeds: list[discord.Embed] | None = None,
    view: discord.ui.View | None = None,
    ephemeral: bool = True,
) -> SentMessage | None:
    """Send the first response, or a follow-up when the interaction was already answered
    (deferred, or answered by an earlier step). Returns the message when Discord gave it."""
    kwargs: dict[str, Any] = {"ephemeral": ephemeral, "allowed_mentions": NO_PINGS}
    if content is not None:
        kwargs["content"] = content[:CONTENT_LIMIT]
    if embed is not None:
        kwargs["embed"] = embed
    if embeds:
        kwargs["embeds"] = embeds
    if view is not None:
        kwargs["view"] = view
    if interaction.response.is_done():
        return await interaction.followup.send(wait=True, **kwargs)
    callback = await interaction.response.send_message(**kwargs)
    resource = callback.resource if callback is not None else None
    return resource if isinstance(resource, discord.InteractionMessage) else None


def user_error_text(error: UserFacingError, locale: str = "en") -> str:
    """``❌ **field**: message`` (the message can quote user input, so it is escaped)."""
    message = clean(error.message, 1800) or t("that did not work", locale)
    if error.field:
        return t("❌ **{field}**: {message}", locale, field=error.field, message=message)
    return t("❌ {message}", locale, message=message)


def new_error_id() -> str:
    return secrets.token_hex(4)


def unexpected_error_text(error_id: str, locale: str = "en") -> str:
    return t(
        "😵 Sorry, something went wrong on our side. It has been logged "
        "(error id `{error_id}`); please try again in a moment.",
        locale,
        error_id=error_id,
    )


async def send_error(interaction: discord.Interaction, error: BaseException | str) -> None:
    """Tell the user what went wrong, ephemerally. For Views, buttons and dynamic items, whose
    errors never reach the command tree's handler."""
    locale = locale_of(interaction)
    if isinstance(error, str):
        text = error
    elif isinstance(error, UserFacingError):
        text = user_error_text(error, locale)
    else:
        error_id = new_error_id()
        log.error(
            "unexpected error in a component interaction [error id %s]",
            error_id,
            exc_info=error,
        )
        text = unexpected_error_text(error_id, locale)
    await safe_respond(interaction, text)


async def safe_respond(interaction: discord.Interaction, text: str) -> None:
    """``respond`` for error paths: a reply that cannot be delivered (the interaction expired,
    Discord is down) is logged instead of raising from inside an error handler."""
    try:
        await respond(interaction, text)
    except discord.HTTPException as exc:
        log.warning("could not tell the user about an error: %s", exc)
