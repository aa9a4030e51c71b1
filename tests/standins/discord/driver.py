"""Test-facing driver: start the stand-in, play users, observe what the bot did.

Usage (pytest-asyncio)::

    async with DiscordStandin() as standin:
        proc = start_bot(env={**os.environ, **standin.env(), "DATABASE_URL": ...})
        await standin.wait_ready()
        ix = await standin.invoke(standin.guild.plain[0], "alert create", options={"query": "bike"})
        reply = await ix.response()
        assert reply.ephemeral and "saved" in reply.content
        standin.assert_clean()

The stand-in runs inside the test's event loop on 127.0.0.1 (one free port serves REST, the
gateway websocket and the attachment "CDN"), so it needs nothing from the bot except the three
environment variables in :meth:`DiscordStandin.env`.
"""

from __future__ import annotations

import base64
import secrets
from collections import Counter
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from . import limits
from .errors import ApiError
from .gateway import GatewayServer
from .interactions import ClientWouldRefuse, InteractionFactory
from .models import Channel, Guild, Perm, User, default_guild, fixture_id, make_user
from .ratelimits import (
    Fault,
    pattern_matches,
    too_many_requests_body,
    too_many_requests_headers,
)
from .rest import RestServer, serve_attachment
from .state import (
    InteractionRecord,
    RequestRecord,
    StandinState,
    StoredMessage,
    Upload,
    Violation,
    Webhook,
)

_DEFAULT: Any = object()

PRIVILEGED = {"members": 1 << 1, "presences": 1 << 8, "message_content": 1 << 15}


