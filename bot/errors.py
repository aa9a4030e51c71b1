"""Errors the services raise for the user to see. Cogs turn them into ephemeral replies."""

from __future__ import annotations


class UserFacingError(Exception):
    """Something the user can fix; ``field`` names the option when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"**{self.field}**: {self.message}" if self.field else self.message


class NotFoundError(UserFacingError):
    """The thing does not exist *for this user* (other users' rules look the same as missing)."""


class PermissionDeniedError(UserFacingError):
    """The user may not do this (e.g. not a server admin)."""
