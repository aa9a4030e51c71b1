"""Recommendations for ``/deals``: the best listings for one user, and why any listing ranks
where it does.

Candidates are the newest active listings of the last :data:`WINDOW` (at most
:data:`MAX_CANDIDATES`) the user has not been alerted about, did not sell, did not mark "Not
interested" and does not already watch. :func:`bot.domain.recommend.rank` scores them against the
user's alerts (through the matching index, relaxed), the titles of the listings they watch and
dismissed (TF-IDF) and the deal score; that CPU work runs in a worker thread so the event loop
keeps answering. Everything loaded is the caller's own, so nothing of other users can leak.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.outbox import NOT_INTERESTED
from bot.domain.listing import Listing
from bot.domain.matching import Check, RuleIndex, explain
from bot.domain.recommend import Profile, Ranking, Recommendation, RuleFit, Seen, rank
from bot.domain.rule import Rule
from bot.errors import NotFoundError, UserFacingError
from db.models import MAX_ID, utcnow
from db.repositories.recommendations import RecommendationRepository
from db.repositories.rules import RuleRepository

log = logging.getLogger(__name__)

WINDOW = timedelta(days=30)
"""Only listings this recent are recommended (older ones have usually gone)."""
MAX_CANDIDATES = 2000
"""At most this many (the newest) candidates are ranked per call."""
TOP_N = 10
PROFILE_TITLES = 200
"""The most recent watched and dismissed listings whose titles shape the ranking."""
AUTOCOMPLETE_LIMIT = 25

_REF = re.compile(r"^\s*#?\s*([0-9]{1,19})\s*$")
_URL_ID = re.compile(r"/listings?/([0-9]{1,19})(?:[/?#]|$)")


class Exclusion(enum.StrEnum):
    """Why a listing is never among a user's recommendations."""

    OWN = "own"
    ALERTED = "alerted"
    NOT_INTERESTED = "not_interested"
    WATCHING = "watching"
    NOT_ACTIVE = "not_active"
    TOO_OLD = "too_old"
    CROWDED = "crowded"  # active and recent, but more than MAX_CANDIDATES newer listings


@dataclass(frozen=True, slots=True)
class ForYou:
    items: list[Recommendation]
    personal: bool
    """False: the user has no alerts and watches nothing, so these are the best deals."""
    considered: int


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """One of the user's alerts against one listing."""

    rule: Rule
    fit: RuleFit | None
    similarity: float | None
    failed: tuple[Check, ...]
    """The checks that fail (when the alert does not fit, not even almost)."""


@dataclass(frozen=True, slots=True)
class Explanation:
    listing: Listing
    recommendation: Recommendation
    position: int | None
    """1-based place among the user's recommendations; None when it is not one."""
    ranked: int
    """How many listings are recommendable for the user right now."""
    shown: int
    exclusions: tuple[Exclusion, ...]
    rules: tuple[RuleVerdict, ...]
    personal: bool


def parse_listing_ref(text: str) -> int:
    """A listing number as typed or picked: "123", "#123", or a link ending in /listings/123."""
    raw = (text or "").strip()
    found = _REF.match(raw) or _URL_ID.search(raw)
    if found is None:
        shown = raw[:40] or "(empty)"
        raise UserFacingError(
            f"{shown!r} is not a listing number; pick a listing from the list", field="listing"
        )
    listing_id = int(found.group(1))
    if not 0 < listing_id <= MAX_ID:
        raise NotFoundError(f"there is no listing #{listing_id}", field="listing")
    return listing_id


