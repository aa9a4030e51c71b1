"""Test doubles for the delivery edge: a sender that records what it was asked to send and can
be told to fail in the ways Discord fails."""

from __future__ import annotations

from collections import deque

from bot.delivery.senders.base import OutgoingAlert, OutgoingDigest


class SimulatedCrash(BaseException):
    """Stands for the process dying mid-delivery (not an Exception: nothing may catch it)."""


class RecordingSender:
    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sent: list[OutgoingAlert] = []
        self.attempts: list[OutgoingAlert] = []
        self.failures: deque[BaseException] = deque()
        self.crash_after_send = False
        self.digests: list[OutgoingDigest] = []

    def fail_next(self, *errors: BaseException) -> None:
        self.failures.extend(errors)

    async def send(self, alert: OutgoingAlert) -> int | None:
        self.attempts.append(alert)
        if self.failures:
            raise self.failures.popleft()
        # Discord's enforce_nonce: a resend with the same nonce returns the first message.
        for earlier in self.sent:
            if earlier.nonce == alert.nonce:
                return earlier.outbox_id + 1000
        self.sent.append(alert)
        if self.crash_after_send:
            raise SimulatedCrash("the process died after the message went out")
        return alert.outbox_id + 1000

    async def send_digest(self, digest: OutgoingDigest) -> int | None:
        if self.failures:
            raise self.failures.popleft()
        if all(d.nonce != digest.nonce for d in self.digests):
            self.digests.append(digest)
        return digest.outbox_id + 1000