class DiscordStandin:
    """A local Discord (gateway + REST) for one bot application.

    Args:
        guilds: servers the bot is in (default: one :func:`default_guild`).
        users: extra users who share no server with the bot.
        shard_count: what ``GET /gateway/bot`` recommends.
        heartbeat_interval: seconds, sent in HELLO (small keeps tests fast but real).
        privileged_intents: names from ``members``/``presences``/``message_content`` enabled
            for the app in the "developer portal"; others close the gateway with 4014.
        ack_deadline: seconds the bot has for its initial interaction response.
        nonce_window: seconds during which ``enforce_nonce`` deduplicates message creates.
        route_limits: ``{"POST /channels/{channel_id}/messages": (limit, per_seconds)}``.
        default_route_limit: bucket for routes not in ``route_limits`` (5 per 1 s: Discord's
            counts on a compressed clock, so discord.py's pre-emptive waits really happen).
        global_limit: requests per second per bot (interaction/webhook routes exempt).
        invalid_request_limit: 401/403/429 answers per 10 min before a "Cloudflare ban".
        identify_spacing: if set, seconds required between IDENTIFYs (max_concurrency 1);
            off by default because discord.py already sleeps 5 s between shard IDENTIFYs.
        heartbeat_grace: slack on top of 2 x heartbeat_interval before a silent connection
            is closed with 4009 and recorded as ``heartbeat_timeout``.
    """

    def __init__(
        self,
        guilds: list[Guild] | None = None,
        users: list[User] | None = None,
        *,
        shard_count: int = 1,
        heartbeat_interval: float = 1.0,
        application_name: str = "Deal Scout",
        bot_permissions: int = Perm.DEFAULT_BOT,
        privileged_intents: Iterable[str] = (),
        ack_deadline: float = 3.0,
        nonce_window: float = 300.0,
        route_limits: dict[str, tuple[int, float]] | None = None,
        default_route_limit: tuple[int, float] = (5, 1.0),
        global_limit: int = 50,
        invalid_request_limit: int = 10_000,
        identify_spacing: float | None = None,
        heartbeat_grace: float = 5.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.guilds = guilds if guilds is not None else [default_guild()]
        owner = self.guilds[0].owner if self.guilds else make_user("developer")
        self.bot_user = User(
            id=fixture_id(),
            username=application_name.lower().replace(" ", ""),
            global_name=application_name,
            bot=True,
        )
        self.token = _make_token(self.bot_user.id)
        self.state = StandinState(
            bot_user=self.bot_user, application_name=application_name, owner=owner
        )
        for guild in self.guilds:
            self.state.add_guild(guild, bot_permissions=bot_permissions)
        for user in users or []:
            self.state.add_user(user)
        intents = 0
        for name in privileged_intents:
            intents |= PRIVILEGED[name]
        self.gateway = GatewayServer(
            self.state,
            token=self.token,
            heartbeat_interval_ms=int(heartbeat_interval * 1000),
            allowed_privileged_intents=intents,
            identify_spacing=identify_spacing,
            heartbeat_grace=heartbeat_grace,
        )
        self.gateway.on_sent = self._on_sent
        self.rest = RestServer(
            self.state,
            self.gateway,
            token=self.token,
            shard_count=shard_count,
            ack_deadline=ack_deadline,
            nonce_window=nonce_window,
            route_limits=route_limits or {},
            default_route_limit=default_route_limit,
            global_limit=global_limit,
            invalid_request_limit=invalid_request_limit,
        )
        self.factory = InteractionFactory(self.state)
        self.host = host
        self.port = 0
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> DiscordStandin:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/", self.gateway.handle)
        app.router.add_get("/resume", self.gateway.handle)
        app.router.add_route("*", "/api/{tail:.*}", self.rest.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        app.router.add_get(
            "/ephemeral-attachments/{app_id}/{attachment_id}/{filename}", self._attachment
        )
        app.router.add_route("*", "/{tail:.*}", self.rest.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.gateway.base_url = f"ws://{self.host}:{self.port}"
        self.rest.messages.http_base = self.factory.http_base = self.http_base
        return self

    async def close(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordStandin:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        return await serve_attachment(self.state, request)

    def _on_sent(self, session: Any, payload: dict[str, Any]) -> None:
        if payload.get("t") == "INTERACTION_CREATE":
            rec = self.state.interactions.get(int(payload["d"]["id"]))
            if rec is not None and rec.delivered_at is None:
                rec.delivered_at = self.state.clock.monotonic()

    # -- addresses -------------------------------------------------------------------------------
    @property
    def http_base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return f"{self.http_base}/api/v10"

    @property
    def gateway_url(self) -> str:
        """Value for ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (wrap in ``yarl.URL``)."""
        return f"ws://{self.host}:{self.port}/"

    @property
    def application_id(self) -> int:
        return self.bot_user.id

    def env(self) -> dict[str, str]:
        return {
            "DISCORD_TOKEN": self.token,
            "DISCORD_API_BASE": self.api_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
        }

    # -- world ---------------------------------------------------------------------------------
    @property
    def guild(self) -> Guild:
        """The first (default) guild."""
        return self.guilds[0]

    def user(self, key: int | str | User) -> User:
        return self.state.user(key)

    def add_webhook(self, channel: Channel | int | str, name: str = "Deals") -> Webhook:
        """A channel webhook (as a server admin would create); ``.url`` is discord.com-shaped."""
        return self.rest.add_webhook(self._channel(channel), name)

    def _channel(self, channel: Channel | int | str) -> Channel:
        if isinstance(channel, Channel):
            return channel
        if isinstance(channel, int) and channel in self.state.channels:
            return self.state.channels[channel]
        return self.guild.channel(channel)

    # -- waiting ---------------------------------------------------------------------------------
    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Until every shard identified and received READY and its GUILD_CREATEs.

        discord.py fires ``on_ready`` ``guild_ready_timeout`` (2 s default) after the last
        GUILD_CREATE; interactions are processed before that, so tests need not wait longer.
        """
        await self.state.wait_for(
            self.gateway.ready, timeout, "the bot to connect (READY + GUILD_CREATE on all shards)"
        )

    async def wait_commands(
        self,
        timeout: float = 10.0,
        *,
        guild: Guild | None = _DEFAULT,
        names: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """Until command schemas are synced (any scope by default; ``guild=None`` = global)."""
        wanted = set(names)

        def synced() -> list[dict[str, Any]] | None:
            scopes = (
                list(self.state.commands) if guild is _DEFAULT else [guild.id if guild else None]
            )
            cmds = [c for s in scopes for c in self.state.command_list(s)]
            if cmds and wanted <= {c["name"] for c in cmds}:
                return cmds
            return None

        return await self.state.wait_for(synced, timeout, f"command sync {sorted(wanted) or ''}")

    def preload_commands(
        self, commands: list[dict[str, Any]], *, guild: Guild | None = None
    ) -> list[dict[str, Any]]:
        """Store schemas as if the bot had synced them (validated like ``PUT .../commands``)."""
        errors = limits.validate_commands(commands)
        if errors:
            raise ValueError("invalid command schemas: " + "; ".join(errors.flat()))
        scope = guild.id if guild else None
        table = {}
        for cmd in commands:
            stored, _ = self.rest._store_command(scope, cmd)
            table[(stored["name"], stored["type"])] = stored
        self.state.commands[scope] = table
        self.state.bump()
        return list(table.values())

    def allow_everyone(self, command: str, guild: Guild | None = _DEFAULT) -> None:
        """What a server admin does in Server Settings → Integrations: let every member use
        ``command`` whatever its ``default_member_permissions`` (the bot must check again)."""
        target = self._guild_arg(guild)
        for schema in self.state.commands.get(target.id if target else None, {}).values():
            if schema["name"] == command:
                schema["default_member_permissions"] = None

    # -- playing users ---------------------------------------------------------------------------
    def _guild_arg(self, guild: Guild | None) -> Guild | None:
        return self.guild if guild is _DEFAULT else guild

    async def invoke(
        self,
        user: User | int | str,
        command: str,
        options: dict[str, Any] | None = None,
        *,
        guild: Guild | None = _DEFAULT,
        channel: Channel | int | str | None = None,
        attachments: dict[str, Upload | tuple[str, bytes]] | None = None,
    ) -> InteractionRecord:
        """Run ``/command`` (e.g. ``"alert create"``) as ``user``; ``guild=None`` means in DMs."""
        opts = {**(options or {}), **(attachments or {})}
        record = self.factory.command(
            self.user(user), command, opts, guild=self._guild_arg(guild), channel=channel
        )
        self.gateway.dispatch(record.guild_id, "INTERACTION_CREATE", record.payload, required=True)
        return record

    async def autocomplete(
        self,
        user: User | int | str,
        command: str,
        focused: str,
        options: dict[str, Any] | None = None,
        *,
        guild: Guild | None = _DEFAULT,
        channel: Channel | int | str | None = None,
        timeout: float = 3.0,
    ) -> list[dict[str, Any]]:
        """Type into ``focused`` (its current text is ``options[focused]``); returns the choices."""
        record = self.factory.command(
            self.user(user),
            command,
            options or {},
            guild=self._guild_arg(guild),
            channel=channel,
            autocomplete_focus=focused,
        )
        self.gateway.dispatch(record.guild_id, "INTERACTION_CREATE", record.payload, required=True)
        response = await record.response(timeout)
        return response.choices or []

    async def click(
        self,
        user: User | int | str,
        message: StoredMessage | int,
        custom_id: str,
        *,
        values: list[Any] | None = None,
    ) -> InteractionRecord:
        """Press a button / pick select ``values`` on a message the bot sent."""
        msg = message if isinstance(message, StoredMessage) else self.state.messages[message]
        record = self.factory.component(self.user(user), msg, custom_id, values)
        self.gateway.dispatch(record.guild_id, "INTERACTION_CREATE", record.payload, required=True)
        return record

    async def submit_modal(
        self,
        user: User | int | str,
        custom_id: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> InteractionRecord:
        """Submit the open modal (latest for ``user`` when ``custom_id`` is None)."""
        who = self.user(user)
        modal = self.state.open_modal(who.id, custom_id)
        if modal is None:
            raise ClientWouldRefuse(f"{who.username} has no open modal {custom_id or ''}".strip())
        record = self.factory.modal_submit(who, modal, values or {})
        self.gateway.dispatch(record.guild_id, "INTERACTION_CREATE", record.payload, required=True)
        return record

    async def user_message(
        self, user: User | int | str, channel: Channel | int | str, content: str
    ) -> StoredMessage:
        """A user posts in a channel (MESSAGE_CREATE; content hidden without MESSAGE_CONTENT)."""
        from .gateway import message_event_data

        who = self.user(user)
        ch = self._channel(channel)
        msg = StoredMessage(
            id=self.state.ids.next(),
            channel_id=ch.id,
            guild_id=ch.guild_id,
            author=who.payload(),
            content=content,
        )
        self.state.store_message(msg)
        member = None
        if ch.guild_id is not None:
            m = self.state.guilds[ch.guild_id].member(who)
            member = m.payload(with_user=False) if m else None
        mentions_bot = f"<@{self.bot_user.id}>" in content
        self.gateway.dispatch_message(
            "MESSAGE_CREATE",
            message_event_data(msg.payload(), ch.guild_id, member),
            ch.guild_id,
            mentions_bot=mentions_bot,
        )
        return msg

    # -- observing -------------------------------------------------------------------------------
    @property
    def interactions(self) -> list[InteractionRecord]:
        return list(self.state.interactions.values())

    @property
    def requests(self) -> list[RequestRecord]:
        return self.state.requests

    @property
    def invalid_request_count(self) -> int:
        """401/403/429 answers so far (Discord bans at 10,000 per 10 minutes)."""
        return self.rest.limiter.invalid_request_total

    def request_counts(self) -> Counter[str]:
        """Calls per route template, e.g. ``counts["POST /channels/{channel_id}/messages"]``."""
        return Counter(r.route or f"{r.method} {r.path} (unknown)" for r in self.state.requests)

    def requests_matching(self, pattern: str) -> list[RequestRecord]:
        """Requests matching ``"POST /channels/*/messages"`` or a route template."""
        return [
            r
            for r in self.state.requests
            if pattern_matches(
                pattern, r.method, r.path, r.route.partition(" ")[2] if r.route else None
            )
        ]

    def dm_channel_id(self, user: User | int | str) -> int | None:
        channel = self.state.dm_by_user.get(self.user(user).id)
        return channel.id if channel else None

    def dms(self, user: User | int | str) -> list[StoredMessage]:
        """Messages the bot posted (and did not delete) in its DM with ``user``."""
        cid = self.dm_channel_id(user)
        if cid is None:
            return []
        return [
            m
            for m in self.state.channel_log.get(cid, [])
            if m.author_id == self.bot_user.id and not m.deleted and not m.ephemeral
        ]

    async def wait_dm(
        self,
        user: User | int | str,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[StoredMessage]:
        who = self.user(user)
        return await self.state.wait_for(
            lambda: (d := self.dms(who)) and len(d) >= count and d,
            timeout,
            f"{count} DM(s) to {who.username}",
        )

    def channel_messages(
        self, channel: Channel | int | str, *, include_ephemeral: bool = False
    ) -> list[StoredMessage]:
        ch = self._channel(channel)
        return [
            m
            for m in self.state.channel_log.get(ch.id, [])
            if not m.deleted and (include_ephemeral or not m.ephemeral)
        ]

    async def wait_channel_message(
        self,
        channel: Channel | int | str,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[StoredMessage]:
        ch = self._channel(channel)
        return await self.state.wait_for(
            lambda: (msgs := self.channel_messages(ch)) and len(msgs) >= count and msgs,
            timeout,
            f"{count} message(s) in #{ch.name}",
        )

    @property
    def violations(self) -> list[Violation]:
        return self.state.violations

    def take_violations(self, kind: str | None = None) -> list[Violation]:
        """Remove and return violations (of ``kind``) a test provoked on purpose."""
        taken = [v for v in self.state.violations if kind is None or v.kind == kind]
        self.state.violations[:] = [v for v in self.state.violations if v not in taken]
        return taken

    def assert_clean(self, *, ignore: Iterable[str] = ()) -> None:
        """Fail if the bot did anything Discord would reject (unknown routes included)."""
        skip = set(ignore)
        bad = [v for v in self.state.violations if v.kind not in skip]
        if bad:
            raise AssertionError(
                f"{len(bad)} Discord protocol violation(s):\n  " + "\n  ".join(map(str, bad))
            )

    # -- fault injection ---------------------------------------------------------------------------
    def close_dms(self, user: User | int | str) -> None:
        """The user turned off DMs: message creates in their DM answer 403 / 50007."""
        self.state.closed_dms.add(self.user(user).id)

    def open_dms(self, user: User | int | str) -> None:
        self.state.closed_dms.discard(self.user(user).id)

    def dm_error(
        self,
        user: User | int | str,
        *,
        status: int = 403,
        code: int = 50278,
        message: str | None = None,
    ) -> None:
        """Another DM failure: 50278 (no mutual guild), 40003 (opening DMs too fast)..."""
        default = {
            50278: "Cannot send messages to this user due to having no mutual guilds",
            40003: "You are opening direct messages too fast",
            50007: "Cannot send messages to this user",
        }
        self.state.dm_errors[self.user(user).id] = (
            status,
            code,
            message or default.get(code, "Forbidden"),
        )

    def inject_429(
        self,
        route_pattern: str,
        count: int = 1,
        retry_after: float = 0.2,
        *,
        is_global: bool = False,
        scope: str = "shared",
    ) -> Fault:
        """Next ``count`` matching requests get a proper 429 (with ``Via``), then pass.

        ``scope`` "user"/"global" 429s count toward the invalid-request (Cloudflare) budget;
        "shared" ones do not, as documented by Discord.
        """
        body = too_many_requests_body(retry_after, is_global=is_global)
        headers = too_many_requests_headers(retry_after, "global" if is_global else scope)
        fault = Fault(route_pattern, count, 429, body, headers)
        self.rest.limiter.faults.append(fault)
        return fault

    def inject_500(
        self, route_pattern: str, count: int = 1, status: int = 500, *, commit_first: bool = False
    ) -> Fault:
        """Answer 5xx (discord.py retries after 1 s, 3 s, ...).

        ``commit_first=True`` performs the request and *then* fails, like a Discord timeout
        after the write: a retried message create is only safe thanks to ``enforce_nonce``.
        """
        body = {"message": "500: Internal Server Error", "code": 0}
        fault = Fault(route_pattern, count, status, body, commit_first=commit_first)
        self.rest.limiter.faults.append(fault)
        return fault

    def inject_error(
        self, route_pattern: str, status: int, code: int, message: str, count: int = 1
    ) -> Fault:
        fault = Fault(route_pattern, count, status, ApiError(status, code, message).body())
        self.rest.limiter.faults.append(fault)
        return fault

    def webhook_gone(self, webhook_id: int | Webhook) -> None:
        """The webhook was deleted in Discord: executes answer 404 / 10015."""
        wid = webhook_id.id if isinstance(webhook_id, Webhook) else webhook_id
        hook = self.state.webhooks.get(wid)
        if hook is None:  # an id the bot stored from a URL we never issued: remember it as gone
            hook = Webhook(id=wid, token="", channel_id=0, guild_id=None, name="gone", gone=True)
            self.state.webhooks[wid] = hook
        hook.gone = True

    async def drop_gateway(self, shard_id: int | None = None, *, code: int | None = None) -> int:
        """Cut the bot's gateway socket(s); it should reconnect and RESUME."""
        return await self.gateway.drop(shard_id, code=code)

    async def invalidate_session(
        self, shard_id: int | None = None, *, resumable: bool = False
    ) -> None:
        """Send op 9; with ``resumable=False`` the bot must IDENTIFY afresh."""
        await self.gateway.invalidate(shard_id, resumable=resumable)

    def request_reconnect(self, shard_id: int | None = None) -> None:
        """Send op 7 RECONNECT."""
        self.gateway.request_reconnect(shard_id)

    def advance_time(self, seconds: float) -> None:
        """Jump Discord's clock (token expiry, nonce window, ack deadline)."""
        self.state.clock.advance(seconds)


def _make_token(bot_id: int) -> str:
    """Same shape as a real bot token: base64(user id).timestamp.hmac."""
    first = base64.urlsafe_b64encode(str(bot_id).encode()).decode().rstrip("=")
    return f"{first}.{secrets.token_urlsafe(4)[:6]}.{secrets.token_urlsafe(30)[:38]}"


__all__ = ["ClientWouldRefuse", "DiscordStandin", "Upload"]
