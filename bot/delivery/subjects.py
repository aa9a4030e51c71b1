"""What an outbox alert row is about: the rule (or the wanted entry or watch standing in for one).

Deal alerts point at ``rules``; wanted alerts (kind ``wanted_alert``) at ``wanted`` entries;
price-drop alerts (kind ``watch_alert``) at ``watches``. The dispatcher and the digests ask here
instead of loading rules themselves, so every delivery path treats all kinds alike (suppression
when paused or deleted, failover, digests, history).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.wanted_alerts import WANTED_ALERT, wanted_as_rule
from bot.delivery.watch_alerts import WATCH_ALERT, watch_as_rule
from bot.domain.rule import Rule
from db.models import ListingRow, OutboxRow, WantedRow, WatchRow
from db.repositories.outbox import ALERT_KINDS
from db.repositories.rules import RuleRepository

__all__ = ["ALERT_KINDS", "rule_for", "rules_for"]


async def rule_for(session: AsyncSession, kind: str, rule_id: int | None) -> Rule | None:
    if rule_id is None:
        return None
    if kind == WANTED_ALERT:
        row = await session.get(WantedRow, rule_id)
        return None if row is None else wanted_as_rule(row)
    if kind == WATCH_ALERT:
        return (await _watches(session, [rule_id])).get(rule_id)
    return await RuleRepository(session).get(rule_id)


async def _watches(session: AsyncSession, ids: Sequence[int]) -> dict[int, Rule]:
    """Watches by id, seen as rules named after their listing (gone watches left out)."""
    if not ids:
        return {}
    found = await session.execute(
        select(WatchRow, ListingRow.title)
        .outerjoin(ListingRow, ListingRow.id == WatchRow.listing_id)
        .where(WatchRow.id.in_(list(ids)))
    )
    return {w.id: watch_as_rule(w, title or "") for w, title in found}


async def rules_for(session: AsyncSession, rows: Sequence[OutboxRow]) -> dict[int, Rule]:
    """The rule of each row, keyed by the row's id (rows whose rule is gone are left out)."""
    by_kind: dict[str, list[int]] = {}
    for row in rows:
        if row.rule_id:
            kind = row.kind if row.kind in (WANTED_ALERT, WATCH_ALERT) else "deal_alert"
            by_kind.setdefault(kind, []).append(row.rule_id)
    deals = {r.id: r for r in await RuleRepository(session).get_many(by_kind.get("deal_alert", []))}
    wanted: dict[int, Rule] = {}
    if by_kind.get(WANTED_ALERT):
        found = await session.scalars(
            select(WantedRow).where(WantedRow.id.in_(by_kind[WANTED_ALERT]))
        )
        wanted = {w.id: wanted_as_rule(w) for w in found}
    watches = await _watches(session, by_kind.get(WATCH_ALERT, []))
    sources = {WANTED_ALERT: wanted, WATCH_ALERT: watches}
    out: dict[int, Rule] = {}
    for row in rows:
        rule = sources.get(row.kind, deals).get(row.rule_id or 0)
        if rule is not None:
            out[row.id] = rule
    return out
