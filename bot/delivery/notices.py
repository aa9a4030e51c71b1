"""The one-time notices failover gives: "your webhook was deleted, so this alert came here".

A channel that stops working is told about once, on a channel that works: the notice rides on
the first fallback alert that is delivered (or, when no channel is left to fall back to, goes by
DM through the notice hook). ``PreferencesRow.notices_sent`` remembers it under
:func:`notice_key`; setting the channel up again forgets it, so a new breakage is told again.
"""

from __future__ import annotations

from bot.i18n import N_, t

GAVE_UP = "gave up after"
"""How the dispatcher's reasons start when a channel kept failing (transiently) until it gave up."""

CHANNEL_NAMES = {
    "dm": N_("DM"),
    "webhook": N_("Discord webhook"),
    "email": N_("email"),
    "sms": N_("SMS"),
    "channel": N_("server alert channel"),
}

DMS_CLOSED = "DMs closed"
WEBHOOK_GONE = "webhook deleted"
"""The reasons the DM and webhook senders give when the user cannot be reached there."""

UNREACHABLE = {
    DMS_CLOSED: N_(
        "I couldn't DM you (your DMs are closed to me), so this alert came here instead. "
        "Allow DMs from this server's members to get alerts privately."
    ),
    WEBHOOK_GONE: N_(
        "Your Discord webhook was deleted, so this alert came here instead. "
        "Set a new one with /prefs webhook set."
    ),
}
OTHER_UNREACHABLE = N_(
    "I couldn't reach you by {channel} ({reason}), so this alert came here instead. "
    "/prefs channel-order sets where alerts go next."
)
KEPT_FAILING = N_(
    "Alerts by {channel} keep failing ({reason}), so this one came here instead. "
    "/prefs channel-order sets where alerts go next."
)


def notice_key(channel: str) -> str:
    """The ``notices_sent`` entry for "told that ``channel`` failed" (no colon: the notice
    service reads ``name:period`` keys as periodic)."""
    return f"failover_{channel}"


def channel_name(channel: str, locale: str = "en") -> str:
    name = CHANNEL_NAMES.get(channel)
    return t(name, locale) if name else channel


def failover_notice(channel: str, reason: str | None, locale: str = "en") -> str:
    """Why an alert came on another channel than ``channel``, in the reader's language."""
    why = (reason or "unknown")[:120]
    if why.startswith(GAVE_UP):
        return t(KEPT_FAILING, locale, channel=channel_name(channel, locale), reason=why)
    specific = UNREACHABLE.get(why)
    if specific is not None:
        return t(specific, locale)
    return t(OTHER_UNREACHABLE, locale, channel=channel_name(channel, locale), reason=why)
