"""Routed cog tests: real slash commands, buttons and autocompletes through discord.py's own
CommandTree and view store, with no network.

A real :class:`DealScoutBot` (entered with ``async with``, never logged in) gets gateway-shaped
INTERACTION_CREATE payloads through ``ConnectionState.parse_interaction_create``. Everything it
sends back goes through a recording ``AsyncWebhookAdapter`` (interaction callbacks, follow-ups,
edits) or a fake ``bot.http`` (channel posts and DMs from the real senders). The recorder enforces
Discord's server-side rules (respond once, no follow-up before the response, size limits), so a
test fails where Discord would.

ALL private discord.py API used by the tests lives in this module (``_connection``,
``parse_interaction_create``, ``async_context``, the mangled ``http`` methods); discord.py is
pinned to 2.7 in pyproject.toml.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.webhook.async_ import AsyncWebhookAdapter, async_context
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.client import EXTENSIONS, DealScoutBot
from bot.config import Settings
from bot.delivery.render import alert_buttons
from bot.delivery.senders.base import OutgoingAlert, OutgoingDigest, Sender, SendError
from bot.domain.listing import Listing
from bot.ingest.community import MarketplacePublisher
from bot.services import Services, build_services
from db.repositories.listings import ListingRepository
from tests.dbutil import migrated_sqlite

assert discord.version_info[:2] == (2, 7), "the harness uses discord.py 2.7 internals"

APP_ID = 900_000_000_000_000_001
OWNER_ID = 100
GUILD_ID = 500_000_000_000_000_001
GUILD_CHANNEL_ID = 500_000_000_000_000_002
EPHEMERAL = 64

ADMIN_PERMISSIONS = str(discord.Permissions.all().value)
MEMBER_PERMISSIONS = str(
    discord.Permissions(view_channel=True, send_messages=True, read_message_history=True).value
)

_ids = itertools.count(1_200_000_000_000_000_000)


def next_id() -> int:
    return next(_ids)


def user_payload(user_id: int, name: str | None = None) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": f"user{user_id}",
        "discriminator": "0",
        "global_name": name or f"User {user_id}",
        "avatar": None,
    }


def dm_channel_id(user_id: int) -> int:
    return 700_000_000_000_000_000 + user_id


def _now() -> str:
    return datetime.now(UTC).isoformat()


class DiscordRejected(AssertionError):
    """The harness refused something Discord would refuse."""


# --------------------------------------------------------------------------------------------
# What the bot sent
# --------------------------------------------------------------------------------------------


@dataclass
class Reply:
    """One visible message (or autocomplete answer) the bot produced for an interaction."""

    kind: str  # "message" | "update" | "autocomplete" | "deferred"
    content: str | None = None
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    message_id: int | None = None
    choices: list[dict[str, Any]] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    ephemeral_by_defer: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL) or self.ephemeral_by_defer

    @property
    def embed(self) -> dict[str, Any]:
        assert self.embeds, f"no embed in {self!r}"
        return self.embeds[0]

    @property
    def text(self) -> str:
        """Content and every embed's text, for simple ``in`` assertions."""
        parts = [self.content or ""]
        for e in self.embeds:
            parts += [e.get("title", ""), e.get("description", "")]
            for f in e.get("fields", []):
                parts += [f["name"], f["value"]]
            parts.append(e.get("footer", {}).get("text", ""))
        return "\n".join(p for p in parts if p)

    def field(self, name: str, embed: int = 0) -> str:
        for f in self.embeds[embed].get("fields", []):
            if f["name"] == name:
                return str(f["value"])
        raise KeyError(
            f"no field {name!r} in {[f['name'] for f in self.embeds[embed].get('fields', [])]}"
        )

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for row in self.components for c in row.get("components", []) if c["type"] == 2]

    def custom_id(self, label: str) -> str:
        for b in self.buttons:
            if b.get("label") == label:
                return str(b["custom_id"])
        raise KeyError(f"no button {label!r} in {[b.get('label') for b in self.buttons]}")

    @property
    def choice_values(self) -> list[Any]:
        return [c["value"] for c in self.choices]


