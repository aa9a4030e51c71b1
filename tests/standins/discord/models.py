"""World fixtures for the Discord stand-in: users, guilds, roles, channels and their JSON shapes.

The payload builders here produce the same field sets Discord's API documentation lists (and
that discord.py 2.7 reads with ``data['...']``), so the real bot parses them exactly as it
parses Discord. Permission arithmetic follows Discord's documented algorithm (base permissions
from @everyone + roles, owner/ADMINISTRATOR short-circuit, then channel overwrites), because
the bot's authorisation logic (``default_member_permissions``, MANAGE_GUILD checks) depends on it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Fixture ids are deterministic within one process (a fixed 2024 timestamp plus a counter), so
# ids in failure messages are stable between runs of the same test order.
_FIXTURE_BASE_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
_fixture_counter = itertools.count(1)


def snowflake_at(ms: int, increment: int = 0) -> int:
    """Build a snowflake for a unix-millisecond timestamp (worker 1, process 0)."""
    return ((ms - DISCORD_EPOCH_MS) << 22) | (1 << 17) | (increment & 0xFFF)


def fixture_id() -> int:
    """Next deterministic snowflake for a fixture entity (user, guild, role, channel)."""
    n = next(_fixture_counter)
    return snowflake_at(_FIXTURE_BASE_MS + n * 1000, n)


def guild_id_on_shard(shard_id: int, shard_count: int) -> int:
    """A fresh guild id that Discord would route to ``shard_id`` ((id >> 22) % shard_count)."""
    n = next(_fixture_counter)
    ms = _FIXTURE_BASE_MS + n * 1000
    ms += (shard_id - (ms - DISCORD_EPOCH_MS)) % shard_count
    return snowflake_at(ms, n)


def shard_for_guild(guild_id: int, shard_count: int) -> int:
    """Discord's documented sharding formula."""
    return (guild_id >> 22) % shard_count


class SnowflakeFactory:
    """Time-based snowflakes for runtime entities (messages, interactions, attachments)."""

    def __init__(self) -> None:
        self._increment = 0
        self._last = 0

    def next(self) -> int:
        ms = int(time.time() * 1000)
        self._increment = (self._increment + 1) & 0xFFF
        value = snowflake_at(ms, self._increment)
        if value <= self._last:  # keep ids strictly increasing even within one millisecond
            value = self._last + 1
        self._last = value
        return value


def iso(ts: float | None = None) -> str:
    """Discord's ISO8601 timestamp format (microseconds, explicit +00:00)."""
    when = dt.datetime.fromtimestamp(time.time() if ts is None else ts, dt.UTC)
    return when.isoformat(timespec="microseconds")


