"""The real WebhookSender against a fake Discord webhook endpoint.

discord.py sends every webhook request through the ``AsyncWebhookAdapter`` in the
``async_context`` ContextVar; :class:`FakeWebhookEndpoint` stands in for it and answers like
Discord: it stores the message (``wait=True``), or answers 404 / 10015 for a deleted webhook.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import discord
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

from bot.crypto import Vault
from bot.delivery.senders.webhook import WebhookSender
from bot.services import Services

_ids = itertools.count(1_300_000_000_000_000_000)


def webhook_url(webhook_id: int, token: str | None = None) -> str:
    return f"https://discord.com/api/webhooks/{webhook_id}/{token or 'T' * 68}"


class FakeWebhookEndpoint(AsyncWebhookAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[int, dict[str, Any]]] = []  # (webhook id, payload)
        self.gone: set[int] = set()
        self.failures: list[discord.HTTPException] = []

    def posts_to(self, webhook_id: int) -> list[dict[str, Any]]:
        return [p for wid, p in self.requests if wid == webhook_id]

    async def request(
        self,
        route: discord.http.Route,
        session: Any,
        *,
        payload: dict[str, Any] | None = None,
        multipart: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        webhook_id = int(route.webhook_id or 0)
        data = payload
        if data is None:
            part = next(p for p in multipart or [] if p.get("name") == "payload_json")
            data = json.loads(part["value"])
        self.requests.append((webhook_id, data))
        if webhook_id in self.gone:
            response = SimpleNamespace(status=404, reason="Not Found")
            raise discord.NotFound(response, {"code": 10015, "message": "Unknown Webhook"})  # type: ignore[arg-type]
        if self.failures:
            raise self.failures.pop(0)
        return {
            "id": str(next(_ids)),
            "channel_id": "1",
            "type": 0,
            "content": data.get("content") or "",
            "embeds": data.get("embeds") or [],
            "components": [],
            "flags": 0,
            "author": {
                "id": str(webhook_id),
                "username": data.get("username") or "hook",
                "discriminator": "0000",
                "avatar": None,
                "bot": True,
            },
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
            "webhook_id": str(webhook_id),
        }


def server_error() -> discord.HTTPException:
    response = SimpleNamespace(status=503, reason="Service Unavailable")
    return discord.DiscordServerError(response, {"code": 0, "message": "unavailable"})  # type: ignore[arg-type]


@contextmanager
def real_webhook_sender(s: Services) -> Iterator[tuple[WebhookSender, FakeWebhookEndpoint]]:
    """A real WebhookSender (with a never-logged-in client) wired into ``s``'s dispatcher."""
    client = discord.Client(intents=discord.Intents.none())
    client.http._HTTPClient__session = object()  # type: ignore[attr-defined]  # never used
    sender = WebhookSender(client, s.sessions, Vault(s.secret))
    endpoint = FakeWebhookEndpoint()
    s.dispatcher.senders = {**s.dispatcher.senders, "webhook": sender}
    s.webhooks.sender = sender
    reset = async_context.set(endpoint)
    try:
        yield sender, endpoint
    finally:
        async_context.reset(reset)