@dataclass
class Exchange:
    """Everything that happened for one interaction token."""

    interaction_id: int
    token: str
    type: int
    message_id: int | None = None  # the clicked message, for component interactions
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    response_type: int | None = None
    original_message_id: int | None = None
    deferred_ephemeral: bool = False
    followups: int = 0
    replies: list[Reply] = field(default_factory=list)

    @property
    def reply(self) -> Reply:
        """The last visible message (or the autocomplete answer)."""
        visible = [r for r in self.replies if r.kind != "deferred"]
        if not visible:
            raise AssertionError(f"the bot never answered interaction {self.token}: {self.events}")
        return visible[-1]


@dataclass
class Post:
    """A message sent through the REST API (channel alerts, DMs, marketplace posts)."""

    channel_id: int
    message_id: int
    payload: dict[str, Any]

    @property
    def content(self) -> str | None:
        return self.payload.get("content")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.payload.get("embeds") or [])

    @property
    def components(self) -> list[dict[str, Any]]:
        return list(self.payload.get("components") or [])

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        return self.payload.get("allowed_mentions")


def check_message_limits(data: Mapping[str, Any]) -> None:
    """Discord's message limits (reference/discord.md): content, embeds, fields, totals."""
    content = data.get("content")
    if content is not None and len(content) > 2000:
        raise DiscordRejected(f"content is {len(content)} > 2000 characters")
    embeds = data.get("embeds") or []
    if len(embeds) > 10:
        raise DiscordRejected("more than 10 embeds")
    total = 0
    for e in embeds:
        title, desc = e.get("title") or "", e.get("description") or ""
        footer = (e.get("footer") or {}).get("text") or ""
        fields = e.get("fields") or []
        if len(title) > 256 or len(desc) > 4096 or len(footer) > 2048 or len(fields) > 25:
            raise DiscordRejected(f"embed over the limits: {e}")
        for f in fields:
            if not f.get("name") or not f.get("value"):
                raise DiscordRejected(f"embed field needs a name and a value: {f}")
            if len(f["name"]) > 256 or len(f["value"]) > 1024:
                raise DiscordRejected(f"embed field over the limits: {f}")
            total += len(f["name"]) + len(f["value"])
        total += len(title) + len(desc) + len(footer)
    if total > 6000:
        raise DiscordRejected(f"embeds total {total} > 6000 characters")


def _rejected(status: int, code: int, message: str) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason="Bad Request")
    return discord.HTTPException(response, {"code": code, "message": message})  # type: ignore[arg-type]


def _payload_of(
    payload: dict[str, Any] | None, multipart: list[dict[str, Any]] | None
) -> dict[str, Any]:
    if payload is not None:
        return payload
    for part in multipart or []:
        if part.get("name") == "payload_json":
            return dict(json.loads(part["value"]))
    return {}


