"""Rule input validation: every bad input names the field the user must fix."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain.listing import Condition, GeoPoint, parse_money
from bot.domain.rule import Channel, Rule, RuleInput, RuleValidationError, apply_input

SAN_JOSE = GeoPoint(37.34, -121.89)


def geocode(text: str) -> GeoPoint | None:
    return SAN_JOSE if text in {"95112", "San Jose, CA"} else None


def make(**fields: object) -> Rule:
    base = Rule(id=0, user_id=1, name="", guild_id=fields.pop("guild_id", 9))  # type: ignore[arg-type]
    data = RuleInput(**{"name": "My alert", **fields})  # type: ignore[arg-type]
    return apply_input(base, data, geocode=geocode)


def field_of(**fields: object) -> str:
    with pytest.raises(RuleValidationError) as err:
        make(**fields)
    return err.value.field


def test_full_rule_is_parsed() -> None:
    rule = make(
        keywords='gaming, "office chair"',
        exclude="broken, damaged",
        min_price="$100",
        max_price="1,350.50",
        category="Furniture",
        condition="like new",
        location="San Jose, CA",
        radius=50,
        min_deal_score=0.6,
        channels="dm, channel",
    )
    assert rule.keywords == ("gaming", "office chair")
    assert rule.keyword_keys == ("gaming", "office chair")
    assert rule.exclude == ("broken", "damaged")
    assert (rule.min_price, rule.max_price) == (Decimal("100.00"), Decimal("1350.50"))
    assert rule.min_condition is Condition.like_new
    assert rule.point == SAN_JOSE and rule.radius_mi == 50
    assert rule.channels == {Channel.dm, Channel.channel}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"keywords": "chair", "min_price": "500", "max_price": "100"}, "min_price"),
        ({"keywords": "chair", "min_price": "-5"}, "min_price"),
        ({"keywords": "chair", "max_price": "99999999999"}, "max_price"),
        ({"keywords": "chair", "max_price": "abc"}, "max_price"),
        ({"keywords": "chair", "max_price": "NaN"}, "max_price"),
        ({}, "keywords"),
        ({"keywords": " , ,"}, "keywords"),
        ({"keywords": ",".join(f"k{i}" for i in range(21))}, "keywords"),
        ({"keywords": "x" * 61}, "keywords"),
        ({"keywords": "chair", "location": "Atlantis, ZZ", "radius": 10}, "location"),
        ({"keywords": "chair", "radius": 10}, "location"),
        ({"keywords": "chair", "location": "95112"}, "radius"),
        ({"keywords": "chair", "location": "95112", "radius": 0}, "radius"),
        ({"keywords": "chair", "location": "95112", "radius": 501}, "radius"),
        ({"keywords": "chair", "min_deal_score": 1.5}, "min_deal_score"),
        ({"keywords": "chair", "condition": "mint"}, "condition"),
        ({"keywords": "chair", "channels": "pigeon"}, "channels"),
        ({"keywords": "chair", "channels": ""}, "channels"),
        ({"keywords": "chair", "channels": "channel", "guild_id": None}, "channels"),
        ({"keywords": "chair", "name": "   "}, "name"),
        ({"keywords": "chair", "name": "n" * 81}, "name"),
        ({"keywords": "!!!"}, "keywords"),
    ],
)
def test_bad_input_names_the_field(fields: dict[str, object], field: str) -> None:
    assert field_of(**fields) == field


def test_category_alone_is_enough_and_none_clears_on_edit() -> None:
    rule = make(category="Furniture", exclude="broken")
    assert rule.keywords == () and rule.category_keys == ("furniture",)
    edited = apply_input(rule, RuleInput(exclude="none", max_price="500"), geocode=geocode)
    assert edited.exclude == () and edited.max_price == Decimal("500.00")
    with pytest.raises(RuleValidationError) as err:
        apply_input(edited, RuleInput(category="none"), geocode=geocode)
    assert err.value.field == "keywords"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("$1,299.99", Decimal("1299.99")), ("300", Decimal("300.00")), ("0.005", Decimal("0.01")),
     ("", None), (None, None)],
)  # fmt: skip
def test_parse_money(raw: str | None, expected: Decimal | None) -> None:
    assert parse_money(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "1e12", "inf", "twelve", "1.2.3"])
def test_parse_money_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_money(raw)
