"""A yes/no dialog owned by the user who asked. Nothing happens unless they confirm; a dialog
left alone times out harmlessly (its buttons go away and nothing is changed)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.i18n import N_, t
from cogs.ui.views import OwnedView

CONFIRM_TIMEOUT = 60.0

OnConfirm = Callable[[discord.Interaction], Awaitable[None]]


class ConfirmView(OwnedView):
    """``on_confirm`` runs inside the click and must answer it (e.g. ``edit_message``). Texts
    left out are the defaults in ``locale``; texts given are used as they are (translated)."""

    def __init__(
        self,
        owner_id: int,
        *,
        on_confirm: OnConfirm,
        confirm_label: str | None = None,
        cancelled_text: str | None = None,
        timed_out_text: str | None = None,
        timeout: float = CONFIRM_TIMEOUT,
        locale: str = "en",
    ) -> None:
        super().__init__(owner_id, timeout=timeout)
        self.on_confirm = on_confirm
        self.cancelled_text = cancelled_text or t("Cancelled — nothing was changed.", locale)
        self.timed_out_text = timed_out_text or t("Timed out — nothing was changed.", locale)
        self.value: bool | None = None
        self.confirm.label = confirm_label or t("Confirm", locale)
        self.cancel.label = t("Cancel", locale)

    @discord.ui.button(label=N_("Confirm"), style=discord.ButtonStyle.danger)
    async def confirm(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        if self.value is not None:
            return
        self.value = True
        self.stop()
        await self.on_confirm(interaction)

    @discord.ui.button(label=N_("Cancel"), style=discord.ButtonStyle.secondary)
    async def cancel(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        if self.value is not None:
            return
        self.value = False
        self.stop()
        await interaction.response.edit_message(content=self.cancelled_text, embed=None, view=None)

    async def on_timeout(self) -> None:
        if self.value is None:
            await self.edit_message_quietly(content=self.timed_out_text, embed=None, view=None)