class RecordingAdapter(AsyncWebhookAdapter):
    """Every interaction response, follow-up and webhook edit lands here instead of Discord."""

    def __init__(self, harness: Harness) -> None:
        super().__init__()
        self.harness = harness

    async def request(
        self,
        route: discord.http.Route,
        session: Any,
        *,
        payload: dict[str, Any] | None = None,
        multipart: list[dict[str, Any]] | None = None,
        files: Any = None,
        params: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        return self.harness._webhook_request(route, _payload_of(payload, multipart))


# --------------------------------------------------------------------------------------------
# The harness
# --------------------------------------------------------------------------------------------


class CapturingSender:
    """Wraps a real sender: records every OutgoingAlert, then lets the real one send it (through
    the fake ``bot.http``), so the exact Discord payload is recorded too."""

    def __init__(self, channel: str, inner: Sender, log: list[OutgoingAlert]) -> None:
        self.channel = channel
        self.inner = inner
        self.log = log

    async def send(self, alert: OutgoingAlert) -> int | None:
        self.log.append(alert)
        return await self.inner.send(alert)

    async def send_digest(self, digest: OutgoingDigest) -> int | None:
        send_digest = getattr(self.inner, "send_digest", None)
        if send_digest is None:
            raise SendError(f"{self.channel} has no digests", permanent=True)
        result: int | None = await send_digest(digest)
        return result

    async def send_test(self, user_id: int, locale: str) -> int | None:
        result: int | None = await self.inner.send_test(user_id, locale)  # type: ignore[attr-defined]
        return result


@dataclass
class FakeWebhook:
    """A channel webhook a user created in Discord (its URL is what they paste)."""

    id: int
    token: str
    channel_id: int
    gone: bool = False

    @property
    def url(self) -> str:
        return f"https://discord.com/api/webhooks/{self.id}/{self.token}"


def _not_found(code: int, message: str) -> discord.NotFound:
    response = SimpleNamespace(status=404, reason="Not Found")
    return discord.NotFound(response, {"code": code, "message": message})  # type: ignore[arg-type]


class Harness:
    def __init__(self, bot: DealScoutBot) -> None:
        self.bot = bot
        self.adapter = RecordingAdapter(self)
        self.exchanges: dict[str, Exchange] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.alerts: list[OutgoingAlert] = []
        self.posts: list[Post] = []
        self.synced: list[tuple[int | None, list[dict[str, Any]]]] = []
        self.names: dict[int, str] = {}
        self._context_channel: dict[str, int] = {}
        self.webhooks: dict[str, FakeWebhook] = {}  # by token

    # ---- lifecycle --------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def running(cls, tmp_path: Path, **overrides: Any) -> AsyncIterator[Harness]:
        """``overrides`` are extra settings (e.g. ``discogs_api_base`` for a stand-in). Feeds
        may live on 127.0.0.1 here: the stand-ins do."""
        overrides.setdefault("feed_allow_private_hosts", True)
        settings = Settings(
            database_url=await migrated_sqlite(tmp_path / "t.db"),
            discord_token=None,
            dispatch_idle_seconds=0.05,
            owner_ids=[OWNER_ID],
            _env_file=None,  # type: ignore[call-arg]
            **overrides,
        )
        bot = DealScoutBot(settings)
        harness = cls(bot)
        async with bot:
            harness._install_fakes()
            bot.services = await build_services(settings, harness._make_senders)
            for extension in EXTENSIONS:
                await bot.load_extension(extension)
            yield harness

    @property
    def services(self) -> Services:
        return self.bot.services

    @property
    def tree(self) -> app_commands.CommandTree[DealScoutBot]:
        return self.bot.tree

    def _make_senders(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> tuple[dict[str, Sender], MarketplacePublisher | None]:
        real, publisher = self.bot.make_senders(sessions)
        wrapped: dict[str, Sender] = {
            name: CapturingSender(name, sender, self.alerts) for name, sender in real.items()
        }
        return wrapped, publisher

    def _install_fakes(self) -> None:
        state = self.bot._connection
        state.application_id = APP_ID
        state.user = discord.ClientUser(state=state, data=user_payload(APP_ID, "Deal Scout"))  # type: ignore[arg-type]
        http: Any = self.bot.http  # the fakes below replace its methods
        # Webhook.from_url(client=bot) takes the client's session; the recording adapter never
        # uses it, but discord.py wants one (a logged-in bot has it).
        http._HTTPClient__session = aiohttp.ClientSession()

        async def send_message(channel_id: int, *, params: Any) -> dict[str, Any]:
            data = _payload_of(params.payload, params.multipart)
            check_message_limits(data)
            message = self._message(int(channel_id), data)
            self.posts.append(Post(int(channel_id), int(message["id"]), data))
            return message

        async def start_private_message(user_id: int) -> dict[str, Any]:
            return {
                "id": str(dm_channel_id(int(user_id))),
                "type": 1,
                "recipients": [user_payload(int(user_id))],
                "last_message_id": None,
            }

        async def bulk_upsert_global_commands(
            application_id: int, payload: list[dict[str, Any]]
        ) -> list[dict[str, Any]]:
            self.synced.append((None, payload))
            return [self._command_payload(p, None) for p in payload]

        async def bulk_upsert_guild_commands(
            application_id: int, guild_id: int, payload: list[dict[str, Any]]
        ) -> list[dict[str, Any]]:
            self.synced.append((int(guild_id), payload))
            return [self._command_payload(p, int(guild_id)) for p in payload]

        http.send_message = send_message
        http.start_private_message = start_private_message
        http.bulk_upsert_global_commands = bulk_upsert_global_commands
        http.bulk_upsert_guild_commands = bulk_upsert_guild_commands

    @staticmethod
    def _command_payload(p: dict[str, Any], guild_id: int | None) -> dict[str, Any]:
        out = dict(p, id=str(next_id()), application_id=str(APP_ID), version=str(next_id()))
        if guild_id is not None:
            out["guild_id"] = str(guild_id)
        return out

    def add_text_channel(
        self, channel_id: int, name: str = "deals", guild_id: int = GUILD_ID
    ) -> None:
        """Put a text channel in the guild cache (as GUILD_CREATE would with the guilds intent)."""
        state = self.bot._connection
        guild = state._get_or_create_unavailable_guild(guild_id)
        state._add_guild(guild)
        data: Any = {
            "id": str(channel_id),
            "type": 0,
            "name": name,
            "position": 0,
            "guild_id": str(guild_id),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
        }
        guild._add_channel(discord.TextChannel(state=state, guild=guild, data=data))

    # ---- posts ---------------------------------------------------------------------------

    def dms_to(self, user_id: int) -> list[Post]:
        return [p for p in self.posts if p.channel_id == dm_channel_id(user_id)]

    def posts_in(self, channel_id: int) -> list[Post]:
        return [p for p in self.posts if p.channel_id == channel_id]

    def add_webhook(self, channel_id: int) -> FakeWebhook:
        """A webhook on ``channel_id``; executing it posts there (see ``posts_in``)."""
        hook = FakeWebhook(next_id(), f"wh{next_id()}".ljust(68, "x"), channel_id)
        self.webhooks[hook.token] = hook
        return hook

    async def deliver(self) -> int:
        """Run the dispatcher until nothing is due (it is not started in the background)."""
        total = 0
        reset = async_context.set(self.adapter)  # webhook alerts go through the adapter
        try:
            while handled := await self.services.dispatcher.run_once():
                total += handled
        finally:
            async_context.reset(reset)
        return total

    # ---- messages --------------------------------------------------------------------------

    def _message(
        self, channel_id: int, data: Mapping[str, Any], message_id: int | None = None
    ) -> dict[str, Any]:
        mid = message_id or next_id()
        message = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "type": 0,
            "content": data.get("content") or "",
            "embeds": list(data.get("embeds") or []),
            "components": list(data.get("components") or []),
            "flags": int(data.get("flags") or 0),
            "author": user_payload(APP_ID, "Deal Scout") | {"bot": True},
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": _now(),
            "edited_timestamp": None,
            "application_id": str(APP_ID),
            "webhook_id": str(APP_ID),
        }
        self.messages[mid] = message
        return message

    def _update_message(self, message_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
        message = self.messages[message_id]
        for key in ("content", "embeds", "components"):
            if key in data:
                message[key] = (
                    data[key] if data[key] is not None else ([] if key != "content" else "")
                )
        message["edited_timestamp"] = _now()
        return message

    def _execute_webhook(
        self, hook: FakeWebhook, route: discord.http.Route, data: dict[str, Any]
    ) -> Any:
        if hook.gone or int(route.webhook_id or 0) != hook.id:
            raise _not_found(10015, "Unknown Webhook")
        if route.method != "POST":
            raise AssertionError(f"unexpected webhook route {route.method} {route.path}")
        check_message_limits(data)
        message = self._message(hook.channel_id, data)
        message["webhook_id"] = str(hook.id)
        self.posts.append(Post(hook.channel_id, int(message["id"]), data))
        return message

    def _webhook_request(self, route: discord.http.Route, data: dict[str, Any]) -> Any:
        token = str(route.webhook_token)
        hook = self.webhooks.get(token)
        if hook is not None:
            return self._execute_webhook(hook, route, data)
        exchange = self.exchanges.get(token)
        if exchange is None:
            raise _rejected(404, 10015, "Unknown Webhook")
        exchange.events.append((f"{route.method} {route.path}", data))
        channel_id = int(self._context_channel.get(token, GUILD_CHANNEL_ID))
        if route.path.endswith("/callback"):
            return self._callback(exchange, data, channel_id)
        if route.method == "POST":
            return self._followup(exchange, data, channel_id)
        if route.method == "PATCH":
            return self._edit(exchange, route, data, channel_id)
        if route.method == "GET":
            mid = exchange.original_message_id
            if mid is None:
                raise _rejected(404, 10008, "Unknown Message")
            return self.messages[mid]
        if route.method == "DELETE":
            return None
        raise AssertionError(f"unexpected webhook route {route.method} {route.path}")

    def _callback(
        self, exchange: Exchange, body: dict[str, Any], channel_id: int
    ) -> dict[str, Any]:
        if exchange.response_type is not None:
            raise _rejected(400, 40060, "Interaction has already been acknowledged.")
        rtype = int(body["type"])
        data = body.get("data") or {}
        exchange.response_type = rtype
        interaction = {"id": str(exchange.interaction_id), "type": exchange.type}
        result: dict[str, Any] = {"interaction": interaction}
        if rtype == 8:  # autocomplete result
            choices = data.get("choices") or []
            if len(choices) > 25 or any(
                not 1 <= len(c["name"]) <= 100 or len(str(c["value"])) > 100 for c in choices
            ):
                raise DiscordRejected(f"bad autocomplete choices: {choices}")
            exchange.replies.append(Reply(kind="autocomplete", choices=choices))
            return result
        if rtype == 4:  # channel message with source
            check_message_limits(data)
            message = self._message(channel_id, data)
            exchange.original_message_id = int(message["id"])
            interaction |= {
                "response_message_id": message["id"],
                "response_message_ephemeral": bool(int(data.get("flags") or 0) & EPHEMERAL),
            }
            result["resource"] = {"type": 4, "message": message}
            exchange.replies.append(self._reply("message", message, data))
            return result
        if rtype == 5:  # deferred channel message ("thinking…")
            flags = int(data.get("flags") or 0)
            message = self._message(channel_id, {"flags": flags | 128})
            exchange.original_message_id = int(message["id"])
            exchange.deferred_ephemeral = bool(flags & EPHEMERAL)
            interaction |= {
                "response_message_id": message["id"],
                "response_message_loading": True,
                "response_message_ephemeral": exchange.deferred_ephemeral,
            }
            result["resource"] = {"type": 5, "message": message}
            exchange.replies.append(Reply(kind="deferred", flags=flags))
            return result
        if rtype in (6, 7):  # deferred update / update message (component interactions)
            if exchange.message_id is None:
                raise DiscordRejected("an update response needs a component interaction")
            if rtype == 7:
                check_message_limits(data)
                message = self._update_message(exchange.message_id, data)
                result["resource"] = {"type": 7, "message": message}
                exchange.replies.append(self._reply("update", message, data))
            exchange.original_message_id = exchange.message_id
            return result
        raise AssertionError(f"unexpected interaction response type {rtype}")

    def _followup(
        self, exchange: Exchange, data: dict[str, Any], channel_id: int
    ) -> dict[str, Any]:
        if exchange.response_type is None:
            raise _rejected(404, 10015, "Unknown Webhook (follow-up before the response)")
        check_message_limits(data)
        first_after_defer = exchange.response_type == 5 and exchange.followups == 0
        exchange.followups += 1
        if first_after_defer:
            # Discord turns the "thinking…" message into the first follow-up.
            assert exchange.original_message_id is not None
            message = self._update_message(exchange.original_message_id, data)
            message["flags"] = int(data.get("flags") or 0) | (
                EPHEMERAL if exchange.deferred_ephemeral else 0
            )
        else:
            message = self._message(channel_id, data)
        reply = self._reply("message", message, data)
        reply.ephemeral_by_defer = first_after_defer and exchange.deferred_ephemeral
        exchange.replies.append(reply)
        return message

    def _edit(
        self, exchange: Exchange, route: discord.http.Route, data: dict[str, Any], channel_id: int
    ) -> dict[str, Any]:
        check_message_limits(data)
        match = re.search(r"/messages/(\d+|@original)$", route.url)
        assert match, route.url
        target = match.group(1)
        mid = exchange.original_message_id if target == "@original" else int(target)
        if mid is None or mid not in self.messages:
            raise _rejected(404, 10008, "Unknown Message")
        message = self._update_message(mid, data)
        reply = self._reply("update", message, data)
        reply.ephemeral_by_defer = exchange.deferred_ephemeral
        exchange.replies.append(reply)
        return message

    @staticmethod
    def _reply(kind: str, message: dict[str, Any], data: Mapping[str, Any]) -> Reply:
        return Reply(
            kind=kind,
            content=message.get("content") or None,
            embeds=list(message.get("embeds") or []),
            components=list(message.get("components") or []),
            flags=int(message.get("flags") or 0) | int(data.get("flags") or 0),
            message_id=int(message["id"]),
            allowed_mentions=data.get("allowed_mentions"),
        )

    # ---- interactions ---------------------------------------------------------------------

    def _interaction(
        self,
        itype: int,
        user_id: int,
        data: dict[str, Any],
        *,
        guild: bool,
        permissions: str,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        iid = next_id()
        token = f"token-{iid}"
        user = user_payload(user_id, self.names.get(user_id))
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(APP_ID),
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "app_permissions": ADMIN_PERMISSIONS,
            "attachment_size_limit": 25 * 1024 * 1024,
            "entitlements": [],
        }
        if guild:
            payload |= {
                "guild_id": str(GUILD_ID),
                "guild_locale": "en-US",
                "guild": {"id": str(GUILD_ID), "locale": "en-US", "features": []},
                "channel_id": str(GUILD_CHANNEL_ID),
                "channel": {
                    "id": str(GUILD_CHANNEL_ID),
                    "type": 0,
                    "guild_id": str(GUILD_ID),
                    "name": "general",
                    "position": 0,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                    "topic": None,
                },
                "member": {
                    "user": user,
                    "roles": [],
                    "joined_at": "2024-01-01T00:00:00+00:00",
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "pending": False,
                    "nick": None,
                    "avatar": None,
                    "permissions": permissions,
                },
                "context": 0,
                "authorizing_integration_owners": {"0": str(GUILD_ID)},
            }
        else:
            dm = dm_channel_id(user_id)
            payload |= {
                "channel_id": str(dm),
                "channel": {"id": str(dm), "type": 1, "recipients": [user]},
                "user": user,
                "context": 1,
                "authorizing_integration_owners": {"1": str(user_id)},
            }
        if message is not None:
            payload["message"] = message
        self._context_channel[token] = int(payload["channel_id"])
        self.exchanges[token] = Exchange(
            interaction_id=iid,
            token=token,
            type=itype,
            message_id=int(message["id"]) if message is not None else None,
        )
        return payload

    async def dispatch(self, payload: dict[str, Any], wait_at_most: float = 10.0) -> Exchange:
        """Hand the payload to discord.py as the gateway would, and wait until every task it
        started (command, view callback, dynamic item) has finished."""
        reset = async_context.set(self.adapter)
        try:
            before = asyncio.all_tasks()
            self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
            await self._settle(before, wait_at_most)
        finally:
            async_context.reset(reset)
        return self.exchanges[payload["token"]]

    async def _settle(self, before: set[asyncio.Task[Any]], wait_at_most: float) -> None:
        prefixes = (
            "CommandTree-invoker",
            "discord-ui-view-dispatch",
            "discord-ui-dynamic-item",
            "discord.py:",
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_at_most
        idle_rounds = 0
        while idle_rounds < 3:
            pending = [
                t
                for t in asyncio.all_tasks() - before
                if not t.done() and t.get_name().startswith(prefixes)
            ]
            if not pending:
                idle_rounds += 1
                await asyncio.sleep(0)
                continue
            idle_rounds = 0
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"interaction tasks still running: {pending}")
            await asyncio.wait(pending, timeout=remaining)

    # ---- helpers the tests use --------------------------------------------------------------

    def _command(self, path: str) -> tuple[list[Any], app_commands.Command[Any, ..., Any]]:
        names = path.split()
        node: Any = self.tree.get_command(names[0])
        if node is None:
            raise KeyError(f"no command /{names[0]}")
        chain = [node]
        for name in names[1:]:
            node = node.get_command(name)
            if node is None:
                raise KeyError(f"no command /{path}")
            chain.append(node)
        if not isinstance(node, app_commands.Command):
            raise KeyError(f"/{path} is a group")
        return chain, node

    def _command_data(
        self, path: str, options: Mapping[str, Any], focused: str | None = None
    ) -> dict[str, Any]:
        chain, command = self._command(path)
        resolved: dict[str, dict[str, Any]] = {}
        leaf: list[dict[str, Any]] = []
        for name, value in options.items():
            if value is None:
                continue
            param = command.get_parameter(name)
            if param is None:
                raise KeyError(f"/{path} has no option {name!r}")
            otype = param.type
            option: dict[str, Any] = {"name": param.display_name, "type": otype.value}
            if name == focused:
                option |= {"value": str(value), "focused": True}
            elif otype is discord.AppCommandOptionType.channel:
                cid = int(value)
                option["value"] = str(cid)
                resolved.setdefault("channels", {})[str(cid)] = {
                    "id": str(cid),
                    "name": "deals",
                    "type": 0,
                    "guild_id": str(GUILD_ID),
                    "permissions": ADMIN_PERMISSIONS,
                }
            elif otype is discord.AppCommandOptionType.attachment:
                aid = next_id()
                filename = value.get("filename", "photo.png")
                option["value"] = str(aid)
                resolved.setdefault("attachments", {})[str(aid)] = {
                    "id": str(aid),
                    "filename": filename,
                    "size": value.get("size", 1234),
                    "url": value.get(
                        "url", f"https://cdn.discordapp.com/attachments/1/{aid}/{filename}"
                    ),
                    "proxy_url": value.get(
                        "url", f"https://media.discordapp.net/attachments/1/{aid}/{filename}"
                    ),
                    "content_type": value.get("content_type", "image/png"),
                }
            else:
                option["value"] = value
            leaf.append(option)
        if focused is not None and focused not in options:
            param = command.get_parameter(focused)
            assert param is not None, focused
            leaf.append(
                {"name": param.display_name, "type": param.type.value, "value": "", "focused": True}
            )
        nested = leaf
        for node in reversed(chain[1:]):
            kind = 1 if isinstance(node, app_commands.Command) else 2
            nested = [{"type": kind, "name": node.name, "options": nested}]
        data: dict[str, Any] = {
            "id": str(next_id()),
            "name": chain[0].name,
            "type": 1,
            "options": nested,
        }
        if resolved:
            data["resolved"] = resolved
        return data

    async def invoke_exchange(
        self,
        user_id: int,
        path: str,
        *,
        guild: bool = True,
        permissions: str = MEMBER_PERMISSIONS,
        **options: Any,
    ) -> Exchange:
        data = self._command_data(path, options)
        return await self.dispatch(
            self._interaction(2, user_id, data, guild=guild, permissions=permissions)
        )

    async def invoke(
        self,
        user_id: int,
        path: str,
        *,
        guild: bool = True,
        permissions: str = MEMBER_PERMISSIONS,
        **options: Any,
    ) -> Reply:
        """Run ``/path`` as ``user_id`` and return what the user finally sees."""
        exchange = await self.invoke_exchange(
            user_id, path, guild=guild, permissions=permissions, **options
        )
        return exchange.reply

    async def autocomplete(
        self,
        user_id: int,
        path: str,
        *,
        focused: str,
        value: str = "",
        guild: bool = True,
        **options: Any,
    ) -> list[Any]:
        """The values offered for option ``focused`` while the user types ``value``."""
        data = self._command_data(path, {**options, focused: value}, focused=focused)
        exchange = await self.dispatch(
            self._interaction(4, user_id, data, guild=guild, permissions=MEMBER_PERMISSIONS)
        )
        return exchange.reply.choice_values

    async def click_message(
        self,
        user_id: int,
        message: dict[str, Any],
        custom_id: str,
        *,
        guild: bool = True,
    ) -> Exchange:
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self._interaction(
            3, user_id, data, guild=guild, permissions=MEMBER_PERMISSIONS, message=message
        )
        return await self.dispatch(payload)

    async def click(
        self,
        user_id: int,
        reply: Reply,
        custom_id_or_label: str,
        *,
        guild: bool = True,
    ) -> Exchange:
        """Click a button on a message the bot sent in answer to an interaction."""
        assert reply.message_id is not None, reply
        message = self.messages[reply.message_id]
        ids = {b.get("label"): b.get("custom_id") for b in reply.buttons}
        custom_id = ids.get(custom_id_or_label, custom_id_or_label)
        return await self.click_message(user_id, dict(message), str(custom_id), guild=guild)

    async def click_post(
        self, user_id: int, post: Post, label: str, *, guild: bool = False
    ) -> Exchange:
        """Click a button on a message the bot posted through REST (an alert DM, say)."""
        message = self.messages[post.message_id]
        custom_id = next(
            b["custom_id"]
            for row in post.components
            for b in row.get("components", [])
            if b.get("label") == label
        )
        return await self.click_message(user_id, dict(message), custom_id, guild=guild)

    # ---- counting through the services -------------------------------------------------------

    async def rule_count(self, user_id: int) -> int:
        return len(await self.services.rules.list(user_id))

    async def listing_count(self) -> int:
        async with self.services.sessions() as session:
            return await ListingRepository(session).count()

    async def listings(self) -> list[Listing]:
        """Every stored listing, newest first."""
        async with self.services.sessions() as session:
            return await ListingRepository(session).recent(1000)

    def alert_message(self, rule_id: int, listing_id: int, user_id: int = 0) -> dict[str, Any]:
        """An alert message as the senders post it (with its two buttons), for click tests."""
        view = alert_buttons(rule_id, listing_id)
        data = {"content": "New match", "components": view.to_components()}
        return dict(self._message(dm_channel_id(user_id), data))

    def all_replies(self) -> list[tuple[Exchange, Reply]]:
        return [(e, r) for e in self.exchanges.values() for r in e.replies]

    def assert_replies_private(self) -> None:
        """Every interaction reply was ephemeral (deferrals included) and can ping nobody."""
        problems = []
        dm_posts = {p.message_id for p in self.posts}
        for _, reply in self.all_replies():
            if reply.kind == "autocomplete":
                continue
            in_own_dm = reply.kind == "update" and reply.message_id in dm_posts
            if not reply.ephemeral and not in_own_dm:  # paging a digest DM edits that DM
                problems.append(f"not ephemeral: {reply}")
            if reply.kind != "deferred" and not pings_nobody(reply.allowed_mentions):
                problems.append(f"allowed_mentions can ping: {reply}")
        assert not problems, "\n".join(problems)


def pings_nobody(allowed: Mapping[str, Any] | None) -> bool:
    return (
        allowed is not None
        and allowed.get("parse") == []
        and not allowed.get("users")
        and not allowed.get("roles")
    )
