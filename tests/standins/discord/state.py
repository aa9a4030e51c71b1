"""The stand-in's memory: who exists, what the bot posted, which interactions are open.

REST handlers and the gateway mutate this; the test driver only reads it and waits on it.
Every mutation calls :meth:`StandinState.bump`, which wakes any ``wait_for`` so tests never
sleep-poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .limits import FLAG_EPHEMERAL, FLAG_LOADING
from .models import (
    Channel,
    ChannelType,
    Guild,
    Member,
    Perm,
    Role,
    SnowflakeFactory,
    User,
    iso,
    iter_components,
)

T = TypeVar("T")

INTERACTION_TOKEN_TTL = 15 * 60.0


class Clock:
    """Wall/monotonic time with an offset so tests can jump past Discord's windows.

    Only Discord-side deadlines (3 s ack, 15 min token, nonce window) use this; rate-limit
    windows use real time because discord.py really sleeps on them.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Violation:
    """Something Discord would have rejected or punished. ``assert_clean`` fails on these."""

    kind: str
    detail: str
    method: str = ""
    path: str = ""

    def __str__(self) -> str:
        where = f" [{self.method} {self.path}]" if self.method else ""
        return f"{self.kind}{where}: {self.detail}"


@dataclass
class RequestRecord:
    """One REST call as the stand-in saw it.

    ``route`` is the matched route key, e.g. ``"POST /channels/{channel_id}/messages"``.
    """

    method: str
    path: str
    route: str | None
    query: dict[str, str]
    json: Any
    files: list[tuple[str, str, bytes]]
    status: int = 0
    response: Any = None
    at: float = field(default_factory=time.time)


@dataclass(eq=False)
class StoredMessage:
    """A message the stand-in holds, kept current through edits (``history`` has older versions)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: dict[str, Any]
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    nonce: str | int | None = None
    tts: bool = False
    type: int = 0
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    interaction_user_id: int | None = None
    message_reference: dict[str, Any] | None = None
    created_at: str = field(default_factory=iso)
    edited_at: str | None = None
    deleted: bool = False
    reactions: list[str] = field(default_factory=list)  # emoji the bot reacted with
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def author_id(self) -> int:
        return int(self.author["id"])

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & FLAG_LOADING)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "content": self.content,
            "author": self.author,
            "attachments": self.attachments,
            "embeds": self.embeds,
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": self.tts,
            "timestamp": self.created_at,
            "edited_timestamp": self.edited_at,
            "flags": self.flags,
            "components": self.components,
        }
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = self.interaction_metadata
        if self.message_reference is not None:
            data["message_reference"] = self.message_reference
        if self.reactions:
            data["reactions"] = [
                {
                    "count": 1,
                    "count_details": {"burst": 0, "normal": 1},
                    "me": True,
                    "me_burst": False,
                    "burst_colors": [],
                    "emoji": {"id": None, "name": e},
                }
                for e in self.reactions
            ]
        return data

    # -- conveniences for assertions -----------------------------------------------------------
    @property
    def text(self) -> str:
        """Content plus every embed's and text display's visible text, newline-joined."""
        parts = [self.content] if self.content else []
        for embed in self.embeds:
            for key in ("title", "description"):
                if embed.get(key):
                    parts.append(embed[key])
            for fld in embed.get("fields") or []:
                parts += [fld.get("name", ""), fld.get("value", "")]
            if (embed.get("footer") or {}).get("text"):
                parts.append(embed["footer"]["text"])
            if (embed.get("author") or {}).get("name"):
                parts.append(embed["author"]["name"])
        for comp in iter_components(self.components):
            if comp.get("type") == 10:
                parts.append(comp.get("content") or "")
        return "\n".join(parts)

    def iter_components(self) -> list[dict[str, Any]]:
        return list(iter_components(self.components))

    def component(self, custom_id: str) -> dict[str, Any] | None:
        for comp in iter_components(self.components):
            if comp.get("custom_id") == custom_id:
                return comp
        return None

    @property
    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for c in iter_components(self.components) if c.get("custom_id")]

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in iter_components(self.components) if c.get("type") == 2]

    def __repr__(self) -> str:
        return (
            f"<StoredMessage id={self.id} channel={self.channel_id} flags={self.flags} "
            f"content={self.content[:60]!r} embeds={len(self.embeds)} components={self.custom_ids}>"
        )


@dataclass(eq=False)
class ModalRecord:
    """A modal the bot opened (callback type 9) that the user has not submitted yet."""

    interaction: InteractionRecord
    data: dict[str, Any]
    submitted: bool = False

    @property
    def custom_id(self) -> str:
        return str(self.data.get("custom_id"))

    @property
    def title(self) -> str:
        return str(self.data.get("title"))

    def inputs(self) -> list[dict[str, Any]]:
        """The input components (text inputs, selects, uploads) with their custom ids."""
        return [
            c
            for c in iter_components(self.data.get("components"))
            if c.get("type") in (3, 4, 5, 6, 7, 8, 19)
        ]


@dataclass
class InteractionResponse:
    """What the user ends up seeing for an interaction's initial response."""

    type: int
    message: StoredMessage | None = None
    modal: ModalRecord | None = None
    choices: list[dict[str, Any]] | None = None

    def _msg(self) -> StoredMessage:
        if self.message is None:
            raise AttributeError(f"interaction response type {self.type} carries no message")
        return self.message

    @property
    def content(self) -> str:
        return self._msg().content

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self._msg().embeds

    @property
    def components(self) -> list[dict[str, Any]]:
        return self._msg().components

    @property
    def flags(self) -> int:
        return self._msg().flags

    @property
    def ephemeral(self) -> bool:
        return self._msg().ephemeral

    @property
    def text(self) -> str:
        return self._msg().text


