"""Discord webhook URLs: the only kind a user may give us, checked without any I/O.

A webhook URL is a secret (its token lets anyone post) and it names a host, so a careless check
would let a user make the bot send requests wherever they like (SSRF). The rules here are an
allow-list, not a deny-list: ``https``, one of Discord's own hosts, the exact path
``/api[/vN]/webhooks/{id}/{token}``, and nothing else — no userinfo, no port, no query or
fragment, no percent-encoding, no backslashes, no non-ASCII look-alike letters. What we store is
rebuilt from the id and token on ``discord.com``, so nothing the user typed beyond those two
values is ever used, and discord.py sends webhook requests to its own API base anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIELD = "url"
MAX_LENGTH = 300
ALLOWED_HOSTS = frozenset(
    {
        "discord.com",
        "ptb.discord.com",
        "canary.discord.com",
        "discordapp.com",
        "ptb.discordapp.com",
        "canary.discordapp.com",
    }
)
MAX_SNOWFLAKE = (1 << 63) - 1
_PATH = re.compile(
    r"/api(?:/v[0-9]{1,2})?/webhooks/(?P<id>[0-9]{17,20})/(?P<token>[A-Za-z0-9_-]{60,100})/?"
)
_EXAMPLE = "https://discord.com/api/webhooks/<id>/<token>"


class WebhookURLError(ValueError):
    """Not a Discord webhook URL; ``field`` names the option (always ``url``)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{FIELD}: {message}")
        self.field = FIELD
        self.message = message


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A validated webhook: its id (not secret) and token (secret)."""

    id: int
    token: str

    @property
    def url(self) -> str:
        """The canonical URL, on discord.com (the form discord.py's ``from_url`` reads)."""
        return f"https://discord.com/api/webhooks/{self.id}/{self.token}"

    def __repr__(self) -> str:  # never let the token reach a log line or a traceback
        return f"WebhookTarget(id={self.id}, token=…)"


def parse_webhook_url(raw: str) -> WebhookTarget:
    """The webhook ``raw`` names, or :class:`WebhookURLError` saying what is wrong.

    Error messages may quote the host (never the path: it holds the token)."""
    text = raw.strip()
    if not text:
        raise WebhookURLError(f"paste the webhook's URL, like {_EXAMPLE}")
    if len(text) > MAX_LENGTH:
        raise WebhookURLError(f"at most {MAX_LENGTH} characters; a webhook URL is shorter")
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise WebhookURLError("has spaces or characters a Discord webhook URL never contains")
    if "\\" in text or "%" in text:
        raise WebhookURLError("has escapes a Discord webhook URL never contains")
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.casefold() not in ("https", "http"):
        raise WebhookURLError(f"must be a Discord webhook URL, like {_EXAMPLE}")
    if scheme.casefold() != "https":
        raise WebhookURLError("must start with https://")
    if "?" in rest or "#" in rest:
        raise WebhookURLError("must not have a query (?…) or a fragment (#…)")
    host, slash, path = rest.partition("/")
    if "@" in host:
        raise WebhookURLError("must not contain a user name or password (…@)")
    if ":" in host:
        raise WebhookURLError("must not name a port")
    if host.casefold() not in ALLOWED_HOSTS:
        raise WebhookURLError(
            f"{host[:60]!r} is not Discord: the host must be discord.com or discordapp.com"
        )
    match = _PATH.fullmatch(slash + path)
    if match is None:
        raise WebhookURLError(f"the path must be /api/webhooks/<id>/<token>, like {_EXAMPLE}")
    webhook_id = int(match["id"])
    if not 0 < webhook_id <= MAX_SNOWFLAKE:
        raise WebhookURLError("the webhook id is not a Discord id")
    return WebhookTarget(webhook_id, match["token"])
