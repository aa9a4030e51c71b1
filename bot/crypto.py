"""Encryption at rest for contact secrets (phone numbers, webhook URLs): Fernet, keyed from
DEALSCOUT_SECRET_KEY. A value encrypted under one key cannot be read under another, so losing
or changing the key means users re-enter these (they are never logged, so nothing else has them).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class CannotDecrypt(Exception):
    """The stored value was encrypted under another key, or was tampered with."""


class Vault:
    def __init__(self, secret: str) -> None:
        # Fernet wants 32 url-safe base64 bytes; derive them from the secret (domain-separated
        # from the HMAC uses of the same secret in bot.security).
        digest = hashlib.sha256(b"dealscout/fernet/v1\x00" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError) as exc:
            raise CannotDecrypt("stored secret cannot be decrypted with this key") from exc
