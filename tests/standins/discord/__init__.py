"""A faithful local Discord (gateway + REST) for end-to-end tests of the bot.

See :mod:`.driver` for the test API and ``tests/standins/test_discord_standin.py`` for examples.
"""

from .driver import DiscordStandin
from .interactions import ClientWouldRefuse
from .models import (
    Channel,
    ChannelType,
    Guild,
    Member,
    Overwrite,
    Perm,
    Role,
    User,
    default_guild,
    guild_id_on_shard,
    make_user,
    shard_for_guild,
)
from .state import (
    InteractionRecord,
    InteractionResponse,
    ModalRecord,
    RequestRecord,
    StoredMessage,
    Upload,
    Violation,
    Webhook,
)

__all__ = [
    "Channel",
    "ChannelType",
    "ClientWouldRefuse",
    "DiscordStandin",
    "Guild",
    "InteractionRecord",
    "InteractionResponse",
    "Member",
    "ModalRecord",
    "Overwrite",
    "Perm",
    "RequestRecord",
    "Role",
    "StoredMessage",
    "Upload",
    "User",
    "Violation",
    "Webhook",
    "default_guild",
    "guild_id_on_shard",
    "make_user",
    "shard_for_guild",
]
