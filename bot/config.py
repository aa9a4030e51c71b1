"""Settings, read once from the environment and ``.env`` and passed in (never a global).

Every field is documented in ``.env.example``; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./dealscout.db"


class Settings(BaseSettings):
    """Deal Scout configuration. Environment variable names are the field names in upper case."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    discord_token: SecretStr | None = Field(default=None, description="Bot token")
    discord_api_base: str | None = Field(
        default=None, description="For testing: a Discord-compatible REST base URL"
    )
    discord_gateway_url: str | None = Field(
        default=None, description="For testing: a Discord-compatible gateway URL"
    )
    dev_guild_id: int | None = Field(
        default=None, description="sync-commands copies global commands to this guild"
    )
    owner_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Extra bot owners"
    )

    database_url: str = DEFAULT_DATABASE_URL
    database_echo: bool = False
    migrate_on_start: bool = True

    dispatch_batch_size: int = Field(default=50, ge=1, le=1000)
    dispatch_max_attempts: int = Field(default=8, ge=1, le=50)
    dispatch_lease_seconds: float = Field(default=60.0, gt=0)
    dispatch_idle_seconds: float = Field(default=5.0, gt=0)
    dispatch_concurrency: int = Field(default=8, ge=1, le=64)

    min_comparables: int = Field(default=5, ge=1, description="Listings needed to score a deal")
    log_level: str = "INFO"

    @field_validator("owner_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(v) for v in value.replace(",", " ").split()]
        if isinstance(value, int):
            return [value]
        return value

    @property
    def token(self) -> str | None:
        return self.discord_token.get_secret_value() if self.discord_token else None
