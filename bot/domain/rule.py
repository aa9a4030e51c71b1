"""Alert rules: the value, and the validation every rule passes before it is stored.

Validation lives here (not in the cog) because discord.py does not re-check option ranges and the
same rules arrive from several places (slash commands, edits, the demo, tests). Each failure names
the field so the user can fix exactly that.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from bot.domain.listing import DEFAULT_CURRENCY, Condition, GeoPoint, Listing, parse_money
from bot.domain.policy import Frequency
from bot.domain.text import normalise_category, phrase_key, split_terms

MAX_KEYWORDS = 20
MAX_EXCLUDES = 30
MAX_TERM_LENGTH = 60
MAX_NAME_LENGTH = 80
MAX_RADIUS_MI = 500.0


class Channel(enum.StrEnum):
    """Where an alert can be delivered. More channels arrive with later issues."""

    dm = "dm"
    channel = "channel"
    email = "email"
    sms = "sms"
    webhook = "webhook"  # the user's own Discord webhook (/prefs webhook set)


NAME_ONE = "name at least one of: " + ", ".join(c.value for c in Channel)
"""The message when no channel is named (under Discord's 100 characters)."""


class RuleValidationError(ValueError):
    """Bad rule input; ``field`` names the option the user must fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Rule:
    """A saved alert rule. Keywords and excludes are kept as typed (for display); the index
    folds them with :func:`bot.domain.text.phrase_key`."""

    id: int
    user_id: int
    name: str
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    currency: str = DEFAULT_CURRENCY
    categories: tuple[str, ...] = ()
    min_condition: Condition | None = None
    location_text: str | None = None
    point: GeoPoint | None = None
    radius_mi: float | None = None
    min_deal_score: float | None = None
    channels: frozenset[Channel] = field(default_factory=lambda: frozenset({Channel.dm}))
    guild_id: int | None = None
    active: bool = True
    frequency: Frequency | None = None  # None: the user's default (/prefs frequency)

    def seller_is_owner(self, listing: Listing) -> bool:
        """A seller is never alerted about their own listing."""
        return listing.seller_id is not None and listing.seller_id == self.user_id

    @property
    def keyword_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for k in (phrase_key(t) for t in self.keywords) if k))

    @property
    def exclude_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k for k in (phrase_key(t) for t in self.exclude) if k))

    @property
    def category_keys(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(
                "/".join(s) for s in (normalise_category(c) for c in self.categories) if s
            )
        )


@dataclass(frozen=True, slots=True)
class RuleInput:
    """Raw rule fields as a user typed them. ``None`` means "not given" (keep, on edit)."""

    name: str | None = None
    keywords: str | None = None
    exclude: str | None = None
    min_price: str | None = None
    max_price: str | None = None
    category: str | None = None
    condition: str | None = None
    location: str | None = None
    radius: float | None = None
    min_deal_score: float | None = None
    channels: str | None = None
    frequency: str | None = None


GeocodeFn = Callable[[str], GeoPoint | None]
"""Turns a location string into a point, or ``None`` if the place is unknown."""

CLEAR = "none"
"""Typing ``none`` for an optional text field on edit clears it."""


def _terms(field_name: str, raw: str, limit: int) -> tuple[str, ...]:
    terms = split_terms(raw)
    for term in terms:
        if len(term) > MAX_TERM_LENGTH:
            raise RuleValidationError(
                field_name, f"{term[:20]!r}… is longer than {MAX_TERM_LENGTH}"
            )
        if not phrase_key(term):
            raise RuleValidationError(field_name, f"{term!r} has no letters or digits")
    if len(terms) > limit:
        raise RuleValidationError(field_name, f"at most {limit} terms, you gave {len(terms)}")
    return tuple(dict.fromkeys(terms))


def parse_channels(raw: str) -> frozenset[Channel]:
    names = [p.strip().casefold() for p in raw.replace(" ", ",").split(",") if p.strip()]
    if not names:
        raise RuleValidationError("channels", NAME_ONE)
    result = set()
    for name in names:
        try:
            result.add(Channel(name))
        except ValueError:
            allowed = ", ".join(c.value for c in Channel)
            raise RuleValidationError("channels", f"{name!r} is not one of {allowed}") from None
    return frozenset(result)


def parse_frequency(raw: str) -> Frequency | None:
    """immediate, daily or weekly; "default" (or none) follows the user's preference."""
    key = raw.strip().casefold()
    if key in ("default", CLEAR, ""):
        return None
    try:
        return Frequency(key)
    except ValueError:
        raise RuleValidationError(
            "frequency", "choose immediate, daily, weekly or default"
        ) from None


def _money(field_name: str, raw: str) -> Decimal | None:
    try:
        return parse_money(raw)
    except ValueError as exc:
        raise RuleValidationError(field_name, str(exc)) from None


def apply_input(base: Rule, data: RuleInput, *, geocode: GeocodeFn) -> Rule:
    """Return ``base`` with every given field of ``data`` validated and applied.

    Used for create (``base`` is an empty rule) and edit alike, so both enforce the same rules.
    ``geocode`` turns a location string into a point, or ``None`` if unknown.
    """
    rule = base
    if data.name is not None:
        name = " ".join(data.name.split())
        if not name:
            raise RuleValidationError("name", "a rule needs a name")
        if len(name) > MAX_NAME_LENGTH:
            raise RuleValidationError("name", f"at most {MAX_NAME_LENGTH} characters")
        rule = replace(rule, name=name)
    if data.keywords is not None:
        kw = (
            ()
            if data.keywords.strip().casefold() == CLEAR
            else _terms("keywords", data.keywords, MAX_KEYWORDS)
        )
        rule = replace(rule, keywords=kw)
    if data.exclude is not None:
        ex = (
            ()
            if data.exclude.strip().casefold() == CLEAR
            else _terms("exclude", data.exclude, MAX_EXCLUDES)
        )
        rule = replace(rule, exclude=ex)
    if data.min_price is not None:
        rule = replace(
            rule,
            min_price=None
            if data.min_price.strip().casefold() == CLEAR
            else _money("min_price", data.min_price),
        )
    if data.max_price is not None:
        rule = replace(
            rule,
            max_price=None
            if data.max_price.strip().casefold() == CLEAR
            else _money("max_price", data.max_price),
        )
    if data.category is not None:
        cat = data.category.strip()
        if cat.casefold() == CLEAR or not cat:
            rule = replace(rule, categories=())
        else:
            if not normalise_category(cat) or len(cat) > 100:
                raise RuleValidationError("category", f"{cat[:40]!r} is not a category")
            rule = replace(rule, categories=(cat,))
    if data.condition is not None:
        if data.condition.strip().casefold() in (CLEAR, "any", ""):
            rule = replace(rule, min_condition=None)
        else:
            try:
                rule = replace(rule, min_condition=Condition.parse(data.condition))
            except ValueError:
                allowed = ", ".join(c.name for c in sorted(Condition, reverse=True))
                raise RuleValidationError("condition", f"choose one of {allowed}") from None
    if data.location is not None:
        loc = data.location.strip()
        if not loc or loc.casefold() == CLEAR:
            rule = replace(rule, location_text=None, point=None, radius_mi=None)
        else:
            point = geocode(loc)
            if point is None:
                raise RuleValidationError(
                    "location", f'{loc[:40]!r} is not a known US ZIP code or "City, ST"'
                )
            rule = replace(rule, location_text=loc, point=point)
    if data.radius is not None:
        if not math.isfinite(data.radius) or data.radius <= 0 or data.radius > MAX_RADIUS_MI:
            raise RuleValidationError("radius", f"must be between 1 and {MAX_RADIUS_MI:.0f} miles")
        rule = replace(rule, radius_mi=float(data.radius))
    if data.min_deal_score is not None:
        s = data.min_deal_score
        if not math.isfinite(s) or s < 0 or s > 1:
            raise RuleValidationError("min_deal_score", "must be between 0 and 1 (e.g. 0.6)")
        rule = replace(rule, min_deal_score=None if s == 0 else float(s))
    if data.channels is not None:
        rule = replace(rule, channels=parse_channels(data.channels))
    if data.frequency is not None:
        rule = replace(rule, frequency=parse_frequency(data.frequency))
    check_rule(rule)
    return rule


def check_rule(rule: Rule) -> None:
    """Cross-field checks that must hold for every stored rule."""
    if not rule.name:
        raise RuleValidationError("name", "a rule needs a name")
    if not rule.keyword_keys and not rule.category_keys:
        raise RuleValidationError(
            "keywords", "give at least one keyword or a category (a rule cannot match everything)"
        )
    if (
        rule.min_price is not None
        and rule.max_price is not None
        and rule.min_price > rule.max_price
    ):
        raise RuleValidationError(
            "min_price", f"min_price {rule.min_price} is above max_price {rule.max_price}"
        )
    if rule.radius_mi is not None and rule.point is None:
        raise RuleValidationError("location", 'a radius needs a location (ZIP or "City, ST")')
    if rule.point is not None and rule.radius_mi is None:
        raise RuleValidationError("radius", "a location needs a radius in miles")
    if not rule.channels:
        raise RuleValidationError("channels", NAME_ONE)
    if Channel.channel in rule.channels and rule.guild_id is None:
        raise RuleValidationError(
            "channels", "server-channel alerts need a rule created in a server; use dm here"
        )
