"""The one interface every delivery channel implements, and the errors that steer retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.listing import Listing
from bot.domain.rule import Rule


@dataclass(frozen=True, slots=True)
class OutgoingAlert:
    """Everything a sender needs to deliver one outbox row."""

    outbox_id: int
    nonce: str
    user_id: int
    guild_id: int | None
    rule: Rule
    listing: Listing
    distance_mi: float | None = None
    is_fallback: bool = False
    notice: str | None = None  # a one-time failover notice to show with it (see notices.py)
    kind: str = "deal_alert"  # "wanted_alert": the rule is a Discogs wanted entry

    @property
    def is_wanted(self) -> bool:
        return self.kind == "wanted_alert"


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One listing in a digest, with every alert of the user's that matched it."""

    listing: Listing
    rule_names: tuple[str, ...]
    rule_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OutgoingDigest:
    """A daily or weekly digest: each listing once, best deals first."""

    outbox_id: int
    nonce: str
    user_id: int
    period: str  # "daily:2026-11-23" / "weekly:2026-11-23"
    entries: tuple[DigestEntry, ...]
    held_by_cap: int = 0  # how many were immediate alerts moved here by the daily limit

    @property
    def frequency(self) -> str:
        return self.period.split(":", 1)[0]


class SendError(Exception):
    """A delivery that did not happen. ``permanent`` errors are not retried; the others are,
    after ``retry_after`` seconds when the far side said so."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.unreachable = unreachable  # the user cannot be reached on this channel at all


class Sender(Protocol):
    """Delivers one alert; returns the platform's message id when there is one."""

    async def send(self, alert: OutgoingAlert) -> int | None: ...


class DigestSender(Protocol):
    """Delivers one digest (DM and email senders implement it)."""

    async def send_digest(self, digest: OutgoingDigest) -> int | None: ...
