from __future__ import annotations

import pytest

from bot.crypto import CannotDecrypt, Vault


def test_round_trip_and_no_plaintext_at_rest() -> None:
    vault = Vault("k1")
    token = vault.encrypt("+14155550123")
    assert "4155550123" not in token
    assert vault.decrypt(token) == "+14155550123"
    assert vault.encrypt("+14155550123") != token, "fresh IV each time"


def test_another_key_or_tampering_cannot_read() -> None:
    token = Vault("k1").encrypt("https://discord.com/api/webhooks/1/secret")
    with pytest.raises(CannotDecrypt):
        Vault("k2").decrypt(token)
    with pytest.raises(CannotDecrypt):
        Vault("k1").decrypt(token[:-4] + "AAAA")
