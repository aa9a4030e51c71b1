"""Webhook URL validation (bot/domain/webhooks.py): only Discord's own webhook URLs pass, and the
check itself never touches the network."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.webhooks import ALLOWED_HOSTS, WebhookURLError, parse_webhook_url

ID = "1234567890123456789"
TOKEN = "aB3_-" * 13 + "xyz"  # 68 characters, the length Discord uses
PATH = f"/api/webhooks/{ID}/{TOKEN}"
CANONICAL = f"https://discord.com{PATH}"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve or connect fails the test: validation must be pure."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("webhook URL validation touched the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize(
    "url",
    [
        CANONICAL,
        f"https://discordapp.com{PATH}",
        f"https://ptb.discord.com{PATH}",
        f"https://canary.discord.com{PATH}",
        f"https://ptb.discordapp.com{PATH}",
        f"https://canary.discordapp.com{PATH}",
        f"https://discord.com/api/v10/webhooks/{ID}/{TOKEN}",
        f"https://discord.com/api/v9/webhooks/{ID}/{TOKEN}",
        f"{CANONICAL}/",
        f"  {CANONICAL}\n",
        f"HTTPS://Discord.COM{PATH}",
    ],
)
def test_discord_webhook_urls_are_accepted_and_made_canonical(url: str) -> None:
    target = parse_webhook_url(url)
    assert (target.id, target.token) == (int(ID), TOKEN)
    assert target.url == CANONICAL
    assert TOKEN not in repr(target), "the token never reaches a log line through repr()"


HOSTILE = [
    # not https
    f"http://discord.com{PATH}",
    f"ftp://discord.com{PATH}",
    f"javascript://discord.com{PATH}",
    f"file://discord.com{PATH}",
    f"//discord.com{PATH}",
    f"discord.com{PATH}",
    f"wss://discord.com{PATH}",
    # other hosts and IP addresses
    f"https://evil.io{PATH}",
    f"https://127.0.0.1{PATH}",
    f"https://169.254.169.254{PATH}",
    f"https://[::1]{PATH}",
    f"https://2130706433{PATH}",
    f"https://0x7f000001{PATH}",
    f"https://localhost{PATH}",
    f"https://discord.gg{PATH}",
    f"https://discord.co{PATH}",
    f"https://cdn.discordapp.com{PATH}",
    f"https://media.discordapp.net{PATH}",
    f"https://evil.discord.com{PATH}",
    # look-alikes
    f"https://discord.com.evil.io{PATH}",
    f"https://discordapp.com.evil.io{PATH}",
    f"https://ptb.discord.com.evil.io{PATH}",
    f"https://discord.com.{PATH}",
    f"https://evildiscord.com{PATH}",
    f"https://discord-com.evil.io{PATH}",
    f"https://d\u0456scord.com{PATH}",  # Cyrillic і
    f"https://xn--dscord-3ve.com{PATH}",
    f"https://discord.com\u3002evil.io{PATH}",  # ideographic full stop
    f"https://discоrd.com{PATH}",  # Cyrillic о
    # userinfo, ports, escapes
    f"https://discord.com@evil.io{PATH}",
    f"https://user:pass@discord.com{PATH}",
    f"https://evil.io@discord.com{PATH}",
    f"https://discord.com:443{PATH}",
    f"https://discord.com:8080{PATH}",
    f"https://discord.com%2eevil.io{PATH}",
    f"https://discord.com%2F@evil.io{PATH}",
    f"https://discord.com\\@evil.io{PATH}",
    f"https://evil.io\\discord.com{PATH}",
    # query, fragment and redirect tricks
    f"{CANONICAL}?wait=true",
    f"{CANONICAL}#frag",
    f"https://evil.io/?u=https://discord.com{PATH}",
    f"https://evil.io#@discord.com{PATH}",
    f"https://evil.io/redirect?to={CANONICAL}",
    f"https://discord.com/api/oauth2/authorize?redirect_uri=https://evil.io{PATH}",
    f"https://discord.com/redirect{PATH}",
    # wrong paths
    f"https://discord.com/api/webhooks/{ID}",
    f"https://discord.com/api/webhooks/{ID}/{TOKEN}/slack",
    f"https://discord.com/api/webhooks/{ID}/{TOKEN}/github",
    f"https://discord.com/api/webhooks/{ID}/{TOKEN}/messages/1",
    f"https://discord.com/api/webhooks/{ID}/short",
    f"https://discord.com/api/webhooks/123/{TOKEN}",
    f"https://discord.com/api/webhooks/{ID}/../../../{TOKEN}",
    f"https://discord.com/api/webhooks/{ID}/{TOKEN[:-3]}...",
    f"https://discord.com/webhooks/{ID}/{TOKEN}",
    f"https://discord.com/api/v100/webhooks/{ID}/{TOKEN}",
    f"https://discord.com//api/webhooks/{ID}/{TOKEN}",
    f"https://discord.com/api/webhooks/99999999999999999999/{TOKEN}",  # over 2**63
    # whitespace and control characters inside
    f"https://discord.com/api/webhooks/{ID}/ {TOKEN}",
    f"https://discord.com{PATH}\r\nHost: evil.io",
    f"https://discord.com\x00.evil.io{PATH}",
    "",
    "   ",
    "not a url",
    CANONICAL + "a" * 300,
]


@pytest.mark.parametrize("url", HOSTILE)
def test_anything_else_is_refused_naming_the_url_option(url: str) -> None:
    with pytest.raises(WebhookURLError) as caught:
        parse_webhook_url(url)
    assert caught.value.field == "url"
    assert TOKEN not in caught.value.message, "errors never echo the token"


def test_errors_say_what_is_wrong() -> None:
    def message(url: str) -> str:
        with pytest.raises(WebhookURLError) as caught:
            parse_webhook_url(url)
        return caught.value.message

    assert "https" in message(f"http://discord.com{PATH}")
    assert "'evil.io' is not Discord" in message(f"https://evil.io{PATH}")
    assert "port" in message(f"https://discord.com:8080{PATH}")
    assert "query" in message(f"{CANONICAL}?x=1")
    assert "/api/webhooks/<id>/<token>" in message("https://discord.com/channels/1/2")


snowflakes = st.integers(min_value=10**16, max_value=(1 << 63) - 1)
tokens = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
    min_size=60,
    max_size=100,
)


@given(
    webhook_id=snowflakes,
    token=tokens,
    host=st.sampled_from(sorted(ALLOWED_HOSTS)),
    version=st.sampled_from(["", "/v9", "/v10"]),
)
def test_property_every_well_formed_discord_url_round_trips(
    webhook_id: int, token: str, host: str, version: str
) -> None:
    target = parse_webhook_url(f"https://{host}/api{version}/webhooks/{webhook_id}/{token}")
    assert (target.id, target.token) == (webhook_id, token)
    assert target.url == f"https://discord.com/api/webhooks/{webhook_id}/{token}"


@given(
    host=st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="/?#"), min_size=1, max_size=60
    ),
    webhook_id=snowflakes,
    token=tokens,
)
def test_property_no_other_host_is_ever_accepted(host: str, webhook_id: int, token: str) -> None:
    url = f"https://{host}/api/webhooks/{webhook_id}/{token}"
    try:
        target = parse_webhook_url(url)
    except WebhookURLError:
        return
    assert host.strip().casefold() in ALLOWED_HOSTS
    assert target.url.startswith("https://discord.com/api/webhooks/")


@given(st.text(max_size=400))
def test_property_any_text_is_refused_or_becomes_a_discord_com_url(text: str) -> None:
    try:
        target = parse_webhook_url(text)
    except WebhookURLError as exc:
        assert exc.field == "url"
        return
    assert target.url == f"https://discord.com/api/webhooks/{target.id}/{target.token}"
