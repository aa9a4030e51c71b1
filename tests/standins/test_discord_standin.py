"""Proves the Discord stand-in against real discord.py 2.7 running in-process.

A small bot defined here connects through the stand-in's gateway (zlib-stream) and REST API,
exactly as the production bot will, so every behaviour the e2e tests rely on is exercised by
the real client library first: sync, slash commands with options, deferral + follow-ups,
buttons, autocomplete, modals, DMs with nonce dedupe, closed DMs, 429 retries, double
responses, embed limits, sharding and gateway resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands, ui
from discord.ext import commands

from tests.standins.discord import (
    ClientWouldRefuse,
    DiscordStandin,
    Guild,
    default_guild,
    guild_id_on_shard,
    shard_for_guild,
)

pytestmark = pytest.mark.asyncio


# ----------------------------------------------------------------------------------------------
# Harness: point discord.py at the stand-in, run a bot in-process
# ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def pointed_at(standin: DiscordStandin):
    """The two documented assignments, restored afterwards so other tests see real Discord."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = standin.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(standin.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


class Captures:
    """Values the bot's handlers report back to the test, awaitable by key."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._events: dict[str, asyncio.Event] = {}

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value
        self._events.setdefault(key, asyncio.Event()).set()

    async def get(self, key: str, timeout: float = 5.0) -> Any:
        await asyncio.wait_for(self._events.setdefault(key, asyncio.Event()).wait(), timeout)
        return self.values[key]


class FeedbackModal(ui.Modal, title="Feedback"):
    """Uses discord.ui.Label (TextInput labels are deprecated since 2.6)."""

    text: ui.Label[FeedbackModal] = ui.Label(
        text="Your feedback",
        component=ui.TextInput(custom_id="fb_text", max_length=50),
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        value = self.text.component.value  # type: ignore[union-attr]
        await interaction.response.send_message(f"thanks: {value}", ephemeral=True)


class ConfirmView(ui.View):
    @ui.button(label="Confirm", custom_id="confirm", style=discord.ButtonStyle.success)
    async def confirm(
        self, interaction: discord.Interaction, button: ui.Button[ConfirmView]
    ) -> None:
        await interaction.response.edit_message(
            content=f"confirmed by {interaction.user.name}", view=None
        )


RULES = ["bike", "bike rack", "car", "camera"]


def add_commands(bot: commands.Bot, captured: Captures) -> None:
    tree = bot.tree

    @tree.command(name="echo", description="Echo text back")
    @app_commands.describe(text="What to echo", times="Repeat count")
    async def echo(
        interaction: discord.Interaction, text: str, times: app_commands.Range[int, 1, 5] = 1
    ) -> None:
        await interaction.response.send_message(" ".join([text] * times), ephemeral=True)

    alert = app_commands.Group(name="alert", description="Deal alerts")

    @alert.command(name="create", description="Create an alert")
    async def create(
        interaction: discord.Interaction,
        query: str,
        max_price: app_commands.Range[float, 0, 10_000] | None = None,
        channel: discord.TextChannel | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        where = channel.name if channel else "-"
        captured.set("create", (query, max_price, where, interaction.permissions.manage_guild))
        await interaction.followup.send(
            f"created {query} <= {max_price} in {where}", ephemeral=True
        )
        await interaction.followup.send("tip: use /alert edit", ephemeral=True)

    @alert.command(name="edit", description="Edit an alert")
    async def edit(interaction: discord.Interaction, rule: str) -> None:
        await interaction.response.send_message(f"editing {rule}", ephemeral=True)

    @edit.autocomplete("rule")
    async def rule_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"Rule {r}", value=r) for r in RULES if r.startswith(current)
        ]

    tree.add_command(alert)

    @tree.command(name="settings", description="Server settings (admins only)")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def settings(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("settings", ephemeral=True)

    @tree.command(name="menu", description="Show a button")
    async def menu(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Confirm?", view=ConfirmView(), ephemeral=True)

    @tree.command(name="feedback", description="Open a modal")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(FeedbackModal())

    @tree.command(name="double", description="Wrongly answers twice")
    async def double(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("one")
        interaction.response._response_type = None  # bypass discord.py's own guard
        try:
            await interaction.response.send_message("two")
        except discord.HTTPException as exc:
            captured.set("double", exc)

    @tree.command(name="report", description="Replies with a file, then edits the reply")
    async def report(
        interaction: discord.Interaction, photo: discord.Attachment | None = None
    ) -> None:
        await interaction.response.defer(thinking=True)
        size = len(await photo.read()) if photo else 0  # downloads from the stand-in's CDN
        await interaction.edit_original_response(
            content=f"report ready ({size} bytes in)",
            attachments=[discord.File(io.BytesIO(b"id,price\n1,120\n"), "report.csv")],
        )

    @tree.command(name="slowack", description="Responds only after the test opens the gate")
    async def slowack(interaction: discord.Interaction) -> None:
        await captured.get("gate")
        try:
            await interaction.response.send_message("finally")
        except discord.NotFound as exc:
            captured.set("slowack", exc)

    @bot.listen()
    async def on_message(message: discord.Message) -> None:
        if not message.author.bot:
            captured.set(f"seen:{message.id}", message.content)

    @tree.command(name="bigembed", description="Sends an embed over Discord's limits")
    async def bigembed(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message(
                embed=discord.Embed(title="t", description="x" * 4097)
            )
        except discord.HTTPException as exc:
            captured.set("bigembed", exc)
            await interaction.response.send_message("too big", ephemeral=True)


def make_bot(
    captured: Captures, *, sharded: bool = False, intents: discord.Intents | None = None
) -> commands.Bot:
    cls = commands.AutoShardedBot if sharded else commands.Bot
    intents = intents or discord.Intents.default()
    bot = cls(command_prefix="!", intents=intents, guild_ready_timeout=0.05)

    async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s between IDENTIFYs (max_concurrency 1); not needed here."""

    bot.before_identify_hook = no_identify_delay  # type: ignore[method-assign]
    add_commands(bot, captured)
    return bot


