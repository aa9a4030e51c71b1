"""Failover: which channel an alert tries next when the one it was on cannot deliver it.

Each user has an ordered channel list (``/prefs channel-order``; default :data:`DEFAULT_ORDER`).
When a channel fails for good (unreachable, or gave up after its retries) the alert moves to the
first channel of that order that is *usable* (configured, verified, not known to be broken) and
not already tried for this alert. The order is a preference, so "next" means the most preferred
channel left: with ``webhook,dm,email``, a DM that fails goes to the webhook, then to email.
Channels left out of a user's order are never used as a fallback.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from bot.domain.rule import Channel

FIELD = "order"
DEFAULT_ORDER: tuple[str, ...] = ("dm", "webhook", "email", "sms", "channel")
"""DM first, then the user's own webhook, email and SMS, and the server's alert channel last
(it is public, so it is the last resort)."""


class ChannelOrderError(ValueError):
    """A bad ``/prefs channel-order`` value; ``field`` names the option."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{FIELD}: {message}")
        self.field = FIELD
        self.message = message


def known_channels() -> tuple[str, ...]:
    """Every channel name, in the default order (then any it does not list)."""
    names = [c.value for c in Channel]
    return tuple(dict.fromkeys([*(c for c in DEFAULT_ORDER if c in names), *names]))


def parse_order(raw: str) -> tuple[str, ...]:
    """``"webhook, dm,email"`` → ``("webhook", "dm", "email")``; names are checked, repeats
    refused. ``default`` (or an empty value) means the default order: ``()``."""
    text = raw.strip().casefold()
    if text in ("", "default", "reset"):
        return ()
    names = [p.strip() for p in text.replace(" ", ",").replace(">", ",").split(",") if p.strip()]
    known = known_channels()
    seen: list[str] = []
    for name in names:
        if name not in known:
            raise ChannelOrderError(f"{name[:30]!r} is not one of {', '.join(known)}")
        if name in seen:
            raise ChannelOrderError(f"{name} is named twice")
        seen.append(name)
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class Reachability:
    """What is known about the ways to reach one user, for one alert."""

    dms_open: bool = True
    webhook: bool = False  # set and not disabled
    email: bool = False  # verified
    sms: bool = False  # verified and not opted out
    alert_channel: bool = False  # the alert's server has an alert channel

    def usable(self, senders: Collection[str]) -> frozenset[str]:
        """The channels an alert could be delivered on now (``senders``: channels the bot has
        a sender for)."""
        flags = {
            "dm": self.dms_open,
            "webhook": self.webhook,
            "email": self.email,
            "sms": self.sms,
            "channel": self.alert_channel,
        }
        return frozenset(c for c, ok in flags.items() if ok and c in senders)


def effective_order(saved: Sequence[str] | None, usable: Iterable[str]) -> tuple[str, ...]:
    """The user's order (or the default) filtered to the channels usable now."""
    allowed = set(usable)
    return tuple(c for c in (tuple(saved or ()) or DEFAULT_ORDER) if c in allowed)


def next_channel(
    saved: Sequence[str] | None, tried: Collection[str], usable: Iterable[str]
) -> str | None:
    """Where an alert goes after the channels in ``tried`` failed, or None: nowhere is left."""
    for channel in effective_order(saved, usable):
        if channel not in tried:
            return channel
    return None