class Perm:
    """Permission bits from Discord's table (the ones the stand-in reasons about)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EXTERNAL_APPS = 1 << 50
    ALL = (1 << 51) - 1

    #: What a fresh server grants @everyone (text-relevant subset).
    DEFAULT_EVERYONE = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | MENTION_EVERYONE
        | USE_EXTERNAL_EMOJIS
        | CONNECT
        | SPEAK
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | SEND_MESSAGES_IN_THREADS
        | USE_EXTERNAL_APPS
    )
    #: What a typical bot invite link grants the bot's managed role.
    DEFAULT_BOT = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | ADD_REACTIONS
        | USE_EXTERNAL_EMOJIS
        | MANAGE_WEBHOOKS
        | SEND_MESSAGES_IN_THREADS
    )
    #: ``app_permissions`` Discord reports for a DM with the bot user.
    BOT_DM = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | ADD_REACTIONS
        | MENTION_EVERYONE
        | USE_EXTERNAL_EMOJIS
        | USE_APPLICATION_COMMANDS
    )


class ChannelType:
    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    TEXT_BASED = frozenset({0, 1, 2, 5, 10, 11, 12})


@dataclass(eq=False)
class User:
    """A Discord user account. ``dms_open`` mirrors the user's privacy setting."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    locale: str = "en-US"
    avatar: str | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": self.avatar,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
            "primary_guild": None,
            "collectibles": None,
        }
        if self.bot:
            data["bot"] = True
        return data

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(eq=False)
class Role:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass(eq=False)
class Overwrite:
    """A channel permission overwrite; ``type`` 0 = role, 1 = member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass(eq=False)
class Channel:
    id: int
    name: str | None
    type: int = ChannelType.GUILD_TEXT
    guild_id: int | None = None
    position: int = 0
    topic: str | None = None
    parent_id: int | None = None
    overwrites: list[Overwrite] = field(default_factory=list)
    recipient_id: int | None = None  # DM channels only
    nsfw: bool = False
    last_message_id: int | None = None

    @property
    def is_dm(self) -> bool:
        return self.type == ChannelType.DM

    @property
    def is_text_based(self) -> bool:
        return self.type in ChannelType.TEXT_BASED

    def payload(self, *, recipients: list[User] | None = None) -> dict[str, Any]:
        last = str(self.last_message_id) if self.last_message_id else None
        if self.is_dm:
            return {
                "id": str(self.id),
                "type": self.type,
                "last_message_id": last,
                "flags": 0,
                "recipients": [u.payload() for u in recipients or []],
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [o.payload() for o in self.overwrites],
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "nsfw": self.nsfw,
            "flags": 0,
        }
        if self.type != ChannelType.GUILD_CATEGORY:
            data.update(topic=self.topic, last_message_id=last, rate_limit_per_user=0)
        return data

    def partial_payload(self, permissions: int | None = None) -> dict[str, Any]:
        """The partial channel shape used in interactions' ``channel`` and ``resolved.channels``."""
        data = self.payload()
        data.pop("permission_overwrites", None)
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class Member:
    user: User
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=lambda: iso(_FIXTURE_BASE_MS / 1000))

    def payload(self, *, permissions: int | None = None, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in self.roles],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class Guild:
    """A server. Helpers name the roles tests care about: ``owner``, ``admin``, ``plain``."""

    id: int
    name: str
    owner_id: int
    roles: list[Role] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    preferred_locale: str = "en-US"
    features: list[str] = field(default_factory=list)

    # -- lookups -----------------------------------------------------------------------------
    @property
    def everyone(self) -> Role:
        return self.role(self.id)

    def role(self, key: int | str) -> Role:
        for role in self.roles:
            if role.id == key or role.name == key:
                return role
        raise KeyError(f"guild {self.name!r} has no role {key!r}")

    def channel(self, key: int | str) -> Channel:
        for channel in self.channels:
            if channel.id == key or channel.name == key:
                return channel
        raise KeyError(f"guild {self.name!r} has no channel {key!r}")

    def member(self, user: int | User) -> Member | None:
        user_id = user if isinstance(user, int) else user.id
        for member in self.members:
            if member.user.id == user_id:
                return member
        return None

    @property
    def owner(self) -> User:
        member = self.member(self.owner_id)
        assert member is not None, "guild owner must be a member"
        return member.user

    @property
    def admin(self) -> User:
        """First non-owner human member holding MANAGE_GUILD (via roles)."""
        for member in self.members:
            if member.user.bot or member.user.id == self.owner_id:
                continue
            if self.base_permissions(member.user.id) & Perm.MANAGE_GUILD:
                return member.user
        raise LookupError(f"guild {self.name!r} has no admin member")

    @property
    def plain(self) -> list[User]:
        """Human members with no role beyond @everyone (and not the owner)."""
        return [
            m.user
            for m in self.members
            if not m.user.bot and m.user.id != self.owner_id and not m.roles
        ]

    @property
    def text_channels(self) -> list[Channel]:
        return [c for c in self.channels if c.type == ChannelType.GUILD_TEXT]

    # -- permissions (Discord's documented algorithm) -----------------------------------------
    def base_permissions(self, user_id: int) -> int:
        if user_id == self.owner_id:
            return Perm.ALL
        member = self.member(user_id)
        if member is None:
            return 0
        perms = self.everyone.permissions
        for role_id in member.roles:
            perms |= self.role(role_id).permissions
        if perms & Perm.ADMINISTRATOR:
            return Perm.ALL
        return perms

    def channel_permissions(self, user_id: int, channel: Channel) -> int:
        perms = self.base_permissions(user_id)
        if perms & Perm.ADMINISTRATOR or user_id == self.owner_id:
            return Perm.ALL
        member = self.member(user_id)
        if member is None:
            return 0
        overwrites = {(o.type, o.id): o for o in channel.overwrites}
        everyone = overwrites.get((0, self.id))
        if everyone:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.roles:
            ow = overwrites.get((0, role_id))
            if ow:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        own = overwrites.get((1, user_id))
        if own:
            perms = (perms & ~own.deny) | own.allow
        if not perms & Perm.VIEW_CHANNEL:
            return 0
        return perms

    # -- payloads -------------------------------------------------------------------------------
    def partial_payload(self) -> dict[str, Any]:
        """The ``guild`` object Discord puts in interactions."""
        return {"id": str(self.id), "locale": self.preferred_locale, "features": self.features}

    def create_payload(self, *, include_members: bool, bot_user_id: int) -> dict[str, Any]:
        """GUILD_CREATE body. Without the presences intent Discord only sends the bot's member."""
        members = [m for m in self.members if include_members or m.user.id == bot_user_id]
        system = next(iter(self.text_channels), None)
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "icon_hash": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "widget_enabled": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles],
            "emojis": [],
            "features": self.features,
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(system.id) if system else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.preferred_locale,
            "public_updates_channel_id": None,
            "max_video_channel_users": 25,
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": False,
            "safety_alerts_channel_id": None,
            "incidents_data": None,
            "joined_at": iso(_FIXTURE_BASE_MS / 1000),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": [m.payload() for m in members],
            "channels": [c.payload() for c in self.channels],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "lazy": True,
        }


