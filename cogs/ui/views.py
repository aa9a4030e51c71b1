"""A View whose buttons only answer the user who ran the command (RoboDanny's pattern)."""

from __future__ import annotations

import contextlib
from typing import Any

import discord

from bot.i18n import N_, locale_of, t
from cogs.ui.replies import SentMessage, safe_respond, send_error

NOT_YOURS = N_("These buttons belong to someone else's command. Run it yourself to get your own.")


class OwnedView(discord.ui.View):
    """Restricts its components to ``owner_id``; errors in callbacks become ephemeral replies."""

    def __init__(self, owner_id: int, *, timeout: float | None = 180.0) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.message: SentMessage | None = None

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await safe_respond(interaction, t(NOT_YOURS, locale_of(interaction)))
        return False

    async def on_error(
        self,
        interaction: discord.Interaction,
        error: Exception,
        item: discord.ui.Item[Any],
        /,
    ) -> None:
        await send_error(interaction, error)

    def disable_all(self) -> None:
        for child in self.children:
            if isinstance(child, discord.ui.Button | discord.ui.Select):
                child.disabled = True

    async def edit_message_quietly(self, **kwargs: Any) -> None:
        """Edit the message this view is attached to; it may be gone (dismissed, expired)."""
        if self.message is None:
            return
        with contextlib.suppress(discord.HTTPException):
            await self.message.edit(**kwargs)