@dataclass(eq=False)
class InteractionRecord:
    """An interaction the stand-in dispatched, and everything the bot did with its token."""

    id: int
    token: str
    type: int
    user: User
    guild_id: int | None
    channel_id: int
    payload: dict[str, Any]
    state: StandinState
    created_at: float  # Clock.monotonic() at creation
    delivered_at: float | None = None  # Clock.monotonic() when written to the socket
    callback: dict[str, Any] | None = None
    callback_type: int | None = None
    original: StoredMessage | None = None
    followups: list[StoredMessage] = field(default_factory=list)
    modal: ModalRecord | None = None
    choices: list[dict[str, Any]] | None = None
    source_message: StoredMessage | None = None  # component/modal-from-component origin
    focused_option_type: int | None = None

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    def token_expired(self) -> bool:
        return self.state.clock.monotonic() - self.created_at > INTERACTION_TOKEN_TTL

    async def response(self, timeout: float = 5.0) -> InteractionResponse:
        """The initial response as the user sees it.

        A deferred reply (type 5) resolves once the bot edits @original (or sends the
        follow-up that Discord turns into that edit); a deferred update (type 6) returns the
        component's message as it currently stands.
        """

        def ready() -> InteractionResponse | None:
            t = self.callback_type
            if t is None:
                return None
            if t in (4, 6, 7):
                return InteractionResponse(type=t, message=self.original)
            if t == 5:
                if self.original is not None and not self.original.loading:
                    return InteractionResponse(type=t, message=self.original)
                return None
            if t == 8:
                return InteractionResponse(type=t, choices=self.choices)
            if t == 9:
                return InteractionResponse(type=t, modal=self.modal)
            return InteractionResponse(type=t)

        what = f"the bot's response to interaction {self.id} ({self.describe()})"
        if self.callback_type == 5:
            what += " (deferred; waiting for edit of @original)"
        return await self.state.wait_for(ready, timeout, what)

    async def wait_followups(self, count: int = 1, timeout: float = 5.0) -> list[StoredMessage]:
        return await self.state.wait_for(
            lambda: list(self.followups) if len(self.followups) >= count else None,
            timeout,
            f"{count} follow-up(s) to interaction {self.id}",
        )

    def describe(self) -> str:
        data = self.payload.get("data") or {}
        kind = {2: "command", 3: "component", 4: "autocomplete", 5: "modal submit"}.get(self.type)
        return f"{kind} {data.get('name') or data.get('custom_id')!r} by {self.user.username}"


@dataclass(eq=False)
class Webhook:
    """A channel webhook (``POST /webhooks/{id}/{token}``)."""

    id: int
    token: str
    channel_id: int
    guild_id: int | None
    name: str
    gone: bool = False

    @property
    def url(self) -> str:
        """The URL as Discord shows it (the shape discord.py's ``Webhook.from_url`` accepts)."""
        return f"https://discord.com/api/webhooks/{self.id}/{self.token}"

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "type": 1,
            "guild_id": str(self.guild_id) if self.guild_id else None,
            "channel_id": str(self.channel_id),
            "name": self.name,
            "avatar": None,
            "token": self.token,
            "application_id": None,
        }


@dataclass
class Upload:
    """A file a simulated user attaches (to a command option or a message)."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"
    description: str | None = None


def random_token(prefix: str, length: int = 80) -> str:
    """URL-safe token; Discord's interaction/webhook tokens are long opaque strings."""
    body = secrets.token_urlsafe(length)[:length].replace("-", "A").replace("_", "b")
    return (prefix + body)[: max(length, len(prefix) + 20)]


