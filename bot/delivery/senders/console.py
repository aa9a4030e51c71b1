"""A sender that prints alerts as text (the demo), using the same embed the DM would carry."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import discord

from bot.delivery.render_wanted import embed_for
from bot.delivery.senders.base import OutgoingAlert


def embed_as_text(embed: discord.Embed) -> str:
    lines = [f"┌ {embed.title}"]
    if embed.url:
        lines.append(f"│ {embed.url}")
    if embed.description:
        lines.append(f"│ {embed.description}")
    lines.extend(f"│ {field.name}: {field.value}" for field in embed.fields)
    if embed.footer and embed.footer.text:
        lines.append(f"└ {embed.footer.text}")
    return "\n".join(lines)


class ConsoleSender:
    def __init__(self, channel: str, out: Callable[[str], None] = print) -> None:
        self.channel = channel
        self.out = out
        self._ids = itertools.count(1)
        self.sent: list[OutgoingAlert] = []

    async def send(self, alert: OutgoingAlert) -> int | None:
        self.sent.append(alert)
        embed = embed_for(alert)
        self.out(f"\n[{self.channel} → user {alert.user_id}]\n{embed_as_text(embed)}")
        return next(self._ids)
