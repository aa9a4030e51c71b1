"""Turn a listing's matched rules into outbox rows, each with the user's delivery decision.

The decision itself is the pure :func:`bot.domain.policy.decide`; this module only gathers what
it needs (preferences, how many immediate alerts each user had today) in two queries for all
matched users at once, and writes the outcome onto the rows: due now, held until the end of the
quiet window, waiting for a digest, or suppressed with the reason.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.outbox import plan_alerts
from bot.domain.listing import Listing
from bot.domain.policy import Action, Decision, Frequency, History, decide, local_day_start
from bot.domain.rule import Rule
from db.models import OutboxStatus
from db.repositories.outbox import NewAlert, OutboxRepository
from db.repositories.preferences import PreferencesRepository, to_preferences

_URGENCY = {Frequency.immediate: 0, Frequency.daily: 1, Frequency.weekly: 2}


def most_urgent(rules: Sequence[Rule], default: Frequency) -> Frequency:
    """The most urgent frequency among a user's matching rules (a rule without its own follows
    the user's default): one immediate rule makes the listing worth an immediate alert."""
    return min((r.frequency or default for r in rules), key=_URGENCY.__getitem__, default=default)


def apply_decision(alert: NewAlert, decision: Decision) -> NewAlert:
    if decision.action is Action.send:
        return alert
    if decision.action is Action.hold:
        return replace(alert, due_at=decision.at, reason=decision.reason)
    if decision.action is Action.digest:
        return replace(
            alert,
            status=OutboxStatus.digest,
            due_at=decision.at,
            digest_period=decision.digest_period,
            reason=decision.reason,
        )
    return replace(alert, status=OutboxStatus.suppressed, reason=decision.reason)


async def plan_deliveries(
    session: AsyncSession, listing: Listing, rules: Sequence[Rule], now: datetime
) -> list[NewAlert]:
    """Outbox rows for ``listing``'s matching ``rules`` with every owner's decision applied."""
    alerts = plan_alerts(listing, rules)
    users = sorted({a.user_id for a in alerts})
    if not users:
        return []
    rows = await PreferencesRepository(session).many(users)
    prefs = {u: to_preferences(rows.get(u)) for u in users}
    day_starts = {u: local_day_start(now, prefs[u].timezone) for u in users}
    earliest = min(day_starts.values(), default=now - timedelta(days=1))
    today: Counter[int] = Counter()
    for user, at in await OutboxRepository(session).alert_times_since(users, earliest):
        if at >= day_starts[user]:
            today[user] += 1
    by_user: dict[int, list[Rule]] = defaultdict(list)
    for rule in rules:
        by_user[rule.user_id].append(rule)
    decisions = {
        u: decide(
            now=now,
            prefs=prefs[u],
            rule_frequency=most_urgent(by_user[u], prefs[u].frequency),
            history=History(immediate_today=today[u]),
            listing_category=listing.category,
        )
        for u in users
    }
    return [apply_decision(a, decisions[a.user_id]) for a in alerts]