class RecommendationService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        index: RuleIndex,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        # The shared index serves live alerts and is owned by the event loop; rankings run in a
        # worker thread on an index of the user's own (relaxed) alerts instead.
        self.index = index
        self.clock = clock

    def _repo(self, session: AsyncSession) -> RecommendationRepository:
        return RecommendationRepository(session, dismissed_kind=NOT_INTERESTED)

    async def _load(
        self, session: AsyncSession, user_id: int, since: datetime
    ) -> tuple[Profile, list[Listing]]:
        repo = self._repo(session)
        rules = await RuleRepository(session).list_for_user(user_id)
        watched = await repo.watched_titles(user_id, PROFILE_TITLES)
        dismissed = await repo.dismissed_titles(user_id, PROFILE_TITLES)
        candidates = await repo.candidates(user_id, since, MAX_CANDIDATES)
        profile = Profile(
            rules=tuple(rules),
            watched=tuple(Seen(i, title) for i, title in watched),
            not_interested=tuple(Seen(i, title) for i, title in dismissed),
        )
        return profile, candidates

    async def for_me(self, user_id: int, limit: int = TOP_N) -> ForYou:
        """The ``limit`` best listings for the user, each with its reason."""
        since = self.clock() - WINDOW
        async with self.sessions() as session:
            profile, candidates = await self._load(session, user_id, since)
        ranking: Ranking = await asyncio.to_thread(rank, candidates, profile)
        log.debug("ranked %d candidates for a user: %d eligible", len(candidates), len(ranking))
        return ForYou(ranking.top(limit), ranking.personal, len(candidates))

    async def why(self, user_id: int, listing_ref: str, *, shown: int = TOP_N) -> Explanation:
        """Every signal of one listing for the user, where it ranks, and what keeps it out.

        Works for any listing the user may see, even one that would never be recommended.
        """
        listing_id = parse_listing_ref(listing_ref)
        now = self.clock()
        since = now - WINDOW
        async with self.sessions() as session:
            repo = self._repo(session)
            listing = await repo.visible(user_id, listing_id)
            if listing is None:
                raise NotFoundError(f"there is no listing #{listing_id}", field="listing")
            standing = await repo.standing(user_id, listing_id)
            profile, candidates = await self._load(session, user_id, since)
        exclusions: list[Exclusion] = []
        if standing.own:
            exclusions.append(Exclusion.OWN)
        if standing.alerted:
            exclusions.append(Exclusion.ALERTED)
        if standing.not_interested:
            exclusions.append(Exclusion.NOT_INTERESTED)
        if standing.watching:
            exclusions.append(Exclusion.WATCHING)
        if listing.status != "active":
            exclusions.append(Exclusion.NOT_ACTIVE)
        if listing.created_at < since:
            exclusions.append(Exclusion.TOO_OLD)
        in_pool = any(c.id == listing_id for c in candidates)
        if not exclusions and not in_pool:
            exclusions.append(Exclusion.CROWDED)
        # A listing that is not a candidate is scored alongside them, but never ranked.
        pool = candidates if in_pool else [*candidates, listing]
        ranking: Ranking = await asyncio.to_thread(rank, pool, profile)
        recommendation = ranking.get(listing_id)
        assert recommendation is not None
        position = None if exclusions else ranking.position(listing_id)
        added = not in_pool and recommendation.eligible  # the listing itself, not a candidate
        return Explanation(
            listing=listing,
            recommendation=recommendation,
            position=position,
            ranked=len(ranking) - int(added),
            shown=shown,
            exclusions=tuple(exclusions),
            rules=() if standing.own else _verdicts(profile.rules, recommendation, listing),
            personal=ranking.personal,
        )

    async def search(self, current: str) -> list[Listing]:
        """Recent listings for the ``listing`` autocomplete (title contains, or the number)."""
        since = self.clock() - WINDOW
        async with self.sessions() as session:
            return await self._repo(session).search(current[:100], since, AUTOCOMPLETE_LIMIT)


def _verdicts(
    rules: tuple[Rule, ...], recommendation: Recommendation, listing: Listing
) -> tuple[RuleVerdict, ...]:
    """Each alert of the user against the listing: fits first, then by word similarity."""
    signals = recommendation.signals
    fits = {f.rule_id: f for f in signals.fits}
    sims = {s.subject_id: s.similarity for s in signals.rule_similar}
    verdicts = []
    for rule in rules:
        fit = fits.get(rule.id)
        failed: tuple[Check, ...] = ()
        if fit is None:
            failed = tuple(c for c in explain(replace(rule, active=True), listing) if not c.passed)
        verdicts.append(RuleVerdict(rule, fit, sims.get(rule.id), failed))

    def order(v: RuleVerdict) -> tuple[int, float, str]:
        fit_rank = 2 if v.fit is None else (0 if v.fit.strict else 1)
        return (fit_rank, -(v.similarity or 0.0), v.rule.name.casefold())

    return tuple(sorted(verdicts, key=order))
