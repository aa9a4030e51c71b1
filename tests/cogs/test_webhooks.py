"""/prefs webhook and /prefs channel-order, routed through discord.py's CommandTree; webhook
alerts through the real WebhookSender and discord.py's webhook code (the harness answers the
webhook's execute requests like Discord)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import pytest

from db.repositories.preferences import PreferencesRepository
from tests.cogs.harness import GUILD_ID, Harness, _payload_of
from tests.cogs.test_alerts import ALICE, BOB, assert_field_error, make_rule, sell

HOOK_CHANNEL = 600_000_000_000_000_020


@pytest.fixture(autouse=True)
def no_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real HTTP request may leave the process (a user-supplied host least of all)."""

    async def refuse(self: Any, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"an HTTP request was made: {method} {url}")

    monkeypatch.setattr(aiohttp.ClientSession, "_request", refuse)


async def stored_webhook(h: Harness, user: int = ALICE) -> tuple[int | None, bool]:
    status = await h.services.webhooks.status(user)
    return status.webhook_id, status.disabled


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("https://example.com/api/webhooks/123456789012345678/" + "t" * 68, id="other"),
        pytest.param("https://127.0.0.1/api/webhooks/123456789012345678/" + "t" * 68, id="ip"),
        pytest.param("http://discord.com/api/webhooks/123456789012345678/" + "t" * 68, id="http"),
        pytest.param(
            "https://discord.com.evil.io/api/webhooks/123456789012345678/" + "t" * 68,
            id="lookalike",
        ),
        pytest.param("https://discord.com/channels/1/2", id="not-a-webhook"),
    ],
)
async def test_set_refuses_anything_but_a_discord_webhook_url(h: Harness, url: str) -> None:
    reply = await h.invoke(ALICE, "prefs webhook set", url=url)
    assert_field_error(reply, "url")
    assert await stored_webhook(h) == (None, False)
    assert h.posts == []


async def test_set_test_and_remove(h: Harness) -> None:
    hook = h.add_webhook(HOOK_CHANNEL)
    reply = await h.invoke(ALICE, "prefs webhook set", url=hook.url)
    assert reply.content and reply.content.startswith("✅") and str(hook.id) in reply.content
    assert hook.token not in reply.content
    assert await stored_webhook(h) == (hook.id, False)

    tested = await h.invoke(ALICE, "prefs webhook test")
    assert tested.content and tested.content.startswith("✅"), tested
    (post,) = h.posts_in(HOOK_CHANNEL)
    assert post.payload["username"] == "Deal Scout"
    assert post.embeds[0]["title"] == "Sample: vintage oak desk"
    assert post.allowed_mentions == {"parse": []}

    shown = await h.invoke(ALICE, "prefs show")
    assert f"webhook {hook.id} (✅ set)" in shown.text and hook.token not in shown.text

    removed = await h.invoke(ALICE, "prefs webhook remove")
    assert removed.content and "Removed your webhook" in removed.content
    assert await stored_webhook(h) == (None, False)
    again = await h.invoke(ALICE, "prefs webhook remove")
    assert again.content == "You had no webhook; nothing changed."
    nothing = await h.invoke(ALICE, "prefs webhook test")
    assert nothing.content and "you have no webhook" in nothing.content


async def test_the_url_is_encrypted_at_rest(h: Harness) -> None:
    hook = h.add_webhook(HOOK_CHANNEL)
    await h.invoke(ALICE, "prefs webhook set", url=hook.url)
    async with h.services.sessions() as session:
        row = await PreferencesRepository(session).get(ALICE)
    assert row is not None and row.webhook_encrypted
    assert hook.token not in row.webhook_encrypted and "discord" not in row.webhook_encrypted


async def test_a_deleted_webhook_fails_the_test_and_is_disabled(h: Harness) -> None:
    hook = h.add_webhook(HOOK_CHANNEL)
    await h.invoke(ALICE, "prefs webhook set", url=hook.url)
    hook.gone = True
    reply = await h.invoke(ALICE, "prefs webhook test")
    assert reply.content and reply.content.startswith("❌") and "deleted" in reply.content
    assert await stored_webhook(h) == (hook.id, True)
    shown = await h.invoke(ALICE, "prefs show")
    assert "deleted in Discord" in shown.text
    refused = await h.invoke(ALICE, "prefs channels", value="dm,webhook")
    assert_field_error(refused, "channels")


