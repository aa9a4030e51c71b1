"""Settings, read once from the environment and ``.env`` and passed in (never a global).

Every field is documented in ``.env.example``; a test keeps the two in step.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./dealscout.db"


class Settings(BaseSettings):
    """Deal Scout configuration. Environment variable names are the field names in upper case."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
        env_ignore_empty=True,
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
    breaker_failures: int = Field(
        default=5, ge=1, le=1000, description="Transient failures in a row that open a circuit"
    )
    breaker_cooldown_seconds: float = Field(
        default=60.0, gt=0, description="How long an open circuit holds its channel's alerts"
    )

    min_comparables: int = Field(default=5, ge=1, description="Listings needed to score a deal")

    secret_key: SecretStr | None = Field(
        default=None,
        validation_alias="DEALSCOUT_SECRET_KEY",
        description="Signs unsubscribe links (and encrypts contact data at rest)",
    )
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Deal Scout <alerts@localhost>"
    smtp_timeout_seconds: float = Field(default=20.0, gt=0)
    public_base_url: str = Field(
        default="http://localhost:8080", description="Where the unsubscribe links point"
    )
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(
        default=None, ge=0, le=65535, description="Serve unsubscribe links here (off if unset)"
    )
    scheduler_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often due digests are looked for"
    )
    twilio_account_sid: SecretStr | None = Field(
        default=None, description="Twilio account SID (SMS is off until SID and token are set)"
    )
    twilio_auth_token: SecretStr | None = Field(default=None, description="Twilio auth token")
    twilio_from_number: str | None = Field(
        default=None, description="The Twilio number SMS is sent from (E.164)"
    )
    twilio_messaging_service_sid: str | None = Field(
        default=None, description="Send through this Messaging Service instead of a From number"
    )
    twilio_api_base: str = Field(
        default="https://api.twilio.com",
        description="For testing: a Twilio-compatible REST base URL (the local stand-in)",
    )
    sms_daily_limit_per_user: int = Field(
        default=5, ge=0, description="Texts per user per UTC day; beyond it alerts go by DM"
    )
    sms_daily_budget: int = Field(
        default=200, ge=0, description="Texts per UTC day for the whole bot (cost control)"
    )
    discogs_token: SecretStr | None = Field(
        default=None, description="Discogs personal access token (Settings → Developers)"
    )
    discogs_api_base: str = Field(
        default="https://api.discogs.com",
        description="For testing: a Discogs-compatible REST base URL (the local stand-in)",
    )
    discogs_user_agent: str = Field(
        default="DealScout/0.1 +https://github.com/dealscout",
        description="Discogs requires a unique, descriptive User-Agent",
    )
    discogs_requests_per_minute: int = Field(
        default=60, ge=1, le=1000, description="Discogs requests per moving 60-second window"
    )
    discogs_interactive_reserve: int = Field(
        default=15, ge=0, description="Part of that budget only interactive commands may use"
    )
    discogs_watch: bool = Field(
        default=True, description="Poll the Discogs marketplace for /wanted entries"
    )
    discogs_check_cooldown_seconds: int = Field(
        default=300,
        ge=0,
        description="/wanted check skips releases checked this recently (protects the budget)",
    )
    discogs_sell_page: bool = Field(
        default=False,
        description="Opt in to reading www.discogs.com sell pages for listing-level checks "
        "(grades, seller, ships from); often blocked by Cloudflare",
    )
    discogs_web_base: str = Field(
        default="https://www.discogs.com",
        description="For testing: where the sell-page adapter reads pages from",
    )
    feed_user_agent: str = Field(
        default="DealScout/0.1 (+https://github.com/dealscout) feed reader",
        description="The User-Agent sent when fetching listing feeds",
    )
    feed_allow_private_hosts: bool = Field(
        default=False,
        description="Allow feeds on loopback/private addresses (off: refused, so a server admin "
        "cannot make the bot fetch internal services)",
    )
    feeds_enabled: bool = Field(
        default=True, description="Poll the listing feeds server admins add (/admin feed)"
    )
    log_level: str = "INFO"

    @field_validator("owner_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(v) for v in value.replace(",", " ").split()]
        if isinstance(value, int):
            return [value]
        return value

    @classmethod
    def env_names(cls) -> list[str]:
        """Every environment variable the settings read (for docs and their test)."""
        names = []
        for name, info in cls.model_fields.items():
            alias = info.validation_alias
            names.append(alias.upper() if isinstance(alias, str) else name.upper())
        return names

    @property
    def token(self) -> str | None:
        return self.discord_token.get_secret_value() if self.discord_token else None
