"""Command line: ``python -m bot [run|demo|db upgrade|sync-commands|check-config]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.config import Settings
from bot.logs import setup_logging

NO_TOKEN_HELP = """\
Deal Scout needs a Discord bot token to run.

Create an application at https://discord.com/developers/applications, open "Bot", press
"Reset Token" and copy it. Put it in a .env file next to where you run the bot
(DISCORD_TOKEN=...) or export DISCORD_TOKEN in your shell, invite the bot with the
"bot" and "applications.commands" scopes, then run `python -m bot sync-commands` once
and `python -m bot`. To see the whole pipeline work offline without a token, run
`python -m bot demo`.
"""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Deal Scout Discord bot")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    demo = sub.add_parser("demo", help="run the whole pipeline offline on a throwaway SQLite file")
    demo.add_argument("--keep", metavar="PATH", help="keep the demo database at PATH")
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="apply migrations")
    sync = sub.add_parser("sync-commands", help="publish slash commands to Discord")
    sync.add_argument("--guild", type=int, help="copy global commands to this server (instant)")
    sub.add_parser("check-config", help="validate settings and print them without secrets")
    args = parser.parse_args(list(argv))
    args.command = args.command or "run"
    return args


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        sys.exit(f"Invalid configuration:\n{exc}")


async def run_bot(settings: Settings) -> None:
    from bot.client import DealScoutBot, apply_endpoints

    apply_endpoints(settings)
    token = settings.token
    assert token is not None
    async with DealScoutBot(settings) as bot:
        await bot.start(token)


async def sync_commands(settings: Settings, guild_id: int | None) -> int:
    """Log in (no gateway), load the cogs, publish the command tree, and leave."""
    import discord

    from bot.client import DealScoutBot, apply_endpoints

    apply_endpoints(settings)
    token = settings.token
    assert token is not None
    async with DealScoutBot(settings) as bot:
        await bot.login(token)
        guild_id = guild_id or settings.dev_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            bot.tree.copy_global_to(guild=guild)
            synced = await bot.tree.sync(guild=guild)
        else:
            synced = await bot.tree.sync()
        await bot.close()
    where = f"server {guild_id}" if guild_id else "all servers (global)"
    print(f"Synced {len(synced)} commands to {where}.")
    return len(synced)


async def db_upgrade(settings: Settings) -> None:
    from db.migrate import upgrade
    from db.session import make_engine

    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print("Database is up to date.")


def check_config(settings: Settings) -> None:
    shown = settings.model_dump(exclude={"discord_token"})
    shown["discord_token"] = "set" if settings.token else "missing"
    for key, value in sorted(shown.items()):
        print(f"{key.upper()}={value}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    # The demo prints the story itself; logs would only interleave with it.
    setup_logging("WARNING" if args.command == "demo" else settings.log_level)
    if args.command == "demo":
        from bot.demo import run_demo

        asyncio.run(run_demo(keep=args.keep))
    elif args.command == "db":
        asyncio.run(db_upgrade(settings))
    elif args.command == "check-config":
        check_config(settings)
    elif not settings.token:
        sys.exit(NO_TOKEN_HELP)
    elif args.command == "sync-commands":
        asyncio.run(sync_commands(settings, args.guild))
    else:
        try:
            asyncio.run(run_bot(settings))
        except KeyboardInterrupt:
            logging.getLogger(__name__).info("stopped")


if __name__ == "__main__":
    main()
