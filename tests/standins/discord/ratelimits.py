"""Rate limits, injected faults and the invalid-request ("Cloudflare") budget.

discord.py reads ``X-RateLimit-*`` on every answer and sleeps pre-emptively when a bucket is
empty, so the stand-in keeps real buckets per route and major parameter (channel, guild,
webhook) and answers 429 when a client ignores them. The global limit (50 requests/s, not
counting interaction and webhook-token routes) is enforced the same way. 401/403/429 answers
feed the invalid-request budget; exhausting it gets the "ban" Discord's Cloudflare applies:
429 without ``Via`` and an HTML body, which discord.py does not retry.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

API_PREFIX = "/api/v10"
RESET_GRACE = 0.005
MAJOR_PARAMETERS = (
    "channel_id",
    "guild_id",
    "webhook_id",
    "webhook_token",
    "interaction_id",
    "interaction_token",
)


@dataclass
class Bucket:
    limit: int
    per: float
    remaining: int
    reset_at: float  # time.monotonic()


@dataclass
class Fault:
    """An injected failure for requests matching ``pattern`` (see :func:`pattern_matches`)."""

    pattern: str
    count: int
    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0
    commit_first: bool = False  # run the real handler, then answer with the fault anyway


def pattern_matches(pattern: str, method: str, path: str, template: str | None) -> bool:
    """Match ``"POST /channels/*/messages"`` (glob), ``"/channels/{channel_id}/messages"``
    (route template) or a bare path glob; the method prefix is optional."""
    method_part, _, rest = pattern.partition(" ")
    if rest and method_part.isupper():
        if method_part != method:
            return False
        pattern = rest
    pattern = pattern.strip()
    if pattern.startswith(API_PREFIX):
        pattern = pattern[len(API_PREFIX) :]
    if not pattern.startswith("/"):
        pattern = "/" + pattern
    if "{" in pattern:
        return template == pattern
    return fnmatch.fnmatchcase(path, pattern)


def too_many_requests_body(retry_after: float, *, is_global: bool = False) -> dict[str, Any]:
    return {
        "message": "You are being rate limited.",
        "retry_after": round(retry_after, 3),
        "global": is_global,
        "code": 0,
    }


def too_many_requests_headers(retry_after: float, scope: str) -> dict[str, str]:
    """``Via`` is what tells discord.py this is Discord's 429 and not a Cloudflare ban."""
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(max(1, int(retry_after + 0.999))),
        "X-RateLimit-Scope": scope,
    }
    if scope == "global":
        headers["X-RateLimit-Global"] = "true"
    return headers


class RateLimiter:
    def __init__(
        self,
        *,
        route_limits: dict[str, tuple[int, float]],
        default_route_limit: tuple[int, float],
        global_limit: int,
        invalid_request_limit: int,
    ) -> None:
        self.route_limits = route_limits
        self.default_route_limit = default_route_limit
        self.global_limit = global_limit
        self.invalid_request_limit = invalid_request_limit
        self.buckets: dict[str, Bucket] = {}
        self.global_window: deque[float] = deque()
        self.invalid_requests: deque[float] = deque()
        self.invalid_request_total = 0
        self.faults: list[Fault] = []

    def global_hit(self) -> float | None:
        """Count one request against the global limit; returns retry_after when over it."""
        now = time.monotonic()
        while self.global_window and now - self.global_window[0] >= 1.0:
            self.global_window.popleft()
        if len(self.global_window) >= self.global_limit:
            return max(0.001, 1.0 - (now - self.global_window[0]))
        self.global_window.append(now)
        return None

    def bucket_hit(
        self, route_key: str, params: dict[str, str]
    ) -> tuple[dict[str, str], float | None]:
        """Take a token from the route's bucket. Returns (headers, retry_after if exhausted)."""
        limit, per = self.route_limits.get(route_key, self.default_route_limit)
        bucket_hash = hashlib.md5(route_key.encode()).hexdigest()  # an opaque id, like Discord's
        major = "+".join(params[k] for k in MAJOR_PARAMETERS if k in params)
        key = f"{bucket_hash}:{major}"
        now = time.monotonic()
        bucket = self.buckets.get(key)
        # A few ms of grace: clients sleep exactly Reset-After and must not be punished for
        # waking a hair early after the header's rounding.
        if bucket is None or now >= bucket.reset_at - RESET_GRACE:
            bucket = Bucket(limit=limit, per=per, remaining=limit, reset_at=now + per)
            self.buckets[key] = bucket
        reset_after = max(0.0, bucket.reset_at - now)
        if bucket.remaining <= 0:
            return self._headers(bucket, bucket_hash, reset_after), max(reset_after, 0.001)
        bucket.remaining -= 1
        return self._headers(bucket, bucket_hash, reset_after), None

    @staticmethod
    def _headers(bucket: Bucket, bucket_hash: str, reset_after: float) -> dict[str, str]:
        reset_after = math.ceil(reset_after * 1000) / 1000  # round up, never invite early retries
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(bucket.remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket_hash,
        }

    def take_fault(self, method: str, path: str, template: str) -> Fault | None:
        for fault in self.faults:
            if fault.count > 0 and pattern_matches(fault.pattern, method, path, template):
                fault.count -= 1
                fault.hits += 1
                return fault
        return None

    def note_answer(self, status: int, headers: dict[str, str]) -> None:
        """401, 403 and non-"shared" 429 answers count toward the invalid-request budget."""
        if status in (401, 403) or (status == 429 and headers.get("X-RateLimit-Scope") != "shared"):
            self.invalid_requests.append(time.monotonic())
            self.invalid_request_total += 1

    def banned(self) -> bool:
        now = time.monotonic()
        while self.invalid_requests and now - self.invalid_requests[0] > 600:
            self.invalid_requests.popleft()
        return len(self.invalid_requests) >= self.invalid_request_limit