@contextlib.asynccontextmanager
async def running(bot: commands.Bot, standin: DiscordStandin) -> AsyncIterator[commands.Bot]:
    with pointed_at(standin):
        task = asyncio.create_task(bot.start(standin.token))
        try:
            ready = asyncio.create_task(standin.wait_ready(10))
            done, _ = await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
            if task in done:
                ready.cancel()
                task.result()
                raise AssertionError("bot stopped before READY")
            ready.result()
            yield bot
        finally:
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)


async def sync_to(bot: commands.Bot, guild: Guild) -> list[app_commands.AppCommand]:
    """The development sync: copy global commands into one guild and sync that guild."""
    target = discord.Object(id=guild.id)
    bot.tree.copy_global_to(guild=target)
    return await bot.tree.sync(guild=target)


@pytest.fixture
async def standin() -> AsyncIterator[DiscordStandin]:
    async with DiscordStandin(heartbeat_interval=0.25) as s:
        yield s


@pytest.fixture
def captured() -> Captures:
    return Captures()


@pytest.fixture
async def bot(standin: DiscordStandin, captured: Captures) -> AsyncIterator[commands.Bot]:
    async with running(make_bot(captured), standin) as b:
        await sync_to(b, standin.guild)
        await standin.wait_commands(names=["echo", "alert"])
        yield b


# ----------------------------------------------------------------------------------------------
# Connection
# ----------------------------------------------------------------------------------------------


