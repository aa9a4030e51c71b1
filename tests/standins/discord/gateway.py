"""Gateway (websocket) side of the stand-in, speaking v10 the way discord.py 2.7 expects.

What discord.py relies on and we therefore reproduce:

* HELLO first; the client heartbeats at once and then every ``heartbeat_interval``.
* ``?compress=zlib-stream``: ONE zlib stream per connection, each payload flushed with
  ``Z_SYNC_FLUSH`` and sent as one binary frame, so every frame ends in ``00 00 ff ff`` (the
  client only inflates when it sees that suffix). ``zstd-stream`` is served when the
  ``zstandard`` module is importable (discord.py asks for it in that case).
* READY carries ``session_id``, ``resume_gateway_url`` and, when the client sent one,
  ``shard`` (AutoShardedClient reads ``data['shard'][0]``); then one GUILD_CREATE per guild
  of that shard, routed by ``(guild_id >> 22) % shard_count``.
* RESUME replays every dispatch after the client's ``seq`` then sends RESUMED; an unknown
  session gets op 9 ``d=false`` so the client re-identifies.
* Close codes from Discord's table (4001 ... 4014); 4004/4010-4014 stop discord.py for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .models import iso, shard_for_guild

if TYPE_CHECKING:
    from .state import StandinState

try:  # discord.py switches to zstd-stream when this imports; serve it in that case too.
    import zstandard as _zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    _zstd = None

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE = 3
OP_VOICE_STATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11
OP_REQUEST_SOUNDBOARD = 31

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT
#: Every intent bit Discord defines (0-16, 20, 21, 24, 25).
VALID_INTENTS = (1 << 17) - 1 | 1 << 20 | 1 << 21 | 1 << 24 | 1 << 25

#: Discord allows 120 gateway sends per 60 s per connection before closing with 4008.
SEND_LIMIT = 120
SEND_WINDOW = 60.0


class NotConnected(RuntimeError):
    """No live gateway session can receive the event (the bot is not connected)."""


@dataclass(eq=False)
class Session:
    """A gateway session: survives socket drops until resumed or invalidated."""

    id: str
    shard_id: int
    shard_count: int
    sharded: bool  # the client sent a ``shard`` field
    intents: int
    guild_ids: list[int]
    seq: int = 0
    buffer: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=5000))
    conn: Connection | None = None
    ready_seq: int = 0  # seq of the last startup dispatch (READY / final GUILD_CREATE)
    ready: bool = False
    invalid: bool = False
    touched: int = 0  # bumps on identify/resume; the freshest live session wins routing

    def next_payload(self, event: str, data: Any) -> dict[str, Any]:
        self.seq += 1
        payload = {"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data}
        self.buffer.append(payload)
        return payload


@dataclass(eq=False)
class Connection:
    """One websocket. Payloads go through a queue so the compression stream stays ordered."""

    ws: web.WebSocketResponse
    request: web.Request
    compression: str | None
    path: str
    session: Session | None = None
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    last_heartbeat: float = 0.0
    heartbeats: int = 0
    received: deque[float] = field(default_factory=deque)
    closed: bool = False
    server_closed: bool = False  # we closed it (vs. the client)
    _zlib: Any = None
    _zstd: Any = None

    def __post_init__(self) -> None:
        if self.compression == "zlib-stream":
            self._zlib = zlib.compressobj()
        elif self.compression == "zstd-stream" and _zstd is not None:
            self._zstd = _zstd.ZstdCompressor().compressobj()

    def encode(self, payload: dict[str, Any]) -> bytes | str:
        text = json.dumps(payload, separators=(",", ":"))
        if self._zlib is not None:
            return self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self._zstd is not None:
            return self._zstd.compress(text.encode()) + self._zstd.flush(
                _zstd.COMPRESSOBJ_FLUSH_BLOCK
            )
        return text

    def send(self, payload: dict[str, Any]) -> None:
        if not self.closed:
            self.queue.put_nowait(payload)


class GatewayServer:
    """Accepts bot connections and routes dispatches to the right shard's session."""

    def __init__(
        self,
        state: StandinState,
        *,
        token: str,
        heartbeat_interval_ms: int,
        allowed_privileged_intents: int,
        identify_spacing: float | None,
        heartbeat_grace: float,
    ) -> None:
        self.state = state
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.allowed_privileged_intents = allowed_privileged_intents
        self.identify_spacing = identify_spacing
        self.heartbeat_grace = heartbeat_grace
        self.base_url = ""  # set by the driver once the port is known (ws://127.0.0.1:PORT)
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.identify_count = 0
        self.resume_count = 0
        self.close_codes: list[int | None] = []
        self.resume_paths: list[str] = []
        self._last_identify = -1e9
        self._touch = 0
        self.on_sent: Callable[[Session, dict[str, Any]], None] | None = None

    @property
    def url(self) -> str:
        return f"{self.base_url}/"

    @property
    def resume_url(self) -> str:
        """Distinct from ``url`` like Discord's, so tests can see the client honour it."""
        return f"{self.base_url}/resume"

    # -- websocket endpoint --------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(timeout=2.0, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        query = request.query
        compression = query.get("compress")
        conn = Connection(ws=ws, request=request, compression=compression, path=request.path)
        self.connections.append(conn)
        writer = asyncio.create_task(self._writer(conn))
        watchdog = asyncio.create_task(self._watchdog(conn))
        try:
            if query.get("v") != "10":
                self._violate(
                    "gateway_version", f"connected with v={query.get('v')!r}; bots must use v=10"
                )
                await self._close(conn, 4012, "Invalid API version")
                return ws
            if query.get("encoding", "json") != "json":
                self._violate(
                    "gateway_encoding", f"encoding={query.get('encoding')!r} is not served"
                )
                await self._close(conn, 4002, "Decode error")
                return ws
            if compression not in (None, "zlib-stream", "zstd-stream") or (
                compression == "zstd-stream" and _zstd is None
            ):
                self._violate("gateway_compress", f"unsupported compress={compression!r}")
                await self._close(conn, 4000, "Unsupported compression")
                return ws
            conn.last_heartbeat = asyncio.get_running_loop().time()
            conn.send(
                {
                    "op": OP_HELLO,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                    "s": None,
                    "t": None,
                }
            )
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._violate(
                        "gateway_decode", "binary frame received; the client encodes JSON text"
                    )
                    await self._close(conn, 4002, "Decode error")
                if conn.closed:
                    break
        finally:
            conn.closed = True
            conn.queue.put_nowait(None)
            watchdog.cancel()
            with contextlib.suppress(Exception):
                await writer
            self.close_codes.append(ws.close_code)
            session = conn.session
            if session is not None:
                if session.conn is conn:
                    session.conn = None
                if not conn.server_closed and ws.close_code in (1000, 1001):
                    session.invalid = True  # Discord ends the session on a clean client close
            self.state.bump()
        return ws

    async def _writer(self, conn: Connection) -> None:
        while True:
            payload = await conn.queue.get()
            if payload is None or conn.ws.closed:
                return
            data = conn.encode(payload)
            try:
                if isinstance(data, bytes):
                    await conn.ws.send_bytes(data)
                else:
                    await conn.ws.send_str(data)
            except (ConnectionError, RuntimeError):
                return
            session = conn.session
            if session is not None and payload.get("op") == OP_DISPATCH:
                if not session.ready and payload["s"] >= session.ready_seq > 0:
                    session.ready = True
                    self.state.bump()
                if self.on_sent is not None:
                    self.on_sent(session, payload)

    async def _watchdog(self, conn: Connection) -> None:
        """Close zombie connections like Discord does when heartbeats stop."""
        loop = asyncio.get_running_loop()
        limit = self.heartbeat_interval_ms / 1000 * 2 + self.heartbeat_grace
        while not conn.closed:
            await asyncio.sleep(min(limit / 4, 1.0))
            if conn.last_heartbeat and loop.time() - conn.last_heartbeat > limit:
                self._violate(
                    "heartbeat_timeout", f"no heartbeat for {limit:.1f}s on {self._who(conn)}"
                )
                await self._close(conn, 4009, "Session timed out")
                return

    async def _on_text(self, conn: Connection, text: str) -> None:
        now = asyncio.get_running_loop().time()
        try:
            msg = json.loads(text)
            op = msg["op"]
        except (ValueError, KeyError, TypeError):
            self._violate("gateway_decode", f"undecodable payload {text[:200]!r}")
            await self._close(conn, 4002, "Decode error")
            return
        if op != OP_HEARTBEAT:
            # Discord counts heartbeats too, but at its 41 s interval they are negligible; our
            # sub-second test intervals would otherwise eat the budget, so they are exempt.
            conn.received.append(now)
            while conn.received and now - conn.received[0] > SEND_WINDOW:
                conn.received.popleft()
            if len(conn.received) > SEND_LIMIT:
                self._violate(
                    "gateway_rate_limit", f"more than {SEND_LIMIT} payloads in {SEND_WINDOW}s"
                )
                await self._close(conn, 4008, "Rate limited.")
                return
        data = msg.get("d")
        if op == OP_HEARTBEAT:
            conn.last_heartbeat = now
            conn.heartbeats += 1
            conn.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            self.state.bump()
        elif op == OP_IDENTIFY:
            await self._identify(conn, data)
        elif op == OP_RESUME:
            await self._resume(conn, data)
        elif conn.session is None:
            self._violate("gateway_not_authenticated", f"op {op} sent before IDENTIFY")
            await self._close(conn, 4003, "Not authenticated.")
        elif op == OP_PRESENCE:
            self.state.presence = data
        elif op == OP_REQUEST_MEMBERS:
            self._request_members(conn, data or {})
        elif op in (OP_VOICE_STATE, OP_REQUEST_SOUNDBOARD):
            pass
        else:
            self._violate("gateway_opcode", f"unknown opcode {op}")
            await self._close(conn, 4001, "Unknown opcode.")

    # -- identify / resume -----------------------------------------------------------------------
    async def _identify(self, conn: Connection, d: Any) -> None:
        loop = asyncio.get_running_loop()
        if conn.session is not None:
            self._violate("gateway_already_authenticated", "second IDENTIFY on one connection")
            await self._close(conn, 4005, "Already authenticated.")
            return
        if not isinstance(d, dict) or d.get("token") != self.token:
            self._violate("gateway_auth", "IDENTIFY with a wrong token")
            await self._close(conn, 4004, "Authentication failed.")
            return
        props = d.get("properties")
        if not isinstance(props, dict) or not {"os", "browser", "device"} <= props.keys():
            self._violate("gateway_identify", "IDENTIFY without properties.os/browser/device")
            await self._close(conn, 4001, "Unknown opcode.")
            return
        intents = d.get("intents")
        if not isinstance(intents, int) or intents & ~VALID_INTENTS:
            self._violate("gateway_intents", f"invalid intents {intents!r}")
            await self._close(conn, 4013, "Invalid intent(s).")
            return
        disallowed = intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents
        if disallowed:
            self._violate(
                "gateway_intents",
                f"privileged intents {disallowed} not enabled for this application",
            )
            await self._close(conn, 4014, "Disallowed intent(s).")
            return
        shard = d.get("shard")
        sharded = shard is not None
        shard_id, shard_count = shard if sharded else (0, 1)
        if not (isinstance(shard_count, int) and shard_count >= 1 and 0 <= shard_id < shard_count):
            self._violate("gateway_shard", f"invalid shard {shard!r}")
            await self._close(conn, 4010, "Invalid shard.")
            return
        if (
            self.identify_spacing is not None
            and loop.time() - self._last_identify < self.identify_spacing
        ):
            self._violate("identify_rate_limit", "IDENTIFY faster than max_concurrency allows")
            conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        self._last_identify = loop.time()
        self.identify_count += 1
        guild_ids = [
            g.id
            for g in self.state.guilds.values()
            if shard_for_guild(g.id, shard_count) == shard_id
        ]
        session = Session(
            id=secrets.token_hex(16),
            shard_id=shard_id,
            shard_count=shard_count,
            sharded=sharded,
            intents=intents,
            guild_ids=guild_ids,
        )
        self.sessions[session.id] = session
        self._attach(conn, session)
        app = self._application_flags()
        ready: dict[str, Any] = {
            "v": 10,
            "user_settings": {},
            "user": {
                **self.state.bot_user.payload(),
                "verified": True,
                "mfa_enabled": False,
                "email": None,
            },
            "session_type": "normal",
            "session_id": session.id,
            "resume_gateway_url": self.resume_url,
            "relationships": [],
            "private_channels": [],
            "presences": [],
            "guilds": [{"id": str(gid), "unavailable": True} for gid in guild_ids],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["local"],
            "auth": {},
            "application": {"id": str(self.state.bot_user.id), "flags": app},
            "_trace": ['["discord-standin",{"micros":0}]'],
        }
        if sharded:
            ready["shard"] = [shard_id, shard_count]
        self._dispatch(session, "READY", ready)
        with_members = bool(intents & INTENT_GUILD_PRESENCES)
        for gid in guild_ids:
            guild = self.state.guilds[gid]
            self._dispatch(
                session,
                "GUILD_CREATE",
                guild.create_payload(
                    include_members=with_members, bot_user_id=self.state.bot_user.id
                ),
            )
        session.ready_seq = session.seq
        self.state.bump()

    def _application_flags(self) -> int:
        flags = 0
        if self.allowed_privileged_intents & INTENT_GUILD_PRESENCES:
            flags |= 1 << 13
        if self.allowed_privileged_intents & INTENT_GUILD_MEMBERS:
            flags |= 1 << 15
        if self.allowed_privileged_intents & INTENT_MESSAGE_CONTENT:
            flags |= 1 << 19
        return flags

    async def _resume(self, conn: Connection, d: Any) -> None:
        if not isinstance(d, dict) or d.get("token") != self.token:
            self._violate("gateway_auth", "RESUME with a wrong token")
            await self._close(conn, 4004, "Authentication failed.")
            return
        self.resume_paths.append(conn.path)
        session = self.sessions.get(str(d.get("session_id")))
        seq = d.get("seq")
        if session is None or session.invalid or seq is None:
            conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        if not isinstance(seq, int) or seq > session.seq:
            self._violate(
                "gateway_resume", f"RESUME with seq {seq!r} beyond session seq {session.seq}"
            )
            await self._close(conn, 4007, "Invalid seq.")
            return
        missed = [p for p in session.buffer if p["s"] > seq]
        if missed and missed[0]["s"] != seq + 1:  # replay buffer no longer covers the gap
            session.invalid = True
            conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        if session.conn is not None and session.conn is not conn:
            await self._close(session.conn, 4000, "Session resumed elsewhere")
        self.resume_count += 1
        self._attach(conn, session)
        for payload in missed:
            conn.send(payload)
        self._dispatch(session, "RESUMED", {"_trace": ['["discord-standin",{"micros":0}]']})
        self.state.bump()

    def _attach(self, conn: Connection, session: Session) -> None:
        self._touch += 1
        session.touched = self._touch
        conn.session = session
        session.conn = conn

    def _request_members(self, conn: Connection, d: dict[str, Any]) -> None:
        session = conn.session
        assert session is not None
        gid = int(d.get("guild_id") or 0)
        guild = self.state.guilds.get(gid)
        if guild is None:
            return
        full_list = not d.get("user_ids") and d.get("query", "") == ""
        if full_list and not session.intents & INTENT_GUILD_MEMBERS:
            self._violate(
                "gateway_members", "requested the full member list without GUILD_MEMBERS intent"
            )
            return
        wanted = {int(u) for u in d.get("user_ids") or []}
        query = (d.get("query") or "").lower()
        members = [
            m
            for m in guild.members
            if (not wanted or m.user.id in wanted) and m.user.username.lower().startswith(query)
        ]
        limit = d.get("limit") or 0
        if limit:
            members = members[:limit]
        data: dict[str, Any] = {
            "guild_id": str(gid),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in wanted - {m.user.id for m in members}],
        }
        if d.get("nonce") is not None:
            data["nonce"] = d["nonce"]
        self._dispatch(session, "GUILD_MEMBERS_CHUNK", data)

    # -- dispatching -----------------------------------------------------------------------------
    def _dispatch(self, session: Session, event: str, data: Any) -> dict[str, Any]:
        payload = session.next_payload(event, data)
        if session.conn is not None:
            session.conn.send(payload)
        return payload

    @property
    def shard_sessions(self) -> dict[int, Session]:
        """Per shard id, the session events go to (freshest live one, else freshest valid one)."""
        best: dict[int, Session] = {}
        for session in self.sessions.values():
            if session.invalid:
                continue
            current = best.get(session.shard_id)
            rank = (session.conn is not None, session.touched)
            if current is None or rank > (current.conn is not None, current.touched):
                best[session.shard_id] = session
        return best

    def sessions_for_guild(self, guild_id: int | None) -> list[Session]:
        """Sessions that receive events for ``guild_id`` (DMs go to shard 0).

        Like Discord, every live session of the owning shard gets the event (two processes
        on one shard both see it); with none live, the freshest resumable session buffers it.
        """
        found: list[Session] = []
        for shard_id, best in self.shard_sessions.items():
            target = 0 if guild_id is None else shard_for_guild(guild_id, best.shard_count)
            if target != shard_id:
                continue
            live = [
                s
                for s in self.sessions.values()
                if not s.invalid
                and s.conn is not None
                and s.shard_id == shard_id
                and s.shard_count == best.shard_count
            ]
            found.extend(live or [best])
        return found

    def dispatch(
        self, guild_id: int | None, event: str, data: Any, *, required: bool = False
    ) -> int:
        """Send ``event`` to the shard owning ``guild_id``. Returns how many sessions got it."""
        sessions = self.sessions_for_guild(guild_id)
        if not sessions and required:
            raise NotConnected(
                f"no gateway session for {'DMs' if guild_id is None else f'guild {guild_id}'}; "
                "is the bot connected? (await standin.wait_ready())"
            )
        for session in sessions:
            self._dispatch(session, event, data)
        return len(sessions)

    def dispatch_message(
        self, event: str, data: dict[str, Any], guild_id: int | None, *, mentions_bot: bool
    ) -> None:
        """MESSAGE_* events, honouring GUILD_MESSAGES / DIRECT_MESSAGES / MESSAGE_CONTENT."""
        needed = INTENT_GUILD_MESSAGES if guild_id is not None else INTENT_DIRECT_MESSAGES
        for session in self.sessions_for_guild(guild_id):
            if not session.intents & needed:
                continue
            body = dict(data)
            own = body.get("author", {}).get("id") == str(self.state.bot_user.id)
            if not (
                session.intents & INTENT_MESSAGE_CONTENT or own or guild_id is None or mentions_bot
            ):
                body.update(content="", embeds=[], attachments=[], components=[])
            self._dispatch(session, event, body)

    # -- fault injection -----------------------------------------------------------------------
    def _live(self, shard_id: int | None) -> list[Connection]:
        return [
            s.conn
            for s in self.sessions.values()
            if s.conn is not None and (shard_id is None or s.shard_id == shard_id)
        ]

    async def drop(self, shard_id: int | None = None, *, code: int | None = None) -> int:
        """Cut live connections. ``code=None`` aborts TCP (a network drop); else a close frame."""
        conns = self._live(shard_id)
        for conn in conns:
            if conn.session is not None:
                conn.session.conn = None
            conn.server_closed = True
            if code is None:
                conn.closed = True
                transport = conn.request.transport
                if transport is not None:
                    transport.abort()
            else:
                await self._close(conn, code, "Dropped by test")
        self.state.bump()
        return len(conns)

    async def invalidate(self, shard_id: int | None = None, *, resumable: bool = False) -> None:
        for conn in self._live(shard_id):
            if not resumable and conn.session is not None:
                conn.session.invalid = True
            conn.send({"op": OP_INVALID_SESSION, "d": resumable, "s": None, "t": None})

    def request_reconnect(self, shard_id: int | None = None) -> None:
        for conn in self._live(shard_id):
            conn.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})

    async def close_all(self) -> None:
        for conn in list(self.connections):
            if not conn.closed:
                await self._close(conn, 1001, "Stand-in shutting down")

    # -- helpers -----------------------------------------------------------------------------
    async def _close(self, conn: Connection, code: int, reason: str) -> None:
        if conn.closed and conn.ws.closed:
            return
        conn.closed = True
        conn.server_closed = True
        conn.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await conn.ws.close(code=code, message=reason.encode())

    def _violate(self, kind: str, detail: str) -> None:
        self.state.violate(kind, detail, "WS", "/")

    @staticmethod
    def _who(conn: Connection) -> str:
        s = conn.session
        return "unidentified connection" if s is None else f"shard {s.shard_id}/{s.shard_count}"

    def ready(self) -> bool:
        """All shards of one shard count have a live session that got READY + GUILD_CREATEs."""
        live = [s for s in self.sessions.values() if not s.invalid and s.conn is not None]
        for count in {s.shard_count for s in live}:
            shards = {s.shard_id for s in live if s.shard_count == count and s.ready}
            if shards == set(range(count)):
                return True
        return False


def message_event_data(
    message_payload: dict[str, Any], guild_id: int | None, member: dict[str, Any] | None
) -> dict[str, Any]:
    """MESSAGE_CREATE/UPDATE body: the REST message plus ``guild_id``/``member`` in guilds."""
    data = dict(message_payload)
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
        if member is not None:
            data["member"] = member
    data.setdefault("timestamp", iso())
    return data
