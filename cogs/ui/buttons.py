"""Persistent buttons that carry one id in their custom id (a rule, a listing, a watch …).

They keep working after a restart and hold nothing in memory: discord.py matches the custom id
against the subclass's ``template`` and rebuilds the button. Subclasses give the label, the
custom-id format (one ``{field}``) and :meth:`IdButton.answer`, which does the work and returns
the ephemeral reply. Errors reach the user through ``send_error``, because dynamic items bypass
the command tree's error handler. Services check ownership, so a stranger's click finds nothing.
"""

from __future__ import annotations

import re
import string
from typing import Any, ClassVar, Self

import discord

from bot.i18n import locale_of, t
from cogs.ui.replies import respond, send_error


def _field(id_format: str) -> str:
    """The name of the one ``{field}`` in a custom-id format."""
    fields = [name for _, name, _, _ in string.Formatter().parse(id_format) if name]
    if len(fields) != 1:
        raise ValueError(f"{id_format!r} must have exactly one field")
    return fields[0]


class IdButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"(?!)"):
    button_label: ClassVar[str]  # an English message id, translated per reader
    id_format: ClassVar[str]  # e.g. "ds:pause:{rule_id}"

    def __init__(self, item_id: int, locale: str = "en") -> None:
        super().__init__(
            discord.ui.Button(
                label=t(self.button_label, locale),
                style=discord.ButtonStyle.secondary,
                custom_id=self.id_format.format(**{_field(self.id_format): item_id}),
            )
        )
        self.item_id = item_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(int(match.group(1)), locale_of(interaction))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await respond(interaction, await self.answer(interaction, locale_of(interaction)))
        except Exception as exc:
            await send_error(interaction, exc)

    async def answer(self, interaction: discord.Interaction, locale: str) -> str:
        """Do what the button says for ``interaction.user``; return the reply."""
        raise NotImplementedError
