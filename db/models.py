"""SQLAlchemy 2 typed models. Money is stored as integer cents plus a currency code; times in UTC.

Discord snowflakes are ``BigInteger``. Surrogate keys use ``BigInteger`` on PostgreSQL and plain
``INTEGER`` on SQLite, where only ``INTEGER PRIMARY KEY`` auto-increments.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

Id = BigInteger().with_variant(Integer(), "sqlite")
MAX_ID = (1 << 63) - 1
"""Largest id any column can hold; ids from outside (button custom ids) are checked against it."""

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use UTC-aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class OutboxStatus(enum.StrEnum):
    pending = "pending"  # waiting to be sent (maybe after next_attempt_at)
    sending = "sending"  # claimed by a dispatcher until claimed_until
    sent = "sent"
    failed = "failed"  # gave up; ``reason`` says why, shown to the user and admin
    suppressed = "suppressed"  # deliberately not sent; ``reason`` says why
    digest = "digest"  # waiting for the user's digest (``digest_period``); sent with it


class User(Base):
    """What the bot knows about a Discord user's reachability."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    dm_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    dms_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    dms_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GuildSettings(Base):
    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    alert_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    marketplace_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RuleRow(Base):
    __tablename__ = "rules"
    __table_args__ = (UniqueConstraint("user_id", "name_key", name="uq_rules_user_name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(80))
    name_key: Mapped[str] = mapped_column(String(80))
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    exclude: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_price_cents: Mapped[int | None] = mapped_column(BigInteger)
    max_price_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_condition: Mapped[int | None] = mapped_column(Integer)
    location_text: Mapped[str | None] = mapped_column(String(100))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    radius_mi: Mapped[float | None] = mapped_column(Float)
    min_deal_score: Mapped[float | None] = mapped_column(Float)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    frequency: Mapped[str | None] = mapped_column(String(10))  # overrides the user's default
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PreferencesRow(Base):
    """How a user wants alerts delivered. Absent row = the defaults in bot.domain.policy."""

    __tablename__ = "preferences"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    timezone: Mapped[str | None] = mapped_column(String(64))  # None = not set yet (UTC)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)  # default for new rules
    frequency: Mapped[str] = mapped_column(String(10), default="immediate")
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "HH:MM" local
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    daily_limit: Mapped[int] = mapped_column(Integer, default=10)
    digest_time: Mapped[str] = mapped_column(String(5), default="09:00")
    digest_day: Mapped[int] = mapped_column(Integer, default=0)  # 0 = Monday
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str] = mapped_column(String(10), default="en")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone_tip_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    # SMS: the E.164 number is encrypted at rest (bot.crypto); last2 is for masked display only.
    phone_encrypted: Mapped[str | None] = mapped_column(Text)
    phone_last2: Mapped[str | None] = mapped_column(String(2))
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # A Discord webhook URL holds a secret token: encrypted at rest; the id is not secret.
    webhook_encrypted: Mapped[str | None] = mapped_column(Text)
    webhook_id: Mapped[int | None] = mapped_column(BigInteger)
    webhook_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Failover order: when a channel cannot reach the user, the next one here is tried.
    channel_order: Mapped[list[str]] = mapped_column(JSON, default=list)
    currency: Mapped[str | None] = mapped_column(String(3))  # default for /wanted prices
    # Notices the user has been given once ("sms_budget", "dms_closed", ...), never repeated.
    notices_sent: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class VerificationRow(Base):
    """A pending contact verification (email now, phone later): the code is stored hashed."""

    __tablename__ = "verifications"
    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_verifications_user_kind"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(10))  # "email"
    target: Mapped[str] = mapped_column(String(320))  # the address being verified
    code_hash: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sends: Mapped[int] = mapped_column(Integer, default=1)  # codes sent in the current window
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SmsUsage(Base):
    """SMS sent per user per UTC day: the per-user and global daily budgets count these."""

    __tablename__ = "sms_usage"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_sms_usage_user_day"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[str] = mapped_column(String(10), index=True)  # YYYY-MM-DD (UTC)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ListingRow(Base):
    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_listings_source_external"),
        Index("ix_listings_category_created", "category_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(20), default="community")
    external_id: Mapped[str | None] = mapped_column(String(200))
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    seller_id: Mapped[int | None] = mapped_column(BigInteger)
    seller_name: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    category: Mapped[str | None] = mapped_column(String(100))
    category_key: Mapped[str | None] = mapped_column(String(100))
    condition: Mapped[int | None] = mapped_column(Integer)
    location_text: Mapped[str | None] = mapped_column(String(100))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    deal_score: Mapped[float | None] = mapped_column(Float)
    # One line of why: "23% below the median of 41 similar listings" / "only 3 similar listings".
    deal_reason: Mapped[str | None] = mapped_column(String(200))
    image_url: Mapped[str | None] = mapped_column(String(500))
    url: Mapped[str | None] = mapped_column(String(500))
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="active")
    # Source-specific facts shown with the alert (Discogs: grades, seller rating, ships from,
    # the criteria checks); None for community listings.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PriceHistory(Base):
    __tablename__ = "price_history"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listings.id", ondelete="CASCADE"), index=True
    )
    price_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxRow(Base):
    """One alert to one channel. ``dedupe_key`` makes a second enqueue of the same alert a no-op."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="deal_alert")
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    guild_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    rule_id: Mapped[int | None] = mapped_column(BigInteger)
    listing_id: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.pending)
    reason: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    nonce: Mapped[str] = mapped_column(String(25))
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    fallback_of: Mapped[int | None] = mapped_column(BigInteger)
    digest_period: Mapped[str | None] = mapped_column(String(40))  # e.g. "daily:2026-11-23"
    digest_id: Mapped[int | None] = mapped_column(BigInteger)  # the digest row that carried it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Feedback(Base):
    """A user's reaction to a listing ("not interested"), used to suppress and later to rank."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("user_id", "listing_id", "kind", name="uq_feedback"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    listing_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WantedRow(Base):
    """One entry of a user's Discogs wanted list: a release (or a master, "any pressing") and
    the criteria an offer must meet. ``status`` and the ``lowest_*`` columns are what the watcher
    last saw, for ``/wanted list``."""

    __tablename__ = "wanted"
    __table_args__ = (
        UniqueConstraint("user_id", "target_kind", "target_id", name="uq_wanted_user_target"),
        Index("ix_wanted_target", "target_kind", "target_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    target_kind: Mapped[str] = mapped_column(String(8))  # "release" | "master"
    target_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(300))
    artists: Mapped[str] = mapped_column(String(300), default="")
    year: Mapped[int | None] = mapped_column(Integer)
    formats: Mapped[str] = mapped_column(String(200), default="")
    thumb_url: Mapped[str | None] = mapped_column(String(500))
    cover_url: Mapped[str | None] = mapped_column(String(500))
    max_price_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    min_media: Mapped[int | None] = mapped_column(Integer)  # bot.domain.discogs.Grade
    min_sleeve: Mapped[int | None] = mapped_column(Integer)
    ships_from: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_seller_rating: Mapped[float | None] = mapped_column(Float)
    underpriced_percent: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="monitoring")
    lowest_cents: Mapped[int | None] = mapped_column(BigInteger)
    num_for_sale: Mapped[int | None] = mapped_column(Integer)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(80), default="command")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DiscogsTargetRow(Base):
    """One thing the watcher polls (a release or a master, in one currency), shared by every
    wanted entry that names it, with its schedule and what the last poll saw."""

    __tablename__ = "discogs_targets"
    __table_args__ = (
        UniqueConstraint("kind", "target_id", "currency", name="uq_discogs_targets_key"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))
    target_id: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lowest_cents: Mapped[int | None] = mapped_column(BigInteger)
    num_for_sale: Mapped[int | None] = mapped_column(Integer)
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    recent_lowest: Mapped[list[int]] = mapped_column(JSON, default=list)  # cents, oldest first
    suggestions: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # grade -> [cents, curr]
    suggested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertNotificationRow(Base):
    """A Discogs wanted-list alert that fired: once per (user, listing) or, at stats level, per
    (user, release, lowest price) — the dedupe key says which. ``/wanted history`` reads it."""

    __tablename__ = "alert_notifications"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    wanted_id: Mapped[int] = mapped_column(BigInteger, index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    listing_id: Mapped[int | None] = mapped_column(BigInteger)  # our listings row
    level: Mapped[str] = mapped_column(String(10))  # "stats" | "listing"
    discogs_listing_id: Mapped[int | None] = mapped_column(BigInteger)
    price_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    checks: Mapped[list[str]] = mapped_column(JSON, default=list)
    reference: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedRow(Base):
    """A listing feed (RSS, Atom or JSON Feed) a server admin added, with its poll state."""

    __tablename__ = "feeds"
    # Listings remember their feed by id: an id must never be reused (SQLite would, for the
    # highest id after a delete, without AUTOINCREMENT).
    __table_args__ = (
        UniqueConstraint("guild_id", "url", name="uq_feeds_guild_url"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    guild_id: Mapped[int] = mapped_column(BigInteger, index=True)
    url: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str | None] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(100))
    interval_seconds: Mapped[int] = mapped_column(Integer, default=900)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="ok")  # ok | error
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    next_fetch_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    added_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WatchRow(Base):
    """A user watching one listing's price (``bot.domain.watch.Watch`` is its logic)."""

    __tablename__ = "watches"
    __table_args__ = (UniqueConstraint("user_id", "listing_id", name="uq_watches_user_listing"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    listing_id: Mapped[int] = mapped_column(BigInteger, index=True)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    target_cents: Mapped[int | None] = mapped_column(BigInteger)
    drop_percent: Mapped[float | None] = mapped_column(Float)
    start_cents: Mapped[int] = mapped_column(BigInteger)
    lowest_cents: Mapped[int] = mapped_column(BigInteger)
    armed: Mapped[bool] = mapped_column(Boolean, default=True)
    ended: Mapped[str | None] = mapped_column(String(200))
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
