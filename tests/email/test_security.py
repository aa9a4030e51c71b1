"""Signed tokens, hashed codes and the secret-key fallback."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from bot import security
from bot.config import Settings
from bot.security import (
    BadSignature,
    check_code,
    effective_secret,
    hash_code,
    new_code,
    sign,
    unsign,
    unsubscribe_token,
    user_from_unsubscribe_token,
)

SECRET = "s3cret"
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_round_trip_keeps_the_value_and_is_url_safe() -> None:
    value = "user 42 / ünïcødé?&="
    token = sign("purpose", value, SECRET)
    assert all(c.isalnum() or c in "-_." for c in token)
    assert unsign("purpose", token, SECRET, max_age=timedelta(minutes=5)) == value


@pytest.mark.parametrize("part", [0, 1, 2])
def test_tampering_with_any_part_fails(part: int) -> None:
    token = sign("purpose", "42", SECRET, now=T0)
    pieces = token.split(".")
    replacement = {0: security._b64(b"43"), 1: str(int(pieces[1]) + 1), 2: pieces[2][:-2] + "AA"}
    pieces[part] = replacement[part]
    with pytest.raises(BadSignature):
        unsign("purpose", ".".join(pieces), SECRET, max_age=None)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "...", "@@.1.x"])
def test_malformed_tokens_fail(token: str) -> None:
    with pytest.raises(BadSignature):
        unsign("purpose", token, SECRET, max_age=None)


def test_wrong_purpose_or_secret_fails() -> None:
    token = sign("purpose", "42", SECRET)
    with pytest.raises(BadSignature):
        unsign("other", token, SECRET, max_age=None)
    with pytest.raises(BadSignature):
        unsign("purpose", token, "another secret", max_age=None)


def test_expiry_uses_max_age_and_none_never_expires() -> None:
    token = sign("purpose", "42", SECRET, now=T0)
    day = timedelta(days=1)
    assert unsign("purpose", token, SECRET, day, now=T0 + day) == "42"
    with pytest.raises(BadSignature, match="expired"):
        unsign("purpose", token, SECRET, day, now=T0 + day + timedelta(seconds=1))
    assert unsign("purpose", token, SECRET, None, now=T0 + 100 * day) == "42"


def test_unsubscribe_token_round_trip_and_lifetime() -> None:
    token = unsubscribe_token(123456789012345678, SECRET, now=T0)
    assert user_from_unsubscribe_token(token, SECRET, now=T0) == 123456789012345678
    with pytest.raises(BadSignature):
        user_from_unsubscribe_token(token, SECRET, now=T0 + timedelta(days=366))
    # A token made for another purpose, even with a numeric value, is not an unsubscribe token.
    with pytest.raises(BadSignature):
        user_from_unsubscribe_token(sign("login", "42", SECRET), SECRET)


def test_hash_code_and_check_code() -> None:
    hashed = hash_code("012345", SECRET)
    assert "012345" not in hashed and len(hashed) <= 128
    assert check_code("012345", hashed, SECRET)
    assert not check_code("012346", hashed, SECRET)
    assert not check_code("012345", hashed, "other secret")
    assert hash_code("012345", SECRET) == hashed  # deterministic: stored and compared later


def test_new_code_is_six_random_digits() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 190


def test_effective_secret_prefers_the_configured_key() -> None:
    settings = Settings(_env_file=None, secret_key=SecretStr("configured"))  # type: ignore[call-arg]
    assert effective_secret(settings) == "configured"


def test_effective_secret_falls_back_to_a_per_process_key_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(security, "_process_secret", None)
    monkeypatch.delenv("DEALSCOUT_SECRET_KEY", raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with caplog.at_level(logging.WARNING, logger="bot.security"):
        first = effective_secret(settings)
        second = effective_secret(settings)
    assert first == second and len(first) >= 32
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "restart" in warnings[0].getMessage()
    assert first not in caplog.text