async def test_connects_with_zlib_stream_ready_and_heartbeats(
    standin: DiscordStandin, captured: Captures
) -> None:
    bot = make_bot(captured)
    async with running(bot, standin):
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        conn = standin.gateway.connections[-1]
        # zlib-stream here; discord.py asks for zstd-stream when ``zstandard`` is importable,
        # which the stand-in serves too.
        assert conn.compression == discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
        assert conn.compression in ("zlib-stream", "zstd-stream")
        assert bot.user is not None and bot.user.id == standin.bot_user.id
        assert bot.application_id == standin.application_id
        guild = bot.get_guild(standin.guild.id)
        assert guild is not None and guild.me is not None
        names = {c.name for c in guild.text_channels}
        assert {"general", "alerts", "marketplace"} <= names
        assert guild.get_role(standin.guild.role("Admin").id).permissions.manage_guild  # type: ignore[union-attr]
        await standin.state.wait_for(lambda: conn.heartbeats >= 3, 5, "three heartbeats")
        assert bot.latency < 1.0
        counts = standin.request_counts()
        assert counts["GET /users/@me"] == 1
        assert counts["GET /oauth2/applications/@me"] == 1
    standin.assert_clean()


# ----------------------------------------------------------------------------------------------
# Slash commands
# ----------------------------------------------------------------------------------------------


async def test_sync_stores_schema_and_command_with_options_responds(
    standin: DiscordStandin, bot: commands.Bot
) -> None:
    echo = standin.state.find_command("echo", standin.guild.id)
    assert echo is not None
    times = next(o for o in echo["options"] if o["name"] == "times")
    assert (times["min_value"], times["max_value"], times.get("required", False)) == (1, 5, False)

    user = standin.guild.plain[0]
    ix = await standin.invoke(user, "echo", options={"text": "hi", "times": 3})
    reply = await ix.response(timeout=5)
    assert reply.type == 4
    assert reply.content == "hi hi hi"
    assert reply.ephemeral and reply.flags & 64
    assert standin.channel_messages("general") == []  # ephemeral: nobody else sees it

    with pytest.raises(ClientWouldRefuse, match="outside"):
        await standin.invoke(user, "echo", options={"text": "hi", "times": 9})
    with pytest.raises(ClientWouldRefuse, match="no option"):
        await standin.invoke(user, "echo", options={"text": "hi", "loud": True})
    with pytest.raises(ClientWouldRefuse, match="required option"):
        await standin.invoke(user, "echo", options={})
    with pytest.raises(ClientWouldRefuse, match="not a synced command"):
        await standin.invoke(user, "nosuch")

    # default_member_permissions (MANAGE_GUILD) hides the command from plain members.
    with pytest.raises(ClientWouldRefuse, match="default_member_permissions"):
        await standin.invoke(user, "settings")
    for allowed in (standin.guild.admin, standin.guild.owner):
        assert (await (await standin.invoke(allowed, "settings")).response()).content == "settings"
    standin.assert_clean()


async def test_deferred_response_resolves_through_followups(
    standin: DiscordStandin, bot: commands.Bot, captured: Captures
) -> None:
    admin = standin.guild.admin
    alerts = standin.guild.channel("alerts")
    ix = await standin.invoke(
        admin, "alert create", options={"query": "bike", "max_price": 250.5, "channel": alerts}
    )
    reply = await ix.response(timeout=5)
    assert reply.type == 5
    # Discord turns the first follow-up after a deferred reply into the edit of @original.
    assert reply.content == "created bike <= 250.5 in alerts"
    assert reply.ephemeral
    followups = await ix.wait_followups(1)
    assert [m.content for m in followups] == ["tip: use /alert edit"]
    assert await captured.get("create") == ("bike", 250.5, "alerts", True)
    standin.assert_clean()


async def test_button_click_updates_message(standin: DiscordStandin, bot: commands.Bot) -> None:
    user = standin.guild.plain[1]
    reply = await (await standin.invoke(user, "menu")).response()
    assert reply.message is not None and reply.message.custom_ids == ["confirm"]
    with pytest.raises(ClientWouldRefuse, match="ephemeral"):
        await standin.click(standin.guild.plain[2], reply.message, "confirm")
    click = await standin.click(user, reply.message, "confirm")
    update = await click.response()
    assert update.type == 7
    assert update.content == f"confirmed by {user.username}"
    assert update.components == []
    standin.assert_clean()


