"""A generic embed paginator: Previous / Next buttons, owned by the user who asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

from bot.i18n import N_, t
from cogs.ui.replies import respond
from cogs.ui.views import OwnedView

PAGE_TIMEOUT = 300.0


class Paginator(OwnedView):
    def __init__(
        self,
        owner_id: int,
        pages: Sequence[discord.Embed],
        *,
        timeout: float = PAGE_TIMEOUT,
        locale: str = "en",
    ) -> None:
        if not pages:
            raise ValueError("a paginator needs at least one page")
        super().__init__(owner_id, timeout=timeout)
        self.pages = list(pages)
        self.index = 0
        self.locale = locale
        self.previous_page.label = t("Previous", locale)
        self.next_page.label = t("Next", locale)
        self._sync_buttons()

    @property
    def current(self) -> discord.Embed:
        embed = self.pages[self.index].copy()
        if len(self.pages) > 1:
            embed.set_footer(
                text=t(
                    "Page {page}/{pages}", self.locale, page=self.index + 1, pages=len(self.pages)
                )
            )
        return embed

    def _sync_buttons(self) -> None:
        self.previous_page.disabled = self.index <= 0
        self.next_page.disabled = self.index >= len(self.pages) - 1

    async def start(self, interaction: discord.Interaction) -> None:
        """Send the first page (no buttons at all when there is only one)."""
        if len(self.pages) == 1:
            self.stop()
            await respond(interaction, embed=self.current)
            return
        self.message = await respond(interaction, embed=self.current, view=self)

    async def _show(self, interaction: discord.Interaction) -> None:
        self.index = max(0, min(self.index, len(self.pages) - 1))
        self._sync_buttons()
        await interaction.response.edit_message(embed=self.current, view=self)

    @discord.ui.button(label=N_("Previous"), emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous_page(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        self.index -= 1
        await self._show(interaction)

    @discord.ui.button(label=N_("Next"), emoji="▶️", style=discord.ButtonStyle.secondary)
    async def next_page(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        self.index += 1
        await self._show(interaction)

    async def on_timeout(self) -> None:
        await self.edit_message_quietly(view=None)
