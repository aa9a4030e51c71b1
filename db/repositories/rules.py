"""Rule storage. Every query that takes a rule id from a user also takes the user's id, so one
user can never read or change another user's rule (it simply looks "not found")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.listing import Condition, GeoPoint, from_cents, to_cents
from bot.domain.policy import Frequency
from bot.domain.rule import Channel, Rule
from db.models import RuleRow
from db.repositories import LIKE_ESCAPE, contains_pattern


def name_key(name: str) -> str:
    return " ".join(name.casefold().split())


def to_rule(row: RuleRow) -> Rule:
    return Rule(
        id=row.id,
        user_id=row.user_id,
        guild_id=row.guild_id,
        name=row.name,
        keywords=tuple(row.keywords or ()),
        exclude=tuple(row.exclude or ()),
        min_price=None if row.min_price_cents is None else from_cents(row.min_price_cents),
        max_price=None if row.max_price_cents is None else from_cents(row.max_price_cents),
        currency=row.currency,
        categories=tuple(row.categories or ()),
        min_condition=None if row.min_condition is None else Condition(row.min_condition),
        location_text=row.location_text,
        point=None if row.lat is None or row.lon is None else GeoPoint(row.lat, row.lon),
        radius_mi=row.radius_mi,
        min_deal_score=row.min_deal_score,
        channels=frozenset(Channel(c) for c in row.channels or ()),
        active=row.active,
        frequency=Frequency(row.frequency) if row.frequency else None,
    )


def _write(row: RuleRow, rule: Rule) -> None:
    row.user_id = rule.user_id
    row.guild_id = rule.guild_id
    row.name = rule.name
    row.name_key = name_key(rule.name)
    row.keywords = list(rule.keywords)
    row.exclude = list(rule.exclude)
    row.min_price_cents = None if rule.min_price is None else to_cents(rule.min_price)
    row.max_price_cents = None if rule.max_price is None else to_cents(rule.max_price)
    row.currency = rule.currency
    row.categories = list(rule.categories)
    row.min_condition = None if rule.min_condition is None else int(rule.min_condition)
    row.location_text = rule.location_text
    row.lat = rule.point.lat if rule.point else None
    row.lon = rule.point.lon if rule.point else None
    row.radius_mi = rule.radius_mi
    row.min_deal_score = rule.min_deal_score
    row.channels = sorted(c.value for c in rule.channels)
    row.active = rule.active
    row.frequency = rule.frequency.value if rule.frequency else None


class RuleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, rule: Rule) -> Rule:
        row = RuleRow()
        _write(row, rule)
        self.session.add(row)
        await self.session.flush()
        return to_rule(row)

    async def save(self, rule: Rule) -> Rule:
        row = await self._own_row(rule.user_id, rule.id)
        if row is None:
            raise LookupError(rule.id)
        _write(row, rule)
        await self.session.flush()
        return to_rule(row)

    async def delete(self, user_id: int, rule_id: int) -> bool:
        row = await self._own_row(user_id, rule_id)
        if row is None:
            return False
        await self.session.delete(row)
        await self.session.flush()
        return True

    async def _own_row(self, user_id: int, rule_id: int) -> RuleRow | None:
        return await self.session.scalar(
            select(RuleRow).where(RuleRow.id == rule_id, RuleRow.user_id == user_id)
        )

    async def get_own(self, user_id: int, rule_id: int) -> Rule | None:
        row = await self._own_row(user_id, rule_id)
        return None if row is None else to_rule(row)

    async def get(self, rule_id: int) -> Rule | None:
        row = await self.session.get(RuleRow, rule_id)
        return None if row is None else to_rule(row)

    async def get_many(self, rule_ids: Sequence[int]) -> list[Rule]:
        if not rule_ids:
            return []
        rows = await self.session.scalars(select(RuleRow).where(RuleRow.id.in_(list(rule_ids))))
        return [to_rule(r) for r in rows]

    async def find_by_name(self, user_id: int, name: str) -> Rule | None:
        row = await self.session.scalar(
            select(RuleRow).where(RuleRow.user_id == user_id, RuleRow.name_key == name_key(name))
        )
        return None if row is None else to_rule(row)

    async def list_for_user(self, user_id: int) -> list[Rule]:
        rows = await self.session.scalars(
            select(RuleRow).where(RuleRow.user_id == user_id).order_by(RuleRow.name_key)
        )
        return [to_rule(r) for r in rows]

    async def search_names(self, user_id: int, prefix: str, limit: int = 25) -> list[Rule]:
        stmt = select(RuleRow).where(RuleRow.user_id == user_id)
        if prefix.strip():
            pattern = contains_pattern(name_key(prefix))
            stmt = stmt.where(RuleRow.name_key.like(pattern, escape=LIKE_ESCAPE))
        rows = await self.session.scalars(stmt.order_by(RuleRow.name_key).limit(limit))
        return [to_rule(r) for r in rows]

    async def count(self, guild_id: int | None = None) -> int:
        stmt = select(func.count()).select_from(RuleRow)
        if guild_id is not None:
            stmt = stmt.where(RuleRow.guild_id == guild_id)
        return int(await self.session.scalar(stmt) or 0)

    async def stream_all(self, batch: int = 5000) -> AsyncIterator[Rule]:
        """Every rule, in id order, a batch at a time (used to rebuild the index at start)."""
        last = 0
        while True:
            rows = list(
                await self.session.scalars(
                    select(RuleRow).where(RuleRow.id > last).order_by(RuleRow.id).limit(batch)
                )
            )
            if not rows:
                return
            for row in rows:
                yield to_rule(row)
            last = rows[-1].id
