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
