"""Alert rules as a user manages them: validate, store, and keep the matching index in step.

The database is the source of truth; the in-memory :class:`RuleIndex` is updated only after the
transaction that changed a rule has committed, so the index never holds a rule the DB lost.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.listing import Listing
from bot.domain.matching import Check, RuleIndex, explain
from bot.domain.rule import GeocodeFn, Rule, RuleInput, RuleValidationError, apply_input
from bot.errors import NotFoundError, UserFacingError
from db.models import MAX_ID
from db.repositories.accounts import UserRepository
from db.repositories.listings import ListingRepository
from db.repositories.rules import RuleRepository

MAX_RULES_PER_USER = 50
TEST_SAMPLE = 200
TEST_SHOWN = 3


@dataclass(frozen=True, slots=True)
class TestResult:
    """One listing's verdict for ``/alert test``."""

    listing: Listing
    checks: list[Check]

    @property
    def matched(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass(frozen=True, slots=True)
class TestReport:
    rule: Rule
    sampled: int
    matched: int
    best: list[TestResult]


class RuleService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        index: RuleIndex,
        geocode: GeocodeFn,
    ) -> None:
        self.sessions = sessions
        self.index = index
        self.geocode = geocode

    async def create(self, user_id: int, guild_id: int | None, data: RuleInput) -> Rule:
        if data.name is None:
            raise UserFacingError("a rule needs a name", field="name")
        base = Rule(id=0, user_id=user_id, name="", guild_id=guild_id)
        data = replace(data, channels=data.channels if data.channels is not None else "dm")
        rule = self._validated(base, data)
        try:
            async with self.sessions.begin() as session:
                repo = RuleRepository(session)
                if len(await repo.list_for_user(user_id)) >= MAX_RULES_PER_USER:
                    raise UserFacingError(
                        f"you already have {MAX_RULES_PER_USER} alerts; delete one first",
                        field="name",
                    )
                if await repo.find_by_name(user_id, rule.name) is not None:
                    raise _duplicate_name(rule.name)
                # A user who is setting up alerts again gets one more chance at DMs.
                await UserRepository(session).reopen_dms(user_id)
                stored = await repo.add(rule)
        except IntegrityError:
            raise _duplicate_name(rule.name) from None
        self.index.add(stored)
        return stored

    async def edit(self, user_id: int, rule_ref: str, data: RuleInput) -> Rule:
        current = await self.resolve(user_id, rule_ref)
        rule = self._validated(current, data)
        try:
            async with self.sessions.begin() as session:
                repo = RuleRepository(session)
                clash = await repo.find_by_name(user_id, rule.name)
                if clash is not None and clash.id != rule.id:
                    raise _duplicate_name(rule.name)
                stored = await repo.save(rule)
        except IntegrityError:
            raise _duplicate_name(rule.name) from None
        self.index.update(stored)
        return stored

    async def set_active(self, user_id: int, rule_ref: str, active: bool) -> Rule:
        rule = await self.resolve(user_id, rule_ref)
        return await self._set_active(rule, active)

    async def set_active_by_id(self, user_id: int, rule_id: int, active: bool) -> Rule:
        """For the "Pause this alert" button: the id comes from a button the user owns."""
        if not 0 < rule_id <= MAX_ID:
            raise NotFoundError("that alert no longer exists")
        async with self.sessions() as session:
            rule = await RuleRepository(session).get_own(user_id, rule_id)
        if rule is None:
            raise NotFoundError("that alert no longer exists")
        return await self._set_active(rule, active)

    async def _set_active(self, rule: Rule, active: bool) -> Rule:
        if rule.active == active:
            return rule
        async with self.sessions.begin() as session:
            stored = await RuleRepository(session).save(replace(rule, active=active))
        self.index.update(stored)
        return stored

    async def delete(self, user_id: int, rule_id: int) -> bool:
        async with self.sessions.begin() as session:
            deleted = await RuleRepository(session).delete(user_id, rule_id)
        if deleted:
            self.index.remove(rule_id)
        return deleted

    async def autocomplete(self, user_id: int, current: str) -> list[Rule]:
        async with self.sessions() as session:
            return await RuleRepository(session).search_names(user_id, current)

    async def list(self, user_id: int) -> list[Rule]:
        async with self.sessions() as session:
            return await RuleRepository(session).list_for_user(user_id)

    async def resolve(self, user_id: int, rule_ref: str) -> Rule:
        """Find the user's rule by name, or by the id autocomplete sends. Never another user's."""
        ref = (rule_ref or "").strip()
        async with self.sessions() as session:
            repo = RuleRepository(session)
            rule = await repo.find_by_name(user_id, ref)
            if rule is None and ref.isdigit() and len(ref) < 19:
                rule = await repo.get_own(user_id, int(ref))
        if rule is None:
            raise NotFoundError(f"you have no alert named {ref[:80]!r}", field="rule")
        return rule

    async def test(self, user_id: int, rule_ref: str) -> TestReport:
        """Run the rule against the most recent listings and keep the closest few."""
        rule = await self.resolve(user_id, rule_ref)
        async with self.sessions() as session:
            listings = await ListingRepository(session).recent(TEST_SAMPLE)
        results = [TestResult(listing, explain(rule, listing)) for listing in listings]
        results.sort(key=lambda r: (-sum(c.passed for c in r.checks), -r.listing.id))
        return TestReport(
            rule=rule,
            sampled=len(results),
            matched=sum(r.matched for r in results),
            best=results[:TEST_SHOWN],
        )

    def _validated(self, base: Rule, data: RuleInput) -> Rule:
        try:
            return apply_input(base, data, geocode=self.geocode)
        except RuleValidationError as exc:
            raise UserFacingError(exc.message, field=exc.field) from None


def _duplicate_name(name: str) -> UserFacingError:
    return UserFacingError(f"you already have an alert named {name!r}", field="name")


async def build_index(sessions: async_sessionmaker[AsyncSession]) -> RuleIndex:
    """Build the matching index from every stored rule (at start; never per change)."""
    async with sessions() as session:
        rules = [r async for r in RuleRepository(session).stream_all()]
    return RuleIndex.build(rules)
