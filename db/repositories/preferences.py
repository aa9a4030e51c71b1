"""Per-user preferences and contact verifications."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.policy import Frequency, Preferences, QuietHours, parse_hhmm
from db.models import PreferencesRow, VerificationRow


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

    async def verification(self, user_id: int, kind: str) -> VerificationRow | None:
        return await self.session.scalar(
            select(VerificationRow).where(
                VerificationRow.user_id == user_id, VerificationRow.kind == kind
            )
        )

    async def delete_verification(self, row: VerificationRow) -> None:
        await self.session.delete(row)
