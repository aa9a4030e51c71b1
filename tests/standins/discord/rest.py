"""REST side of the stand-in: Discord's routes, status codes, error bodies and rate limits.

Details discord.py depends on (``http.py`` / ``webhook/async_.py``) and that we reproduce:

* JSON bodies are only parsed when ``Content-Type`` is exactly ``application/json`` — no
  ``; charset=...`` suffix — so every JSON answer sets that header verbatim.
* Every answer carries ``X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket``; discord.py
  pre-emptively sleeps when ``Remaining`` hits 0, so buckets are real and enforced.
* A 429 carries ``Via: 1.1 google`` and ``{"message", "retry_after", "global"}``; without
  ``Via`` discord.py assumes a Cloudflare ban and raises instead of retrying.
* Interaction callbacks arrive with ``?with_response=1`` and must answer 200 with the
  interaction-callback-response shape (``{"interaction": {...}, "resource": {...}}``);
  without the flag Discord answers 204.
* Follow-ups are ``POST /webhooks/{application_id}/{token}?wait=1``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import limits
from .errors import ApiError, form_error, invalid_json
from .limits import (
    CHANNEL_MESSAGE_FLAGS,
    DEFER_FLAGS,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    INTERACTION_MESSAGE_FLAGS,
    FormErrors,
)
from .messages import MessageService
from .models import Channel, Guild, Perm
from .ratelimits import (
    API_PREFIX,
    RateLimiter,
    too_many_requests_body,
    too_many_requests_headers,
)
from .state import ModalRecord, RequestRecord, Webhook, random_token

if TYPE_CHECKING:
    from .gateway import GatewayServer
    from .state import InteractionRecord, StandinState

JSON = "application/json"


@dataclass
class Ctx:
    """Everything a handler needs about one request."""

    request: web.Request
    method: str
    path: str
    route: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    uploads: dict[int, tuple[str, bytes, str]]

    def body(self) -> dict[str, Any]:
        if not isinstance(self.json, dict):
            raise invalid_json()
        return self.json

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true")


Reply = tuple[int, Any]
Handler = Callable[[Ctx], Awaitable[Reply]]


@dataclass
class RouteSpec:
    method: str
    template: str
    handler: Handler
    auth: bool = True  # needs ``Authorization: Bot <token>``
    global_exempt: bool = False  # interaction/webhook-token routes skip the 50/s global limit
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        self.regex = re.compile(f"^{pattern}$")

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    """Exactly ``Content-Type: application/json`` (discord.py compares the header verbatim)."""
    hdrs = {"Content-Type": JSON, **(headers or {})}
    if status == 204 or body is None:
        hdrs.pop("Content-Type")
        return web.Response(status=status, headers=hdrs)
    return web.Response(status=status, body=json.dumps(body).encode(), headers=hdrs)


class RestServer:
    """Routes ``/api/v10/*`` requests to handlers, applying auth, faults and rate limits."""

    def __init__(
        self,
        state: StandinState,
        gateway: GatewayServer,
        *,
        token: str,
        shard_count: int,
        ack_deadline: float,
        nonce_window: float,
        route_limits: dict[str, tuple[int, float]],
        default_route_limit: tuple[int, float],
        global_limit: int,
        invalid_request_limit: int,
    ) -> None:
        self.state = state
        self.gateway = gateway
        self.token = token
        self.shard_count = shard_count
        self.ack_deadline = ack_deadline
        self.nonce_window = nonce_window
        self.limiter = RateLimiter(
            route_limits=route_limits,
            default_route_limit=default_route_limit,
            global_limit=global_limit,
            invalid_request_limit=invalid_request_limit,
        )
        self.messages = MessageService(state, gateway)
        self.rate_limited: list[str] = []  # route keys the client pushed past their bucket
        self.routes: list[RouteSpec] = []
        self._register()

    # -- routing table --------------------------------------------------------------------------
    def _register(self) -> None:
        r = self._route
        r("GET", "/gateway", self.get_gateway, auth=False)
        r("GET", "/gateway/bot", self.get_gateway_bot)
        r("GET", "/users/@me", self.get_me)
        r("POST", "/users/@me/channels", self.create_dm)
        r("GET", "/users/{user_id}", self.get_user)
        r("GET", "/oauth2/applications/@me", self.get_application)
        r("GET", "/applications/@me", self.get_application)
        for prefix in (
            "/applications/{application_id}",
            "/applications/{application_id}/guilds/{guild_id}",
        ):
            r("GET", f"{prefix}/commands", self.list_commands)
            r("PUT", f"{prefix}/commands", self.put_commands)
            r("POST", f"{prefix}/commands", self.upsert_command)
            r("GET", f"{prefix}/commands/{{command_id}}", self.get_command)
            r("PATCH", f"{prefix}/commands/{{command_id}}", self.edit_command)
            r("DELETE", f"{prefix}/commands/{{command_id}}", self.delete_command)
        r(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self.interaction_callback,
            auth=False,
            global_exempt=True,
        )
        hook = "/webhooks/{webhook_id}/{webhook_token}"
        r("POST", hook, self.execute_webhook, auth=False, global_exempt=True)
        r("GET", hook, self.get_webhook_with_token, auth=False, global_exempt=True)
        r("DELETE", hook, self.delete_webhook, auth=False, global_exempt=True)
        for method in ("GET", "PATCH", "DELETE"):
            r(
                method,
                f"{hook}/messages/{{message_id}}",
                self.webhook_message,
                auth=False,
                global_exempt=True,
            )
        r("GET", "/webhooks/{webhook_id}", self.get_webhook)
        r("DELETE", "/webhooks/{webhook_id}", self.delete_webhook)
        r("GET", "/channels/{channel_id}", self.get_channel)
        r("GET", "/channels/{channel_id}/messages", self.list_messages)
        r("POST", "/channels/{channel_id}/messages", self.create_message)
        r("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        r("POST", "/channels/{channel_id}/typing", self.typing)
        reaction = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}"
        r("PUT", f"{reaction}/@me", self.react)
        r("DELETE", f"{reaction}/@me", self.react)
        r("POST", "/channels/{channel_id}/webhooks", self.create_webhook)
        r("GET", "/channels/{channel_id}/webhooks", self.list_webhooks)
        r("GET", "/guilds/{guild_id}", self.get_guild)
        r("GET", "/guilds/{guild_id}/channels", self.get_guild_channels)
        r("GET", "/guilds/{guild_id}/roles", self.get_guild_roles)
        r("GET", "/guilds/{guild_id}/members/{user_id}", self.get_guild_member)

    def _route(self, method: str, template: str, handler: Handler, **kw: bool) -> None:
        self.routes.append(RouteSpec(method, template, handler, **kw))

    def match(self, method: str, path: str) -> tuple[RouteSpec | None, dict[str, str], bool]:
        """Returns (route, params, path_known_for_other_method)."""
        other = False
        for spec in self.routes:
            m = spec.regex.match(path)
            if m is None:
                continue
            if spec.method == method:
                return spec, m.groupdict(), True
            other = True
        return None, {}, other

    # -- entry point ------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.method
        full = request.path
        path = full[len(API_PREFIX) :] if full.startswith(API_PREFIX + "/") else full
        record = RequestRecord(
            method=method, path=path, route=None, query=dict(request.query), json=None, files=[]
        )
        self.state.requests.append(record)
        try:
            body, uploads = await self._read_body(request)
        except ApiError as exc:
            return self._finish(record, exc.status, exc.body(), {}, exc.violation, exc.message)
        record.json = body
        record.files = [(n, ct, data) for n, data, ct in uploads.values()]
        if not full.startswith(API_PREFIX + "/"):
            self.state.unknown_routes.append(record)
            detail = f"{method} {full}: not under {API_PREFIX} (wrong Route.BASE or API version)"
            not_found = {"message": "404: Not Found", "code": 0}
            return self._finish(record, 404, not_found, {}, "unknown_route", detail)
        spec, params, other = self.match(method, path)
        if spec is None:
            self.state.unknown_routes.append(record)
            status = 405 if other else 404
            msg = f"{status}: {'Method Not Allowed' if other else 'Not Found'}"
            return self._finish(
                record, status, {"message": msg, "code": 0}, {}, "unknown_route", f"{method} {path}"
            )
        record.route = spec.key
        limiter = self.limiter

        if limiter.banned():
            self.state.violate("cloudflare_ban", "too many 401/403/429 answers within 10 minutes")
            record.status = 429
            return web.Response(
                status=429, text="<html>error code: 1015</html>", content_type="text/html"
            )
        if spec.auth and request.headers.get("Authorization") != f"Bot {self.token}":
            unauthorized = {"message": "401: Unauthorized", "code": 0}
            return self._finish(
                record, 401, unauthorized, {}, "unauthorized", "missing/wrong bot token"
            )

        fault = limiter.take_fault(method, path, spec.template)
        if fault is not None and not fault.commit_first:
            return self._finish(record, fault.status, fault.body, fault.headers, None, "")

        if not spec.global_exempt and (retry := limiter.global_hit()) is not None:
            body_429 = too_many_requests_body(retry, is_global=True)
            headers_429 = too_many_requests_headers(retry, "global")
            return self._finish(record, 429, body_429, headers_429, None, "")

        rl_headers, retry = limiter.bucket_hit(spec.key, params)
        if retry is not None:
            self.rate_limited.append(spec.key)
            headers_429 = {**rl_headers, **too_many_requests_headers(retry, "user")}
            detail = f"{spec.key} exceeded its bucket; the client ignored X-RateLimit headers"
            body_429 = too_many_requests_body(retry)
            return self._finish(record, 429, body_429, headers_429, "rate_limit_exceeded", detail)

        ctx = Ctx(
            request=request,
            method=method,
            path=path,
            route=spec.key,
            params=params,
            query=dict(request.query),
            json=body,
            uploads=uploads,
        )
        try:
            status, out = await spec.handler(ctx)
        except ApiError as exc:
            return self._finish(
                record, exc.status, exc.body(), rl_headers, exc.violation, exc.detail()
            )
        if fault is not None:  # commit_first: the write happened, the client sees an error
            return self._finish(record, fault.status, fault.body, fault.headers, None, "")
        return self._finish(record, status, out, rl_headers, None, "")

    def _finish(
        self,
        record: RequestRecord,
        status: int,
        body: Any,
        headers: dict[str, str],
        violation: str | None,
        detail: str,
    ) -> web.Response:
        record.status = status
        record.response = body
        if violation:
            self.state.violate(violation, detail, record.method, record.path)
        self.limiter.note_answer(status, headers)
        self.state.bump()
        return json_response(status, body, headers)

    async def _read_body(
        self, request: web.Request
    ) -> tuple[Any, dict[int, tuple[str, bytes, str]]]:
        uploads: dict[int, tuple[str, bytes, str]] = {}
        if not request.can_read_body:
            return None, uploads
        ctype = request.content_type
        if ctype == "multipart/form-data":
            body: Any = None
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                name = getattr(part, "name", None) or ""
                if name == "payload_json":
                    text = await part.text()  # type: ignore[union-attr]
                    try:
                        body = json.loads(text)
                    except ValueError as exc:
                        raise invalid_json() from exc
                elif m := re.fullmatch(r"files\[(\d+)\]", name):
                    data = await part.read()  # type: ignore[union-attr]
                    filename = getattr(part, "filename", None) or "file"
                    part_type = part.headers.get("Content-Type", "application/octet-stream")
                    uploads[int(m.group(1))] = (filename, bytes(data), part_type)
            total = sum(len(d) for _, d, _ in uploads.values())
            if total > limits.FILE_SIZE_MAX:
                raise ApiError(413, 40005, "Request entity too large", violation="file_too_large")
            return body, uploads
        raw = await request.read()
        if not raw:
            return None, uploads
        if ctype != JSON:
            raise ApiError(
                400,
                50035,
                "Invalid Form Body: invalid Content-Type",
                violation="invalid_content_type",
            )
        try:
            return json.loads(raw), uploads
        except ValueError as exc:
            raise invalid_json() from exc

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def app_id(self) -> int:
        return self.state.bot_user.id

    def _channel(self, cid: str, *, need: int = Perm.VIEW_CHANNEL) -> Channel:
        channel = self.state.channels.get(_int(cid))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        if not channel.is_dm:
            perms = self.state.bot_permissions_in(channel)
            # World state (an admin changed permissions), not a protocol breach: no violation.
            if not perms & Perm.VIEW_CHANNEL:
                raise ApiError(403, 50001, "Missing Access")
            if perms & need != need:
                raise ApiError(403, 50013, "Missing Permissions")
        return channel

    # ======================================================================================
    # Handlers: gateway, users, application
    # ======================================================================================
    async def get_gateway(self, ctx: Ctx) -> Reply:
        return 200, {"url": self.gateway.base_url}

    async def get_gateway_bot(self, ctx: Ctx) -> Reply:
        return 200, {
            "url": self.gateway.base_url,
            "shards": self.shard_count,
            "session_start_limit": {
                "total": 1000,
                "remaining": max(0, 1000 - self.gateway.identify_count),
                "reset_after": 86_400_000,
                "max_concurrency": 1,
            },
        }

    async def get_me(self, ctx: Ctx) -> Reply:
        return 200, {
            **self.state.bot_user.payload(),
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "locale": "en-US",
            "bio": "",
        }

    async def get_user(self, ctx: Ctx) -> Reply:
        user = self.state.users.get(_int(ctx.params["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return 200, user.payload()

    async def get_application(self, ctx: Ctx) -> Reply:
        return 200, {
            "id": str(self.app_id),
            "name": self.state.application_name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": hashlib.sha256(str(self.app_id).encode()).hexdigest(),
            "owner": self.state.app_owner.payload(),
            "team": None,
            "flags": self.gateway._application_flags(),
            "bot": self.state.bot_user.payload(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "tags": [],
            "install_params": {
                "scopes": ["bot", "applications.commands"],
                "permissions": str(Perm.DEFAULT_BOT),
            },
            "integration_types_config": {"0": {}},
            "approximate_guild_count": len(self.state.guilds),
            "approximate_user_install_count": 0,
        }

    async def create_dm(self, ctx: Ctx) -> Reply:
        body = ctx.body()
        recipient = _int(str(body.get("recipient_id", "")))
        user = self.state.users.get(recipient)
        if user is None or user.id == self.app_id:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        injected = self.state.dm_errors.get(user.id)
        if injected is not None and injected[1] == 40003:
            status, code, message = injected
            raise ApiError(status, code, message)
        return 200, self.state.channel_payload(self.state.dm_channel(user.id))

    # ======================================================================================
    # Application commands
    # ======================================================================================
    def _command_scope(self, ctx: Ctx) -> int | None:
        if _int(ctx.params["application_id"]) != self.app_id:
            raise ApiError(
                403,
                20012,
                "You are not authorized to perform this action on this application",
                violation="wrong_application_id",
            )
        if "guild_id" not in ctx.params:
            return None
        gid = _int(ctx.params["guild_id"])
        if gid not in self.state.guilds:
            raise ApiError(403, 50001, "Missing Access", violation="missing_access")
        return gid

    def _store_command(self, scope: int | None, cmd: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        ctype = cmd.get("type", 1) or 1
        key = (scope, cmd["name"], ctype)
        created = key not in self.state.command_ids
        if created:
            self.state.command_ids[key] = self.state.ids.next()
        stored: dict[str, Any] = {
            "id": str(self.state.command_ids[key]),
            "application_id": str(self.app_id),
            "version": str(self.state.ids.next()),
            "type": ctype,
            "name": cmd["name"],
            "name_localizations": cmd.get("name_localizations"),
            "description": cmd.get("description", ""),
            "description_localizations": cmd.get("description_localizations"),
            "default_member_permissions": _permission_string(cmd.get("default_member_permissions")),
            "dm_permission": cmd.get("dm_permission", True),
            "nsfw": bool(cmd.get("nsfw", False)),
            "integration_types": cmd.get("integration_types") or [0],
            "contexts": cmd.get("contexts"),
        }
        if ctype == 1:
            stored["options"] = cmd.get("options") or []
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored, created

    async def list_commands(self, ctx: Ctx) -> Reply:
        return 200, self.state.command_list(self._command_scope(ctx))

    async def put_commands(self, ctx: Ctx) -> Reply:
        scope = self._command_scope(ctx)
        commands = ctx.json
        errors = limits.validate_commands(commands)
        if errors:
            raise form_error(errors)
        table: dict[tuple[str, int], dict[str, Any]] = {}
        for cmd in commands:
            stored, _ = self._store_command(scope, cmd)
            table[(stored["name"], stored["type"])] = stored
        self.state.commands[scope] = table
        self.state.command_syncs.append((scope, commands))
        self.state.bump()
        return 200, list(table.values())

    async def upsert_command(self, ctx: Ctx) -> Reply:
        scope = self._command_scope(ctx)
        errors = limits.validate_commands([ctx.body()])
        if errors:
            raise form_error(errors)
        stored, created = self._store_command(scope, ctx.body())
        self.state.commands.setdefault(scope, {})[(stored["name"], stored["type"])] = stored
        self.state.bump()
        return (201 if created else 200), stored

    def _find_command(self, ctx: Ctx) -> tuple[int | None, dict[str, Any]]:
        scope = self._command_scope(ctx)
        for cmd in self.state.command_list(scope):
            if cmd["id"] == ctx.params["command_id"]:
                return scope, cmd
        raise ApiError(404, 10063, "Unknown application command", violation="unknown_command")

    async def get_command(self, ctx: Ctx) -> Reply:
        return 200, self._find_command(ctx)[1]

    async def edit_command(self, ctx: Ctx) -> Reply:
        _, cmd = self._find_command(ctx)
        merged = {**cmd, **ctx.body()}
        errors = limits.validate_commands([merged])
        if errors:
            raise form_error(errors)
        cmd.update(ctx.body())
        cmd["version"] = str(self.state.ids.next())
        self.state.bump()
        return 200, cmd

    async def delete_command(self, ctx: Ctx) -> Reply:
        scope, cmd = self._find_command(ctx)
        del self.state.commands[scope][(cmd["name"], cmd["type"])]
        self.state.bump()
        return 204, None

    # ======================================================================================
    # Interactions
    # ======================================================================================
    def _interaction(self, iid: int, token: str) -> InteractionRecord:
        rec = self.state.interactions.get(iid)
        if rec is None:
            raise ApiError(404, 10062, "Unknown interaction", violation="unknown_interaction")
        if rec.token != token:
            raise ApiError(401, 50027, "Invalid Webhook Token", violation="invalid_webhook_token")
        return rec

    async def interaction_callback(self, ctx: Ctx) -> Reply:
        rec = self._interaction(_int(ctx.params["interaction_id"]), ctx.params["interaction_token"])
        if rec.acknowledged:
            raise ApiError(
                400, 40060, "Interaction has already been acknowledged.", violation="double_ack"
            )
        started = rec.delivered_at if rec.delivered_at is not None else rec.created_at
        elapsed = self.state.clock.monotonic() - started
        if elapsed > self.ack_deadline:
            raise ApiError(
                404,
                10062,
                f"Unknown interaction (answered after {elapsed:.2f}s > {self.ack_deadline}s)",
                violation="late_ack",
            )
        body = ctx.body()
        ctype = body.get("type")
        data = body.get("data")
        allowed = {
            2: {4, 5, 9},
            3: {4, 5, 6, 7, 9},
            4: {8},
            5: {4, 5, 6, 7} if rec.source_message is not None else {4, 5},
        }.get(rec.type, set())
        if ctype not in allowed:
            errors = FormErrors()
            errors.add(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Callback type {ctype} is not valid for interaction type {rec.type} "
                f"(allowed: {sorted(allowed)})",
            )
            raise form_error(errors)

        channel = self.state.channels[rec.channel_id]
        callback: dict[str, Any] = {"id": str(rec.id), "type": rec.type}
        resource: dict[str, Any] | None = None
        data = data if isinstance(data, dict) else {}
        if ctype == 4:
            self.messages.validate(
                data, allowed_flags=INTERACTION_MESSAGE_FLAGS, uploads=ctx.uploads, path=("data",)
            )
            msg = self.messages.build(
                channel,
                data,
                ctx.uploads,
                author=self.state.bot_author(),
                flags=data.get("flags") or 0,
                mtype=20 if rec.type == 2 else 0,
                webhook_id=self.app_id,
                interaction=rec,
            )
            rec.original = msg
            self.messages.publish(msg)
            callback.update(
                response_message_id=str(msg.id),
                response_message_loading=False,
                response_message_ephemeral=msg.ephemeral,
            )
            resource = {"type": 4, "message": msg.payload()}
        elif ctype == 5:
            flags = data.get("flags") or 0
            if flags & ~DEFER_FLAGS:
                errors = FormErrors()
                errors.add(
                    ("data", "flags"),
                    "MESSAGE_FLAGS_INVALID",
                    "Only EPHEMERAL may be set when deferring",
                )
                raise form_error(errors)
            msg = self.messages.build(
                channel,
                {},
                {},
                author=self.state.bot_author(),
                flags=(flags & FLAG_EPHEMERAL) | FLAG_LOADING,
                mtype=20 if rec.type == 2 else 0,
                webhook_id=self.app_id,
                interaction=rec,
            )
            rec.original = msg
            self.messages.publish(msg)
            callback.update(
                response_message_id=str(msg.id),
                response_message_loading=True,
                response_message_ephemeral=msg.ephemeral,
            )
        elif ctype == 6:
            rec.original = rec.source_message
            assert rec.original is not None
            callback.update(
                response_message_id=str(rec.original.id),
                response_message_loading=False,
                response_message_ephemeral=rec.original.ephemeral,
            )
        elif ctype == 7:
            source = rec.source_message
            assert source is not None
            self.messages.validate(
                data,
                allowed_flags=INTERACTION_MESSAGE_FLAGS,
                uploads=ctx.uploads,
                path=("data",),
                editing=True,
            )
            self.messages.apply_edit(source, data, ctx.uploads, path=("data",))
            rec.original = source
            self.messages.publish(source, "MESSAGE_UPDATE")
            callback.update(
                response_message_id=str(source.id),
                response_message_loading=False,
                response_message_ephemeral=source.ephemeral,
            )
            resource = {"type": 7, "message": source.payload()}
        elif ctype == 8:
            errors = limits.validate_choices(data, rec.focused_option_type)
            if errors:
                raise form_error(errors)
            rec.choices = list(data.get("choices") or [])
        elif ctype == 9:
            errors = limits.validate_modal(data)
            if errors:
                raise form_error(errors)
            rec.modal = ModalRecord(interaction=rec, data=data)
            self.state.modals.append(rec.modal)
        rec.callback = body
        rec.callback_type = ctype
        self.state.bump()
        if not ctx.flag("with_response"):
            return 204, None
        out: dict[str, Any] = {"interaction": callback}
        if resource is not None:
            out["resource"] = resource
        return 200, out

    def _interaction_for_token(self, ctx: Ctx) -> InteractionRecord | None:
        if _int(ctx.params["webhook_id"]) != self.app_id:
            return None
        rec = self.state.interactions_by_token.get(ctx.params["webhook_token"])
        if rec is None:
            raise ApiError(404, 10015, "Unknown Webhook", violation="unknown_interaction_token")
        if rec.token_expired():
            raise ApiError(
                401, 50027, "Invalid Webhook Token", violation="interaction_token_expired"
            )
        return rec

    async def execute_webhook(self, ctx: Ctx) -> Reply:
        rec = self._interaction_for_token(ctx)
        if rec is not None:
            return await self._followup(ctx, rec)
        hook = self._webhook(ctx)
        body = ctx.body()
        self.messages.validate(body, allowed_flags=CHANNEL_MESSAGE_FLAGS, uploads=ctx.uploads)
        errors = FormErrors()
        errors.max_len(("username",), body.get("username"), 80)
        if errors:
            raise form_error(errors)
        channel = self.state.channels[hook.channel_id]
        author = {
            "id": str(hook.id),
            "username": body.get("username") or hook.name,
            "discriminator": "0000",
            "avatar": None,
            "bot": True,
            "global_name": None,
        }
        msg = self.messages.build(
            channel,
            body,
            ctx.uploads,
            author=author,
            flags=body.get("flags") or 0,
            webhook_id=hook.id,
        )
        self.messages.publish(msg)
        return (200, msg.payload()) if ctx.flag("wait") else (204, None)

    async def _followup(self, ctx: Ctx, rec: InteractionRecord) -> Reply:
        if not rec.acknowledged:
            raise ApiError(404, 10015, "Unknown Webhook", violation="followup_before_ack")
        body = ctx.body()
        original = rec.original
        if rec.callback_type == 5 and original is not None and original.loading:
            # Discord (deprecated behaviour): the first follow-up after a deferred reply edits
            # the loading message instead of creating one; its ephemeral flag is ignored.
            self.messages.validate(
                body, allowed_flags=INTERACTION_MESSAGE_FLAGS, uploads=ctx.uploads
            )
            self.messages.apply_edit(original, body, ctx.uploads)
            self.messages.publish(original, "MESSAGE_UPDATE")
            return 200, original.payload()
        self.messages.validate(body, allowed_flags=INTERACTION_MESSAGE_FLAGS, uploads=ctx.uploads)
        channel = self.state.channels[rec.channel_id]
        msg = self.messages.build(
            channel,
            body,
            ctx.uploads,
            author=self.state.bot_author(),
            flags=body.get("flags") or 0,
            mtype=20 if rec.type == 2 else 0,
            webhook_id=self.app_id,
            interaction=rec,
        )
        rec.followups.append(msg)
        self.messages.publish(msg)
        return 200, msg.payload()

    def _webhook(self, ctx: Ctx) -> Webhook:
        hook = self.state.webhooks.get(_int(ctx.params["webhook_id"]))
        if hook is None or hook.gone:
            raise ApiError(404, 10015, "Unknown Webhook")
        if "webhook_token" in ctx.params and ctx.params["webhook_token"] != hook.token:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return hook

    async def get_webhook_with_token(self, ctx: Ctx) -> Reply:
        payload = self._webhook(ctx).payload()
        payload.pop("token", None)
        return 200, payload

    async def get_webhook(self, ctx: Ctx) -> Reply:
        return 200, self._webhook(ctx).payload()

    async def delete_webhook(self, ctx: Ctx) -> Reply:
        self._webhook(ctx).gone = True
        self.state.bump()
        return 204, None

    async def webhook_message(self, ctx: Ctx) -> Reply:
        rec = self._interaction_for_token(ctx)
        mid = ctx.params["message_id"]
        if rec is not None:
            if not rec.acknowledged:
                raise ApiError(404, 10015, "Unknown Webhook", violation="followup_before_ack")
            if mid == "@original":
                msg = rec.original
            else:
                msg = next(
                    (
                        m
                        for m in [rec.original, *rec.followups]
                        if m is not None and str(m.id) == mid
                    ),
                    None,
                )
            if msg is None or msg.deleted:
                raise ApiError(404, 10008, "Unknown Message", violation="unknown_message")
        else:
            hook = self._webhook(ctx)
            msg = self.state.messages.get(_int(mid))
            if msg is None or msg.deleted or msg.webhook_id != hook.id:
                raise ApiError(404, 10008, "Unknown Message", violation="unknown_message")
        if ctx.method == "GET":
            return 200, msg.payload()
        if ctx.method == "DELETE":
            msg.deleted = True
            self.messages.publish(msg, "MESSAGE_DELETE")
            self.state.bump()
            return 204, None
        body = ctx.body()
        self.messages.validate(
            body, allowed_flags=INTERACTION_MESSAGE_FLAGS, uploads=ctx.uploads, editing=True
        )
        self.messages.apply_edit(msg, body, ctx.uploads)
        self.messages.publish(msg, "MESSAGE_UPDATE")
        return 200, msg.payload()

    # ======================================================================================
    # Channels and messages
    # ======================================================================================
    async def get_channel(self, ctx: Ctx) -> Reply:
        return 200, self.state.channel_payload(self._channel(ctx.params["channel_id"]))

    async def typing(self, ctx: Ctx) -> Reply:
        self._channel(ctx.params["channel_id"], need=Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES)
        return 204, None

    async def react(self, ctx: Ctx) -> Reply:
        """Add/remove the bot's reaction; recorded on the message as ``reactions``."""
        channel = self._channel(
            ctx.params["channel_id"], need=Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY
        )
        msg = self.state.messages.get(_int(ctx.params["message_id"]))
        if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
            raise ApiError(404, 10008, "Unknown Message")
        emoji = urllib.parse.unquote(ctx.params["emoji"])
        if ctx.method == "PUT":
            if (
                not channel.is_dm
                and not self.state.bot_permissions_in(channel) & Perm.ADD_REACTIONS
            ):
                raise ApiError(403, 50013, "Missing Permissions")
            if emoji not in msg.reactions:
                msg.reactions.append(emoji)
        elif emoji in msg.reactions:
            msg.reactions.remove(emoji)
        self.state.bump()
        return 204, None

    async def list_messages(self, ctx: Ctx) -> Reply:
        channel = self._channel(
            ctx.params["channel_id"], need=Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY
        )
        limit = min(100, max(1, _int(ctx.query.get("limit", "50"), default=50)))
        msgs = [
            m
            for m in self.state.channel_log.get(channel.id, [])
            if not m.deleted and not m.ephemeral
        ]
        return 200, [m.payload() for m in reversed(msgs)][:limit]

    async def get_message(self, ctx: Ctx) -> Reply:
        channel = self._channel(
            ctx.params["channel_id"], need=Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY
        )
        msg = self.state.messages.get(_int(ctx.params["message_id"]))
        if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
            raise ApiError(404, 10008, "Unknown Message")
        return 200, msg.payload()

    async def create_message(self, ctx: Ctx) -> Reply:
        channel = self._channel(
            ctx.params["channel_id"], need=Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES
        )
        if not channel.is_text_based:
            raise ApiError(
                400,
                50008,
                "Cannot send messages in a non-text channel",
                violation="non_text_channel",
            )
        body = ctx.body() if ctx.json is not None else {}
        self.messages.validate(body, allowed_flags=CHANNEL_MESSAGE_FLAGS, uploads=ctx.uploads)
        if channel.is_dm:
            self.messages.check_dm_allowed(channel)
        perms = self.state.bot_permissions_in(channel)
        if ctx.uploads and not perms & Perm.ATTACH_FILES:
            raise ApiError(403, 50013, "Missing Permissions")
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            key = (channel.id, self.app_id, str(nonce))
            seen = self.state.nonces.get(key)
            now = self.state.clock.now()
            if seen is not None and now - seen[0] <= self.nonce_window:
                self.state.nonce_replays.append(seen[1])
                self.state.bump()
                return 200, seen[1].payload()
        msg = self.messages.build(
            channel,
            body,
            ctx.uploads,
            author=self.state.bot_author(),
            flags=body.get("flags") or 0,
            strip_embeds=not perms & Perm.EMBED_LINKS,
        )
        if body.get("message_reference"):
            msg.message_reference = body["message_reference"]
            msg.type = 19
        if nonce is not None and body.get("enforce_nonce"):
            self.state.nonces[(channel.id, self.app_id, str(nonce))] = (self.state.clock.now(), msg)
        self.messages.publish(msg)
        return 200, msg.payload()

    async def edit_message(self, ctx: Ctx) -> Reply:
        channel = self._channel(ctx.params["channel_id"])
        msg = self.state.messages.get(_int(ctx.params["message_id"]))
        if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
            raise ApiError(404, 10008, "Unknown Message", violation="unknown_message")
        if msg.author_id != self.app_id:
            raise ApiError(
                403,
                50005,
                "Cannot edit a message authored by another user",
                violation="edit_foreign_message",
            )
        body = ctx.body()
        self.messages.validate(
            body, allowed_flags=CHANNEL_MESSAGE_FLAGS, uploads=ctx.uploads, editing=True
        )
        self.messages.apply_edit(msg, body, ctx.uploads)
        self.messages.publish(msg, "MESSAGE_UPDATE")
        return 200, msg.payload()

    async def delete_message(self, ctx: Ctx) -> Reply:
        channel = self._channel(ctx.params["channel_id"])
        msg = self.state.messages.get(_int(ctx.params["message_id"]))
        if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
            raise ApiError(404, 10008, "Unknown Message")
        if msg.author_id != self.app_id and not (
            not channel.is_dm and self.state.bot_permissions_in(channel) & Perm.MANAGE_MESSAGES
        ):
            raise ApiError(403, 50013, "Missing Permissions")
        msg.deleted = True
        self.messages.publish(msg, "MESSAGE_DELETE")
        self.state.bump()
        return 204, None

    async def create_webhook(self, ctx: Ctx) -> Reply:
        channel = self._channel(
            ctx.params["channel_id"], need=Perm.VIEW_CHANNEL | Perm.MANAGE_WEBHOOKS
        )
        body = ctx.body()
        name = body.get("name")
        errors = FormErrors()
        if errors.required(("name",), name):
            errors.max_len(("name",), name, 80)
        if errors:
            raise form_error(errors)
        hook = self.add_webhook(channel, str(name))
        return 200, hook.payload()

    def add_webhook(self, channel: Channel, name: str) -> Webhook:
        hook = Webhook(
            id=self.state.ids.next(),
            token=random_token("", 68),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            name=name,
        )
        self.state.webhooks[hook.id] = hook
        return hook

    async def list_webhooks(self, ctx: Ctx) -> Reply:
        channel = self._channel(
            ctx.params["channel_id"], need=Perm.VIEW_CHANNEL | Perm.MANAGE_WEBHOOKS
        )
        return 200, [
            h.payload()
            for h in self.state.webhooks.values()
            if h.channel_id == channel.id and not h.gone
        ]

    # ======================================================================================
    # Guilds
    # ======================================================================================
    def _guild(self, ctx: Ctx) -> Guild:
        guild = self.state.guilds.get(_int(ctx.params["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def get_guild(self, ctx: Ctx) -> Reply:
        payload = self._guild(ctx).create_payload(include_members=False, bot_user_id=self.app_id)
        for key in (
            "joined_at",
            "large",
            "unavailable",
            "member_count",
            "voice_states",
            "members",
            "channels",
            "threads",
            "presences",
            "stage_instances",
            "guild_scheduled_events",
            "soundboard_sounds",
            "lazy",
        ):
            payload.pop(key, None)
        return 200, payload

    async def get_guild_channels(self, ctx: Ctx) -> Reply:
        return 200, [c.payload() for c in self._guild(ctx).channels]

    async def get_guild_roles(self, ctx: Ctx) -> Reply:
        return 200, [r.payload() for r in self._guild(ctx).roles]

    async def get_guild_member(self, ctx: Ctx) -> Reply:
        member = self._guild(ctx).member(_int(ctx.params["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, member.payload()


def _permission_string(value: Any) -> str | None:
    """Discord answers bitfields as strings whatever the client sent."""
    return None if value is None else str(value)


def _int(value: str, default: int = 0) -> int:
    with contextlib.suppress(ValueError, TypeError):
        return int(value)
    return default


async def serve_attachment(state: StandinState, request: web.Request) -> web.StreamResponse:
    """CDN stand-in for ``/attachments/...`` and ``/ephemeral-attachments/...`` URLs."""
    att_id = _int(request.match_info["attachment_id"])
    stored = state.files.get(att_id)
    if stored is None:
        return web.Response(status=404, text="Not Found")
    _filename, data, ctype = stored
    return web.Response(body=data, headers={"Content-Type": ctype})


__all__ = ["ApiError", "RestServer", "serve_attachment"]
