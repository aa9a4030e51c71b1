"""Map discord.py's exceptions to retry decisions, by Discord's own error codes."""

from __future__ import annotations

import asyncio

import aiohttp
import discord

from bot.delivery.senders.base import SendError

DMS_CLOSED = 50007
NO_MUTUAL_GUILD = 50278
OPENING_DMS_TOO_FAST = 40003
UNKNOWN_CHANNEL = 10003
MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013


def classify(exc: BaseException) -> SendError:
    """Turn a failed Discord call into a :class:`SendError` the dispatcher understands."""
    if isinstance(exc, discord.Forbidden):
        if exc.code in (DMS_CLOSED, NO_MUTUAL_GUILD):
            return SendError("DMs closed", permanent=True, unreachable=True)
        if exc.code in (MISSING_ACCESS, MISSING_PERMISSIONS):
            return SendError("missing permission in the alert channel", permanent=True)
        return SendError(f"forbidden ({exc.code})", permanent=True)
    if isinstance(exc, discord.NotFound):
        return SendError(f"channel not found ({exc.code})", permanent=True)
    if isinstance(exc, discord.HTTPException):
        if exc.code == OPENING_DMS_TOO_FAST:
            return SendError("opening DMs too fast", permanent=False, retry_after=30.0)
        if exc.status == 429:
            retry = getattr(exc.response, "headers", {}).get("Retry-After")
            return SendError(
                "rate limited", permanent=False, retry_after=float(retry) if retry else None
            )
        if exc.status >= 500:
            return SendError(f"Discord error {exc.status}", permanent=False)
        return SendError(f"rejected by Discord ({exc.status}/{exc.code})", permanent=True)
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | OSError):
        return SendError(f"network error: {type(exc).__name__}", permanent=False)
    return SendError(f"unexpected error: {type(exc).__name__}", permanent=False)