async def test_autocomplete_returns_choices(standin: DiscordStandin, bot: commands.Bot) -> None:
    choices = await standin.autocomplete(
        standin.guild.plain[0], "alert edit", focused="rule", options={"rule": "bi"}
    )
    assert [c["value"] for c in choices] == ["bike", "bike rack"]
    with pytest.raises(ClientWouldRefuse, match="no autocomplete"):
        await standin.autocomplete(standin.guild.plain[0], "echo", focused="text")
    standin.assert_clean()


async def test_modal_submit(standin: DiscordStandin, bot: commands.Bot) -> None:
    user = standin.guild.plain[3]
    opened = await (await standin.invoke(user, "feedback")).response()
    assert opened.type == 9 and opened.modal is not None
    assert opened.modal.title == "Feedback"
    with pytest.raises(ClientWouldRefuse, match="length"):
        await standin.submit_modal(user, opened.modal.custom_id, {"fb_text": "x" * 51})
    submitted = await standin.submit_modal(user, values={"fb_text": "great bot"})
    reply = await submitted.response()
    assert reply.content == "thanks: great bot"
    standin.assert_clean()


# ----------------------------------------------------------------------------------------------
# DMs
# ----------------------------------------------------------------------------------------------


async def test_dm_with_nonce_is_deduplicated(standin: DiscordStandin, bot: commands.Bot) -> None:
    user = standin.guild.plain[0]
    first = await bot.http.start_private_message(user.id)
    second = await bot.http.start_private_message(user.id)
    assert first["id"] == second["id"]  # one DM channel per recipient

    dm = await bot.create_dm(discord.Object(id=user.id))
    a = await dm.send("New deal: bike $120", nonce="deal-42")
    b = await dm.send("New deal: bike $120", nonce="deal-42")  # a retry after a timeout
    assert a.id == b.id
    dms = await standin.wait_dm(user, count=1)
    assert [m.content for m in dms] == ["New deal: bike $120"]
    assert len(standin.state.nonce_replays) == 1
    await dm.send("different nonce")
    assert len(standin.dms(user)) == 2
    standin.assert_clean()


async def test_closed_dms_raise_forbidden_50007(standin: DiscordStandin, bot: commands.Bot) -> None:
    user = standin.guild.plain[4]
    standin.close_dms(user)
    dm = await bot.create_dm(discord.Object(id=user.id))
    with pytest.raises(discord.Forbidden) as info:
        await dm.send("deal")
    assert info.value.code == 50007
    assert info.value.status == 403
    assert standin.dms(user) == []
    assert standin.invalid_request_count == 1  # counts toward the Cloudflare threshold
    standin.assert_clean()  # Discord's answer, not a protocol violation


# ----------------------------------------------------------------------------------------------
# Faults and violations
# ----------------------------------------------------------------------------------------------


async def test_429_is_retried_by_discord_py_and_delivered_once(
    standin: DiscordStandin, bot: commands.Bot
) -> None:
    alerts = standin.guild.channel("alerts")
    standin.inject_429("POST /channels/*/messages", count=1, retry_after=0.1)
    sent = await bot.get_partial_messageable(alerts.id).send("Deal: camera $80")
    attempts = standin.requests_matching("POST /channels/{channel_id}/messages")
    assert [r.status for r in attempts] == [429, 200]
    messages = standin.channel_messages(alerts)
    assert [m.id for m in messages] == [sent.id]
    standin.assert_clean()


async def test_double_response_records_40060(
    standin: DiscordStandin, bot: commands.Bot, captured: Captures
) -> None:
    ix = await standin.invoke(standin.guild.plain[0], "double")
    assert (await ix.response()).content == "one"
    exc = await captured.get("double")
    assert isinstance(exc, discord.HTTPException) and exc.code == 40060
    assert [v.kind for v in standin.take_violations()] == ["double_ack"]
    standin.assert_clean()


