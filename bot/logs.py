"""Logging setup with a redaction filter: tokens, webhook URLs and phone-number-like strings
never reach a log line, even when a library logs a request it made."""

from __future__ import annotations

import logging
import re

_REDACTIONS = [
    # Discord bot tokens: three base64url parts separated by dots.
    (re.compile(r"[MN][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}"), "[token]"),
    # Webhook and interaction tokens in URLs.
    (re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9_.-]{20,}"), r"\1[token]"),
    # Authorization headers.
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bot\s+)?[^\s'\",}]+"), r"\1[redacted]"),
    # E.164 phone numbers.
    (re.compile(r"\+\d{8,15}"), "[phone]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("discord").setLevel(max(logging.INFO, root.level))
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
