"""End-to-end fixtures: a Discord stand-in on 127.0.0.1 and the real bot process connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.process import BotProcess, WallClock
from tests.standins.discord import DiscordStandin, Guild, User

pytestmark = pytest.mark.e2e


@dataclass
class World:
    """The stand-in, the bot process and the people in the test server."""

    discord: DiscordStandin
    bot: BotProcess

    @property
    def guild(self) -> Guild:
        return self.discord.guild

    def user(self, name: str) -> User:
        return self.discord.user(name)

    def channel_id(self, name: str) -> int:
        return self.guild.channel(name).id


@asynccontextmanager
async def started_world(
    tmp_path: Path,
    guild: Guild | None = None,
    *,
    guilds: list[Guild] | None = None,
    shard_count: int = 1,
    clock: WallClock | None = None,
    **bot_env: str,
) -> AsyncIterator[World]:
    chosen = guilds or ([guild] if guild else None)
    async with DiscordStandin(guilds=chosen, shard_count=shard_count) as standin:
        env = {
            **standin.env(),
            "DISPATCH_LEASE_SECONDS": "3",
            "SCHEDULER_INTERVAL_SECONDS": "1",
            **(clock.env() if clock else {}),
            **bot_env,
        }
        bot = BotProcess(env, tmp_path)
        for each in standin.guilds:
            await bot.run_cli("sync-commands", "--guild", str(each.id))
        await standin.wait_commands(timeout=10)
        await bot.start()
        try:
            await standin.wait_ready(timeout=30)
            yield World(standin, bot)
            bot.assert_alive()
        finally:
            await bot.stop()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with started_world(tmp_path) as w:
        yield w
