"""Discord's error answers, raised by handlers and rendered by the REST server."""

from __future__ import annotations

from typing import Any

from .limits import FormErrors


class ApiError(Exception):
    """An error answer in Discord's shape.

    ``violation`` names the protocol breach when the bot caused it (recorded so
    ``assert_clean`` fails); ``None`` marks answers that depend on the world, not on the bot's
    correctness (closed DMs, deleted webhooks, revoked permissions, unknown channels).
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: FormErrors | None = None,
        violation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.violation = violation

    def body(self) -> dict[str, Any]:
        if self.errors is not None:
            return self.errors.body()
        return {"message": self.message, "code": self.code}

    def detail(self) -> str:
        if self.errors is None:
            return self.message
        return f"{self.message}: " + "; ".join(self.errors.flat())


def form_error(errors: FormErrors) -> ApiError:
    """400 / 50035 "Invalid Form Body" with the nested ``errors`` map."""
    return ApiError(400, 50035, "Invalid Form Body", errors=errors, violation="invalid_form_body")


def invalid_json() -> ApiError:
    return ApiError(400, 50109, "The request body contains invalid JSON.", violation="invalid_json")
