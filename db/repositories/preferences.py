"""Per-user preferences and contact verifications."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.failover import Reachability
from bot.domain.policy import Frequency, Preferences, QuietHours, parse_hhmm
from db.models import GuildSettings, PreferencesRow, User, VerificationRow


def to_preferences(row: PreferencesRow | None) -> Preferences:
    """The policy's view of a row; no row means every default."""
    if row is None:
        return Preferences()
    quiet = None
    if row.quiet_start and row.quiet_end:
        quiet = QuietHours(parse_hhmm(row.quiet_start), parse_hhmm(row.quiet_end))
    return Preferences(
        timezone=row.timezone or "UTC",
        frequency=Frequency(row.frequency),
        quiet_hours=quiet,
        daily_limit=row.daily_limit,
        digest_time=parse_hhmm(row.digest_time),
        digest_day=row.digest_day,
        categories=tuple(row.categories or ()),
        paused=row.paused,
        stopped=row.stopped,
    )


class PreferencesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> PreferencesRow | None:
        return await self.session.get(PreferencesRow, user_id)

    async def get_or_create(self, user_id: int) -> PreferencesRow:
        row = await self.session.get(PreferencesRow, user_id)
        if row is None:
            row = PreferencesRow(
                user_id=user_id,
                channels=["dm"],
                frequency="immediate",
                daily_limit=10,
                digest_time="09:00",
                digest_day=0,
                categories=[],
                language="en",
                paused=False,
                stopped=False,
                email_verified=False,
                timezone_tip_sent=False,
            )
            self.session.add(row)
            await self.session.flush()
        return row

    async def policy_view(self, user_id: int) -> Preferences:
        return to_preferences(await self.get(user_id))

    async def many(self, user_ids: list[int]) -> dict[int, PreferencesRow]:
        if not user_ids:
            return {}
        rows = await self.session.scalars(
            select(PreferencesRow).where(PreferencesRow.user_id.in_(user_ids))
        )
        return {r.user_id: r for r in rows}

    async def reachability(self, user_id: int, guild_id: int | None) -> Reachability:
        """Which channels could reach the user now (for failover), for an alert of
        ``guild_id``'s (whose alert channel is the public last resort)."""
        row = await self.get(user_id)
        user = await self.session.get(User, user_id)
        guild = await self.session.get(GuildSettings, guild_id) if guild_id is not None else None
        return Reachability(
            dms_open=not (user is not None and user.dms_closed),
            webhook=bool(row and row.webhook_encrypted and not row.webhook_disabled),
            email=bool(row and row.email and row.email_verified),
            sms=bool(row and row.phone_encrypted and row.phone_verified and not row.sms_opted_out),
            alert_channel=bool(guild and guild.alert_channel_id),
        )

    async def claim_notices(self, user_id: int, keys: list[str]) -> list[str]:
        """Record one-time notices ``keys`` as given; returns those not given before (the
        row is locked on PostgreSQL, so two processes cannot both claim one)."""
        if not keys:
            return []
        row = await self.session.scalar(
            select(PreferencesRow).where(PreferencesRow.user_id == user_id).with_for_update()
        )
        if row is None:
            row = await self.get_or_create(user_id)
        given = list(row.notices_sent or [])
        new = [k for k in dict.fromkeys(keys) if k not in given]
        if new:
            row.notices_sent = [*given, *new]
        return new

    async def forget_notices(self, user_id: int, keys: list[str]) -> None:
        """Un-give notices (the message that carried them failed, or the user fixed the
        cause, so a new breakage is worth telling again)."""
        row = await self.get(user_id)
        if row is not None and row.notices_sent and set(keys) & set(row.notices_sent):
            row.notices_sent = [k for k in row.notices_sent if k not in keys]

    async def verification(self, user_id: int, kind: str) -> VerificationRow | None:
        return await self.session.scalar(
            select(VerificationRow).where(
                VerificationRow.user_id == user_id, VerificationRow.kind == kind
            )
        )

    async def delete_verification(self, row: VerificationRow) -> None:
        await self.session.delete(row)