async def test_oversized_embed_rejected_with_50035(
    standin: DiscordStandin, bot: commands.Bot, captured: Captures
) -> None:
    ix = await standin.invoke(standin.guild.plain[0], "bigembed")
    assert (await ix.response()).content == "too big"
    exc = await captured.get("bigembed")
    assert isinstance(exc, discord.HTTPException) and exc.code == 50035
    assert "data.embeds.0.description" in exc.text and "4096" in exc.text
    violations = standin.take_violations("invalid_form_body")
    assert len(violations) == 1
    with pytest.raises(discord.HTTPException) as info:
        await bot.get_partial_messageable(standin.guild.channel("general").id).send("y" * 2001)
    assert info.value.code == 50035 and "content" in info.value.text
    with pytest.raises(AssertionError, match="invalid_form_body"):
        standin.assert_clean()
    standin.take_violations()


async def test_protocol_details_without_a_bot(standin: DiscordStandin) -> None:
    """Content-Type, 429 shape, unknown routes, follow-up before ack, late ack, token expiry."""
    standin.preload_commands(
        [{"name": "ping", "description": "Ping", "type": 1}], guild=standin.guild
    )
    headers = {"Authorization": f"Bot {standin.token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{standin.api_base}/users/@me", headers=headers) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert {
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
                "X-RateLimit-Reset-After",
                "X-RateLimit-Bucket",
            } <= set(resp.headers)
        async with http.get(f"{standin.api_base}/gateway/bot", headers=headers) as resp:
            body = await resp.json()
            assert body["url"].startswith("ws://127.0.0.1") and body["shards"] == 1
        standin.inject_429("GET /users/@me", retry_after=0.25)
        async with http.get(f"{standin.api_base}/users/@me", headers=headers) as resp:
            assert resp.status == 429 and resp.headers["Via"] == "1.1 google"
            assert json.loads(await resp.text()) == {
                "message": "You are being rate limited.",
                "retry_after": 0.25,
                "global": False,
                "code": 0,
            }
        async with http.get(f"{standin.api_base}/users/@me", headers={}) as resp:
            assert resp.status == 401
        async with http.get(f"{standin.api_base}/nope", headers=headers) as resp:
            assert resp.status == 404

        # Interactions without a connected bot: build records directly.
        record = standin.factory.command(
            standin.guild.plain[0], "ping", {}, guild=standin.guild, channel=None
        )
        url = f"{standin.api_base}/webhooks/{standin.application_id}/{record.token}"
        async with http.post(url, params={"wait": "1"}, json={"content": "early"}) as resp:
            assert resp.status == 404 and (await resp.json())["code"] == 10015
        standin.advance_time(3.5)
        cb = f"{standin.api_base}/interactions/{record.id}/{record.token}/callback"
        async with http.post(
            cb, params={"with_response": "1"}, json={"type": 4, "data": {"content": "late"}}
        ) as resp:
            assert resp.status == 404 and (await resp.json())["code"] == 10062

        fresh = standin.factory.command(
            standin.guild.plain[0], "ping", {}, guild=standin.guild, channel=None
        )
        cb = f"{standin.api_base}/interactions/{fresh.id}/{fresh.token}/callback"
        async with http.post(cb, json={"type": 4, "data": {"content": "pong"}}) as resp:
            assert resp.status == 204  # no with_response → no body, like Discord
        standin.advance_time(15 * 60 + 1)
        url = f"{standin.api_base}/webhooks/{standin.application_id}/{fresh.token}"
        async with http.post(url, params={"wait": "1"}, json={"content": "too late"}) as resp:
            assert resp.status == 401 and (await resp.json())["code"] == 50027

    kinds = [v.kind for v in standin.take_violations()]
    assert kinds == [
        "unauthorized",
        "unknown_route",
        "followup_before_ack",
        "late_ack",
        "interaction_token_expired",
    ]
    assert [r.path for r in standin.state.unknown_routes] == ["/nope"]


async def test_webhook_gone_is_404_10015(standin: DiscordStandin, bot: commands.Bot) -> None:
    hook = standin.add_webhook("alerts", "Deals")
    webhook = discord.Webhook.from_url(hook.url, client=bot)
    sent = await webhook.send("deal via webhook", wait=True)
    assert standin.channel_messages("alerts")[-1].id == sent.id
    standin.webhook_gone(hook)
    with pytest.raises(discord.NotFound) as info:
        await webhook.send("again", wait=True)
    assert info.value.code == 10015
    standin.assert_clean()