class StandinState:
    """Registry of the simulated world plus everything recorded about the bot's behaviour."""

    def __init__(self, *, bot_user: User, application_name: str, owner: User) -> None:
        self.ids = SnowflakeFactory()
        self.clock = Clock()
        self.bot_user = bot_user
        self.application_name = application_name
        self.app_owner = owner
        self.users: dict[int, User] = {bot_user.id: bot_user, owner.id: owner}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.dm_by_user: dict[int, Channel] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.channel_log: dict[int, list[StoredMessage]] = {}
        self.nonces: dict[tuple[int, int, str], tuple[float, StoredMessage]] = {}
        self.nonce_replays: list[StoredMessage] = []
        self.files: dict[int, tuple[str, bytes, str]] = {}
        self.commands: dict[int | None, dict[tuple[str, int], dict[str, Any]]] = {}
        self.command_ids: dict[tuple[int | None, str, int], int] = {}
        self.command_syncs: list[tuple[int | None, list[dict[str, Any]]]] = []
        self.interactions: dict[int, InteractionRecord] = {}
        self.interactions_by_token: dict[str, InteractionRecord] = {}
        self.modals: list[ModalRecord] = []
        self.webhooks: dict[int, Webhook] = {}
        self.closed_dms: set[int] = set()
        self.dm_errors: dict[int, tuple[int, int, str]] = {}
        self.dm_attempts: Counter[int] = Counter()
        self.violations: list[Violation] = []
        self.requests: list[RequestRecord] = []
        self.unknown_routes: list[RequestRecord] = []
        self.presence: dict[str, Any] | None = None
        self._changed = asyncio.Event()

    # -- change notification -------------------------------------------------------------------
    def bump(self) -> None:
        """Wake every waiter; they re-check their predicate."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                detail = ""
                if self.violations:
                    detail = "\nviolations so far:\n  " + "\n  ".join(map(str, self.violations))
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}{detail}")
            event = self._changed
            # Wake on the next change, or re-check soon anyway (cheap, and robust to state
            # that changes without a bump).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 0.25))

    def violate(self, kind: str, detail: str, method: str = "", path: str = "") -> None:
        self.violations.append(Violation(kind, detail, method, path))
        self.bump()

    # -- world registry -------------------------------------------------------------------------
    def add_user(self, user: User) -> User:
        self.users.setdefault(user.id, user)
        return self.users[user.id]

    def add_guild(self, guild: Guild, *, bot_permissions: int) -> None:
        """Register a guild and put the bot in it (managed role + member), as an invite would."""
        self.guilds[guild.id] = guild
        if guild.member(self.bot_user) is None:
            role = Role(
                id=self.ids.next(),
                name=self.application_name,
                permissions=bot_permissions,
                position=len(guild.roles),
                managed=True,
                bot_id=self.bot_user.id,
            )
            guild.roles.append(role)
            guild.members.append(Member(user=self.bot_user, roles=[role.id]))
        for member in guild.members:
            self.add_user(member.user)
        for channel in guild.channels:
            channel.guild_id = guild.id
            self.channels[channel.id] = channel

    def user(self, key: int | str | User) -> User:
        if isinstance(key, User):
            return self.users.get(key.id, key)
        for user in self.users.values():
            if user.id == key or user.username == key:
                return user
        raise KeyError(f"unknown user {key!r}")

    def mutual_guilds(self, user_id: int) -> list[Guild]:
        return [g for g in self.guilds.values() if g.member(user_id) is not None]

    def dm_channel(self, user_id: int) -> Channel:
        """The one DM channel between the bot and ``user_id`` (created on first use)."""
        channel = self.dm_by_user.get(user_id)
        if channel is None:
            channel = Channel(
                id=self.ids.next(), name=None, type=ChannelType.DM, recipient_id=user_id
            )
            self.dm_by_user[user_id] = channel
            self.channels[channel.id] = channel
        return channel

    def channel_payload(self, channel: Channel) -> dict[str, Any]:
        if channel.is_dm:
            assert channel.recipient_id is not None
            return channel.payload(recipients=[self.users[channel.recipient_id]])
        return channel.payload()

    def bot_permissions_in(self, channel: Channel) -> int:
        if channel.is_dm:
            return Perm.BOT_DM
        guild = self.guilds[channel.guild_id]  # type: ignore[index]
        return guild.channel_permissions(self.bot_user.id, channel)

    # -- messages ------------------------------------------------------------------------------
    def store_message(self, message: StoredMessage) -> StoredMessage:
        self.messages[message.id] = message
        self.channel_log.setdefault(message.channel_id, []).append(message)
        channel = self.channels.get(message.channel_id)
        if channel is not None:
            channel.last_message_id = message.id
        self.bump()
        return message

    def bot_author(self) -> dict[str, Any]:
        return self.bot_user.payload()

    def store_file(self, filename: str, data: bytes, content_type: str) -> int:
        att_id = self.ids.next()
        self.files[att_id] = (filename, data, content_type)
        return att_id

    # -- commands ---------------------------------------------------------------------------
    def command_list(self, guild_id: int | None) -> list[dict[str, Any]]:
        return list(self.commands.get(guild_id, {}).values())

    def find_command(
        self, name: str, guild_id: int | None, ctype: int = 1
    ) -> dict[str, Any] | None:
        """Guild-scoped command first, then global — how the Discord client lists them."""
        if guild_id is not None:
            found = self.commands.get(guild_id, {}).get((name, ctype))
            if found is not None:
                return found
        return self.commands.get(None, {}).get((name, ctype))

    # -- interactions ---------------------------------------------------------------------------
    def register_interaction(self, record: InteractionRecord) -> None:
        self.interactions[record.id] = record
        self.interactions_by_token[record.token] = record

    def open_modal(self, user_id: int, custom_id: str | None) -> ModalRecord | None:
        for modal in reversed(self.modals):
            if modal.submitted or modal.interaction.user.id != user_id:
                continue
            if custom_id is None or modal.custom_id == custom_id:
                return modal
        return None