async def test_webhook_alerts_are_posted_through_the_webhook(h: Harness) -> None:
    hook = h.add_webhook(HOOK_CHANNEL)
    await h.invoke(ALICE, "prefs webhook set", url=hook.url)
    created = await h.invoke(
        ALICE, "alert create", name="Desks", keywords="desk", channels="webhook"
    )
    assert "Desks" in created.text
    await sell(h, BOB, "Oak desk")
    await h.deliver()
    (post,) = h.posts_in(HOOK_CHANNEL)
    assert post.embeds[0]["title"] == "Oak desk"
    assert "New match for your alert **Desks**" in (post.content or "")
    assert not post.components, "webhooks not owned by the app cannot carry buttons"
    assert h.dms_to(ALICE) == []


async def test_prefs_channels_accepts_webhook_once_one_is_set(h: Harness) -> None:
    refused = await h.invoke(ALICE, "prefs channels", value="webhook")
    assert_field_error(refused, "channels")
    hook = h.add_webhook(HOOK_CHANNEL)
    await h.invoke(ALICE, "prefs webhook set", url=hook.url)
    reply = await h.invoke(ALICE, "prefs channels", value="dm,webhook")
    assert reply.content and "Discord webhook" in reply.content


async def test_channel_order_is_validated_saved_and_shown(h: Harness) -> None:
    reply = await h.invoke(ALICE, "prefs channel-order", order="webhook,dm,email")
    assert reply.content and reply.content.startswith("✅"), reply
    assert "~~Discord webhook~~ → DM → ~~email~~" in reply.content, "not set up: struck out"
    assert (await h.services.preferences.show(ALICE)).channel_order == ("webhook", "dm", "email")

    bad = await h.invoke(ALICE, "prefs channel-order", order="dm,pigeon")
    assert_field_error(bad, "order")
    twice = await h.invoke(ALICE, "prefs channel-order", order="dm,email,dm")
    assert_field_error(twice, "order")
    assert (await h.services.preferences.show(ALICE)).channel_order == ("webhook", "dm", "email")

    await h.services.admin.set_alert_channel(GUILD_ID, 42)
    reset = await h.invoke(ALICE, "prefs channel-order", order="default")
    assert reset.content and "DM → ~~Discord webhook~~" in reset.content
    assert "server alert channel" in reset.content and "~~server alert channel~~" not in (
        reset.content
    )
    assert (await h.services.preferences.show(ALICE)).channel_order == ()
    shown = await h.invoke(ALICE, "prefs show")
    assert "DM → Discord webhook → email → SMS → server alert channel" in shown.text


async def test_channel_order_autocomplete(h: Harness) -> None:
    values = await h.autocomplete(ALICE, "prefs channel-order", focused="order", value="webhook")
    assert values and all("webhook" in v for v in values)


async def test_the_failover_goes_through_the_webhook_when_dms_fail(h: Harness) -> None:
    """A routed flow: DM closed (the fake Discord refuses with 50007) → the webhook."""
    hook = h.add_webhook(HOOK_CHANNEL)
    await h.invoke(ALICE, "prefs webhook set", url=hook.url)
    await make_rule(h, ALICE, "Desks")
    http: Any = h.bot.http
    real_send = http.send_message

    async def refuse_dms(channel_id: int, *, params: Any) -> Any:
        if channel_id != HOOK_CHANNEL and "New match" in (
            _payload_of(params.payload, params.multipart).get("content") or ""
        ):
            response: Any = SimpleNamespace(status=403, reason="Forbidden")
            raise discord.Forbidden(response, {"code": 50007, "message": "Cannot send"})
        return await real_send(channel_id, params=params)

    http.send_message = refuse_dms
    await sell(h, BOB, "Oak desk")
    await h.deliver()
    (post,) = h.posts_in(HOOK_CHANNEL)
    assert post.embeds[0]["title"] == "Oak desk"
    assert "DMs are closed" in (post.content or "")