# ----------------------------------------------------------------------------------------------
# Sharding and reconnects
# ----------------------------------------------------------------------------------------------


async def test_autosharded_bot_with_two_shards(captured: Captures) -> None:
    guilds = [
        default_guild("Shard Zero", id=guild_id_on_shard(0, 2)),
        default_guild("Shard One", id=guild_id_on_shard(1, 2)),
    ]
    async with DiscordStandin(guilds=guilds, shard_count=2, heartbeat_interval=0.25) as standin:
        bot = make_bot(captured, sharded=True)
        async with running(bot, standin):
            assert bot.shard_count == 2
            assert set(standin.gateway.shard_sessions) == {0, 1}
            await asyncio.wait_for(bot.wait_until_ready(), 5)
            for g in guilds:
                guild = bot.get_guild(g.id)
                assert guild is not None and guild.shard_id == shard_for_guild(g.id, 2)
            await sync_to(bot, guilds[1])
            session1 = standin.gateway.shard_sessions[1]
            before = session1.seq
            ix = await standin.invoke(
                guilds[1].plain[0], "echo", options={"text": "sharded"}, guild=guilds[1]
            )
            assert (await ix.response()).content == "sharded"
            assert session1.seq == before + 1  # routed to shard 1 only
        standin.assert_clean()


async def test_gateway_drop_then_resume_replays_missed_events(
    standin: DiscordStandin, bot: commands.Bot
) -> None:
    assert await standin.drop_gateway() == 1
    # Dispatched while the socket is down: buffered and replayed on RESUME.
    ix = await standin.invoke(standin.guild.plain[0], "echo", options={"text": "after drop"})
    assert (await ix.response(timeout=10)).content == "after drop"
    assert standin.gateway.resume_count == 1
    assert standin.gateway.resume_paths == ["/resume"]  # used resume_gateway_url
    assert standin.gateway.identify_count == 1

    await standin.invalidate_session()  # not resumable: the client must IDENTIFY again
    await standin.state.wait_for(lambda: standin.gateway.identify_count == 2, 10, "re-IDENTIFY")
    await standin.wait_ready()
    ix = await standin.invoke(standin.guild.plain[0], "echo", options={"text": "after identify"})
    assert (await ix.response(timeout=10)).content == "after identify"
    standin.assert_clean()


# ----------------------------------------------------------------------------------------------
# Files, DM context, message events, deadlines, intents
# ----------------------------------------------------------------------------------------------


async def test_files_attachment_option_and_edit_original(
    standin: DiscordStandin, bot: commands.Bot
) -> None:
    user = standin.guild.plain[0]
    ix = await standin.invoke(user, "report", attachments={"photo": ("bike.jpg", b"\xff\xd8" * 50)})
    reply = await ix.response()
    assert reply.type == 5 and reply.content == "report ready (100 bytes in)"
    assert not reply.ephemeral
    [attachment] = reply.message.attachments  # type: ignore[union-attr]
    assert attachment["filename"] == "report.csv"
    async with aiohttp.ClientSession() as http, http.get(attachment["url"]) as resp:
        assert await resp.read() == b"id,price\n1,120\n"
    edit = standin.requests_matching("PATCH /webhooks/*/*/messages/@original")[0]
    assert edit.files and edit.files[0][0] == "report.csv"  # multipart with payload_json + files[0]

    marketplace = standin.guild.channel("marketplace")
    sent = await bot.get_partial_messageable(marketplace.id).send(
        "listing", file=discord.File(io.BytesIO(b"png"), "pic.png")
    )
    assert sent.attachments[0].filename == "pic.png"
    assert standin.channel_messages(marketplace)[0].attachments[0]["size"] == 3
    standin.assert_clean()