def make_user(username: str, *, bot: bool = False, global_name: str | None = None) -> User:
    return User(
        id=fixture_id(), username=username, global_name=global_name or username.title(), bot=bot
    )


PLAIN_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan")


def default_guild(
    name: str = "Deal Scout Test Server",
    *,
    id: int | None = None,
    plain_members: int = 6,
    owner: User | None = None,
    admin: User | None = None,
    plain: list[User] | None = None,
) -> Guild:
    """The standard test server.

    Roles: @everyone (Discord's defaults), "Admin" (MANAGE_GUILD, not ADMINISTRATOR, so tests
    exercise the exact permission the bot checks) and "Moderator" (MANAGE_MESSAGES).
    Channels: a "Text Channels" category holding "general", "alerts" and "marketplace".
    Members: owner, one admin and ``plain_members`` plain users (all humans).
    """
    guild_id = id if id is not None else fixture_id()
    owner = owner or make_user("olivia", global_name="Olivia Owner")
    admin = admin or make_user("adam", global_name="Adam Admin")
    if plain is None:
        names = [PLAIN_NAMES[i % len(PLAIN_NAMES)] for i in range(plain_members)]
        plain = [make_user(n) for n in names]
    admin_role = Role(id=fixture_id(), name="Admin", permissions=Perm.MANAGE_GUILD, position=2)
    mod_role = Role(id=fixture_id(), name="Moderator", permissions=Perm.MANAGE_MESSAGES, position=1)
    everyone = Role(id=guild_id, name="@everyone", permissions=Perm.DEFAULT_EVERYONE, position=0)
    category = Channel(id=fixture_id(), name="Text Channels", type=ChannelType.GUILD_CATEGORY)
    channels = [category]
    for pos, (cname, topic) in enumerate(
        [
            ("general", "Chat"),
            ("alerts", "Deal alerts posted by the bot"),
            ("marketplace", "Listings for sale"),
        ]
    ):
        channels.append(
            Channel(
                id=fixture_id(),
                name=cname,
                topic=topic,
                position=pos,
                parent_id=category.id,
            )
        )
    for ch in channels:
        ch.guild_id = guild_id
    members = [Member(user=owner), Member(user=admin, roles=[admin_role.id])]
    members += [Member(user=u) for u in plain]
    return Guild(
        id=guild_id,
        name=name,
        owner_id=owner.id,
        roles=[everyone, mod_role, admin_role],
        channels=channels,
        members=members,
    )


def iter_components(components: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    """Walk every component, descending into rows, sections, containers and labels."""
    for comp in components or []:
        if not isinstance(comp, dict):
            continue
        yield comp
        yield from iter_components(comp.get("components"))
        for key in ("component", "accessory"):
            child = comp.get(key)
            if isinstance(child, dict):
                yield from iter_components([child])
