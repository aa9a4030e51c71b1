"""What an outbox alert row is about: the rule (or wanted entry standing in for one).

Deal alerts point at ``rules``; wanted alerts (kind ``wanted_alert``) at ``wanted`` entries. The
dispatcher and the digests ask here instead of loading rules themselves, so every delivery path
treats both kinds alike (suppression when paused or deleted, failover, digests, history).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.wanted_alerts import WANTED_ALERT, wanted_as_rule
from bot.domain.rule import Rule
from db.models import OutboxRow, WantedRow
from db.repositories.outbox import ALERT_KINDS
from db.repositories.rules import RuleRepository

__all__ = ["ALERT_KINDS", "rule_for", "rules_for"]


async def rule_for(session: AsyncSession, kind: str, rule_id: int | None) -> Rule | None:
    if rule_id is None:
        return None
    if kind == WANTED_ALERT:
        row = await session.get(WantedRow, rule_id)
        return None if row is None else wanted_as_rule(row)
    return await RuleRepository(session).get(rule_id)


async def rules_for(session: AsyncSession, rows: Sequence[OutboxRow]) -> dict[int, Rule]:
    """The rule of each row, keyed by the row's id (rows whose rule is gone are left out)."""
    deal_ids = [r.rule_id for r in rows if r.rule_id and r.kind != WANTED_ALERT]
    wanted_ids = [r.rule_id for r in rows if r.rule_id and r.kind == WANTED_ALERT]
    deals = {r.id: r for r in await RuleRepository(session).get_many(deal_ids)}
    wanted: dict[int, Rule] = {}
    if wanted_ids:
        found = await session.scalars(select(WantedRow).where(WantedRow.id.in_(wanted_ids)))
        wanted = {w.id: wanted_as_rule(w) for w in found}
    out: dict[int, Rule] = {}
    for row in rows:
        source = wanted if row.kind == WANTED_ALERT else deals
        rule = source.get(row.rule_id or 0)
        if rule is not None:
            out[row.id] = rule
    return out