async def test_command_in_dm_context(standin: DiscordStandin, bot: commands.Bot) -> None:
    user = standin.guild.plain[2]
    with pytest.raises(ClientWouldRefuse, match="not a synced command"):
        await standin.invoke(user, "echo", options={"text": "x"}, guild=None)  # guild-only so far
    await bot.tree.sync()  # global commands are available in the bot's DMs
    await standin.wait_commands(guild=None, names=["echo"])
    ix = await standin.invoke(user, "echo", options={"text": "in dm"}, guild=None)
    reply = await ix.response()
    assert ix.payload["context"] == 1 and "user" in ix.payload and "member" not in ix.payload
    assert reply.message is not None and reply.message.channel_id == standin.dm_channel_id(user)
    standin.assert_clean()


async def test_500_after_commit_is_safe_thanks_to_nonce(
    standin: DiscordStandin, bot: commands.Bot
) -> None:
    user = standin.guild.plain[1]
    dm = await bot.create_dm(discord.Object(id=user.id))
    standin.inject_500("POST /channels/*/messages", commit_first=True)
    await dm.send("deal once")  # discord.py retries after 1 s with the same nonce
    assert [r.status for r in standin.requests_matching("POST /channels/*/messages")] == [500, 200]
    assert [m.content for m in standin.dms(user)] == ["deal once"]
    standin.assert_clean()


async def test_message_create_honours_message_content_intent(
    standin: DiscordStandin, bot: commands.Bot, captured: Captures
) -> None:
    seller = standin.guild.plain[5]
    plain = await standin.user_message(seller, "marketplace", "Selling: bike $100")
    assert await captured.get(f"seen:{plain.id}") == ""  # no MESSAGE_CONTENT intent
    mention = await standin.user_message(
        seller, "marketplace", f"<@{standin.bot_user.id}> bike $100"
    )
    assert await captured.get(f"seen:{mention.id}") == f"<@{standin.bot_user.id}> bike $100"
    standin.assert_clean()


async def test_late_initial_response_is_unknown_interaction(
    standin: DiscordStandin, bot: commands.Bot, captured: Captures
) -> None:
    ix = await standin.invoke(standin.guild.plain[0], "slowack")
    await standin.state.wait_for(lambda: ix.delivered_at is not None, 5, "delivery")
    standin.advance_time(3.5)  # as if the handler spent 3.5 s before answering
    captured.set("gate", True)
    exc = await captured.get("slowack")
    assert exc.code == 10062
    assert [v.kind for v in standin.take_violations()] == ["late_ack"]


async def test_disallowed_privileged_intent_closes_4014(
    standin: DiscordStandin, captured: Captures
) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    bot = make_bot(captured, intents=intents)
    with pointed_at(standin), pytest.raises(discord.PrivilegedIntentsRequired):
        await asyncio.wait_for(bot.start(standin.token), 10)
    await bot.close()
    assert [v.kind for v in standin.take_violations()] == ["gateway_intents"]


async def test_route_buckets_are_honoured_by_discord_py(captured: Captures) -> None:
    limits = {"POST /channels/{channel_id}/messages": (2, 0.3)}
    async with DiscordStandin(route_limits=limits, heartbeat_interval=0.25) as standin:
        bot = make_bot(captured)
        async with running(bot, standin):
            alerts = bot.get_partial_messageable(standin.guild.channel("alerts").id)
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.gather(*(alerts.send(f"deal {i}") for i in range(5)))
            assert loop.time() - started >= 0.5  # 5 sends through a 2-per-0.3 s bucket
            assert len(standin.channel_messages("alerts")) == 5
            assert all(
                r.status == 200 for r in standin.requests_matching("POST /channels/*/messages")
            )

            # A client that ignores the headers gets Discord's 429, and it is a violation.
            url = f"{standin.api_base}/channels/{standin.guild.channel('general').id}/messages"
            headers = {"Authorization": f"Bot {standin.token}"}
            async with aiohttp.ClientSession() as http:
                statuses = []
                for i in range(3):
                    async with http.post(url, json={"content": f"raw {i}"}, headers=headers) as r:
                        statuses.append(r.status)
            assert statuses == [200, 200, 429]
        assert [v.kind for v in standin.take_violations()] == ["rate_limit_exceeded"]
        standin.assert_clean()
