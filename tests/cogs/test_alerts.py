"""/alert, routed through discord.py's CommandTree: every flow a user sees, and bad input."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from bot.domain.listing import Condition, Listing
from bot.domain.rule import Channel, RuleInput
from tests.cogs.harness import GUILD_ID, Harness, Reply

ALICE, BOB, CAROL = 1001, 1002, 1003


async def make_rule(h: Harness, user: int, name: str, keywords: str = "desk", **kw: Any) -> int:
    rule = await h.services.rules.create(
        user, GUILD_ID, RuleInput(name=name, keywords=keywords, **kw)
    )
    return rule.id


async def sell(h: Harness, seller: int, title: str, price: str = "100", **kw: Any) -> Reply:
    reply = await h.invoke(seller, "sell", title=title, price=price, **kw)
    assert "Listed!" in (reply.content or ""), reply
    return reply


def assert_field_error(reply: Reply, field: str) -> None:
    assert reply.ephemeral
    assert reply.content is not None and reply.content.startswith(f"❌ **{field}**"), reply


# ---- create ---------------------------------------------------------------------------------


async def test_create_replies_with_an_ephemeral_summary(h: Harness) -> None:
    reply = await h.invoke(
        ALICE,
        "alert create",
        name="Desk deals",
        keywords='desk, "standing desk"',
        exclude="broken",
        min_price="$100",
        max_price="1,299.99",
        category="Furniture",
        condition="good",
        location="Portland, OR",
        radius=25.0,
        min_deal_score=0.5,
        channels="dm,channel",
    )
    assert reply.ephemeral
    assert "Desk deals" in reply.embed["title"]
    assert reply.field("Keywords") == 'desk, "standing desk"'
    assert reply.field("Excluded") == "broken"
    assert reply.field("Price") == "$100.00 – $1,299.99"
    assert reply.field("Category") == "Furniture"
    assert reply.field("Condition") == "Good or better"
    assert reply.field("Location") == "Portland, OR (within 25 mi)"
    assert reply.field("Min deal score") == "0.50"
    assert reply.field("Channels") == "DM, server alert channel"
    assert reply.field("Status") == "✅ active"

    [rule] = await h.services.rules.list(ALICE)
    assert rule.keywords == ("desk", "standing desk")
    assert rule.max_price == Decimal("1299.99")
    assert rule.min_condition == Condition.good
    assert rule.channels == {Channel.dm, Channel.channel}
    assert rule.guild_id == GUILD_ID


async def test_create_with_a_category_only(h: Harness) -> None:
    reply = await h.invoke(ALICE, "alert create", name="Any furniture", category="Furniture")
    assert reply.field("Keywords") == "any"
    assert reply.field("Category") == "Furniture"
    assert reply.field("Channels") == "DM"
    [rule] = await h.services.rules.list(ALICE)
    assert rule.categories == ("Furniture",)
    assert rule.keywords == ()


async def test_create_in_a_dm_makes_a_dm_rule_without_a_server(h: Harness) -> None:
    reply = await h.invoke(ALICE, "alert create", guild=False, name="Records", keywords="vinyl")
    assert reply.ephemeral
    [rule] = await h.services.rules.list(ALICE)
    assert rule.guild_id is None
    assert rule.channels == {Channel.dm}


BAD_CREATE = [
    pytest.param(
        {"keywords": "desk", "min_price": "500", "max_price": "100"}, "min_price", id="min>max"
    ),
    pytest.param({"keywords": "desk", "min_price": "-5"}, "min_price", id="negative"),
    pytest.param({"keywords": "desk", "max_price": "20,000,000"}, "max_price", id="absurd"),
    pytest.param({"keywords": "desk", "max_price": "abc"}, "max_price", id="not-a-price"),
    pytest.param({}, "keywords", id="no-keywords-no-category"),
    pytest.param({"keywords": ", ".join(f"w{i}" for i in range(21))}, "keywords", id="21-keywords"),
    pytest.param(
        {"keywords": "desk", "location": "Atlantis, ZZ", "radius": 10.0},
        "location",
        id="unknown-place",
    ),
    pytest.param({"keywords": "desk", "radius": 10.0}, "location", id="radius-without-location"),
    pytest.param({"keywords": "desk", "location": "97201"}, "radius", id="location-without-radius"),
    pytest.param({"keywords": "desk", "channels": "pigeon"}, "channels", id="pigeon"),
    pytest.param(
        {"keywords": "desk", "radius": 900.0, "location": "97201"}, "radius", id="radius>500"
    ),
    pytest.param({"keywords": "desk", "min_deal_score": 3.0}, "min_deal_score", id="score>1"),
]


@pytest.mark.parametrize(("options", "field"), BAD_CREATE)
async def test_create_rejects_bad_input_naming_the_field(
    h: Harness, options: dict[str, Any], field: str
) -> None:
    reply = await h.invoke(ALICE, "alert create", name="Bad", **options)
    assert_field_error(reply, field)
    assert await h.rule_count(ALICE) == 0
    assert len(h.services.index) == 0


async def test_create_rejects_a_duplicate_name(h: Harness) -> None:
    await h.invoke(ALICE, "alert create", name="Desks", keywords="desk")
    reply = await h.invoke(ALICE, "alert create", name="desks", keywords="table")
    assert_field_error(reply, "name")
    [rule] = await h.services.rules.list(ALICE)
    assert rule.keywords == ("desk",)
    # The same name is fine for someone else.
    await h.invoke(BOB, "alert create", name="Desks", keywords="desk")
    assert await h.rule_count(BOB) == 1


async def test_channel_alerts_from_a_dm_are_refused(h: Harness) -> None:
    reply = await h.invoke(
        ALICE, "alert create", guild=False, name="Desks", keywords="desk", channels="dm,channel"
    )
    assert_field_error(reply, "channels")
    assert await h.rule_count(ALICE) == 0


# ---- list / show ----------------------------------------------------------------------------


async def test_list_shows_only_your_own_rules(h: Harness) -> None:
    await make_rule(h, ALICE, "Alice desks")
    await make_rule(h, ALICE, "Alice lamps", keywords="lamp")
    await make_rule(h, BOB, "Bob chairs", keywords="chair")
    reply = await h.invoke(ALICE, "alert list")
    assert reply.ephemeral
    assert "Alice desks" in reply.text and "Alice lamps" in reply.text
    assert "Bob chairs" not in reply.text
    assert reply.buttons == []  # one page: no pagination buttons


async def test_list_with_no_rules_says_how_to_create_one(h: Harness) -> None:
    reply = await h.invoke(ALICE, "alert list")
    assert "/alert create" in (reply.content or "")


async def test_list_paginates_and_only_the_owner_can_turn_pages(h: Harness) -> None:
    for i in range(7):
        await make_rule(h, ALICE, f"Rule {i}", keywords=f"thing{i}")
    first = await h.invoke(ALICE, "alert list")
    assert len(first.embed["fields"]) == 5
    assert first.embed["footer"]["text"] == "Page 1/2"
    labels = {b["label"]: b.get("disabled", False) for b in first.buttons}
    assert labels == {"Previous": True, "Next": False}

    refused = await h.click(BOB, first, "Next")
    assert "someone else" in (refused.reply.content or "")
    assert refused.reply.ephemeral
    assert h.messages[first.message_id or 0]["embeds"][0]["footer"]["text"] == "Page 1/2"

    second = (await h.click(ALICE, first, "Next")).reply
    assert second.kind == "update"
    assert [f["name"] for f in second.embed["fields"]] == ["🔔 Rule 5", "🔔 Rule 6"]
    assert second.embed["footer"]["text"] == "Page 2/2"
    assert {b["label"]: b.get("disabled", False) for b in second.buttons} == {
        "Previous": False,
        "Next": True,
    }
    back = (await h.click(ALICE, second, "Previous")).reply
    assert back.embed["footer"]["text"] == "Page 1/2"


async def test_show_one_rule(h: Harness) -> None:
    await make_rule(h, ALICE, "Desks", max_price="300")
    reply = await h.invoke(ALICE, "alert show", rule="Desks")
    assert reply.ephemeral
    assert reply.field("Price") == "up to $300.00"


async def test_show_someone_elses_rule_is_not_found(h: Harness) -> None:
    await make_rule(h, BOB, "Bob desks")
    reply = await h.invoke(ALICE, "alert show", rule="Bob desks")
    assert_field_error(reply, "rule")
    assert reply.embeds == []


# ---- edit -----------------------------------------------------------------------------------


async def test_edit_changes_a_price_and_none_clears_a_field(h: Harness) -> None:
    await make_rule(h, ALICE, "Desks", exclude="broken", max_price="300")
    reply = await h.invoke(ALICE, "alert edit", rule="Desks", max_price="$450", exclude="none")
    assert reply.ephemeral
    assert reply.field("Price") == "up to $450.00"
    assert reply.field("Excluded") == "none"
    [rule] = await h.services.rules.list(ALICE)
    assert rule.max_price == Decimal("450.00")
    assert rule.exclude == ()
    assert rule.keywords == ("desk",)  # untouched


async def test_edit_can_rename_and_clear_the_condition(h: Harness) -> None:
    await make_rule(h, ALICE, "Desks", condition="good")
    reply = await h.invoke(ALICE, "alert edit", rule="Desks", name="Office desks", condition="any")
    assert "Office desks" in reply.embed["title"]
    [rule] = await h.services.rules.list(ALICE)
    assert rule.name == "Office desks" and rule.min_condition is None


async def test_edit_of_a_missing_rule_is_not_found(h: Harness) -> None:
    reply = await h.invoke(ALICE, "alert edit", rule="Nope", max_price="5")
    assert_field_error(reply, "rule")


async def test_edit_of_another_users_rule_is_not_found_and_changes_nothing(h: Harness) -> None:
    await make_rule(h, BOB, "Bob desks", max_price="300")
    reply = await h.invoke(ALICE, "alert edit", rule="Bob desks", max_price="5")
    assert_field_error(reply, "rule")
    assert "no alert named 'Bob desks'" in (reply.content or "")
    [rule] = await h.services.rules.list(BOB)
    assert rule.max_price == Decimal("300.00")
    # Not even by the numeric id autocomplete could send.
    reply = await h.invoke(ALICE, "alert edit", rule=str(rule.id), max_price="5")
    assert_field_error(reply, "rule")
    assert (await h.services.rules.list(BOB))[0].max_price == Decimal("300.00")


async def test_edit_with_nothing_to_change_says_so(h: Harness) -> None:
    await make_rule(h, ALICE, "Desks")
    reply = await h.invoke(ALICE, "alert edit", rule="Desks")
    assert reply.ephemeral and "at least one option" in (reply.content or "")


async def test_edit_with_bad_input_names_the_field_and_keeps_the_rule(h: Harness) -> None:
    await make_rule(h, ALICE, "Desks", max_price="300")
    reply = await h.invoke(ALICE, "alert edit", rule="Desks", min_price="900")
    assert_field_error(reply, "min_price")
    [rule] = await h.services.rules.list(ALICE)
    assert rule.min_price is None and rule.max_price == Decimal("300.00")


async def test_edit_to_channel_alerts_needs_a_server_rule(h: Harness) -> None:
    await h.invoke(ALICE, "alert create", guild=False, name="Records", keywords="vinyl")
    reply = await h.invoke(ALICE, "alert edit", rule="Records", channels="channel")
    assert_field_error(reply, "channels")
    [rule] = await h.services.rules.list(ALICE)
    assert rule.channels == {Channel.dm}


# ---- pause / resume ------------------------------------------------------------------------


async def test_pause_stops_matching_and_resume_restarts_it(h: Harness) -> None:
    await h.invoke(ALICE, "alert create", name="Desks", keywords="desk")
    [rule] = await h.services.rules.list(ALICE)
    desk = Listing(id=1, title="Walnut desk", price=Decimal("10"))
    assert h.services.index.match(desk) == [rule.id]

    paused = await h.invoke(ALICE, "alert pause", rule="Desks")
    assert paused.ephemeral and "Paused" in (paused.content or "")
    assert not (await h.services.rules.list(ALICE))[0].active
    assert h.services.index.match(desk) == []

    await sell(h, BOB, "Oak desk")
    await h.deliver()
    assert h.alerts == []

    resumed = await h.invoke(ALICE, "alert resume", rule="Desks")
    assert "Resumed" in (resumed.content or "")
    assert h.services.index.match(desk) == [rule.id]
    await sell(h, BOB, "Pine desk")
    await h.deliver()
    assert [a.listing.title for a in h.alerts] == ["Pine desk"]
    assert [a.user_id for a in h.alerts] == [ALICE]


async def test_pause_someone_elses_rule_is_not_found(h: Harness) -> None:
    await make_rule(h, BOB, "Bob desks")
    reply = await h.invoke(ALICE, "alert pause", rule="Bob desks")
    assert_field_error(reply, "rule")
    assert (await h.services.rules.list(BOB))[0].active


# ---- delete ---------------------------------------------------------------------------------


async def test_delete_asks_first_cancel_keeps_delete_removes(h: Harness) -> None:
    await h.invoke(ALICE, "alert create", name="Desks", keywords="desk")
    dialog = await h.invoke(ALICE, "alert delete", rule="Desks")
    assert dialog.ephemeral
    assert "Delete the alert **Desks**?" in (dialog.content or "")
    assert [b["label"] for b in dialog.buttons] == ["Delete", "Cancel"]

    cancelled = (await h.click(ALICE, dialog, "Cancel")).reply
    assert "Kept" in (cancelled.content or "") and cancelled.buttons == []
    assert await h.rule_count(ALICE) == 1

    dialog = await h.invoke(ALICE, "alert delete", rule="Desks")
    intruder = await h.click(BOB, dialog, "Delete")
    assert "someone else" in (intruder.reply.content or "")
    assert await h.rule_count(ALICE) == 1

    done = (await h.click(ALICE, dialog, "Delete")).reply
    assert "Deleted **Desks**" in (done.content or "") and done.buttons == []
    assert await h.rule_count(ALICE) == 0
    assert len(h.services.index) == 0
    assert h.services.index.match(Listing(id=1, title="Oak desk", price=Decimal("5"))) == []

    # The index forgot it: a matching listing alerts nobody.
    await sell(h, BOB, "Oak desk")
    await h.deliver()
    assert h.alerts == []


async def test_delete_dialog_times_out_harmlessly(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # load_extension imports the cog afresh: patch the module the bot is running.
    monkeypatch.setattr(h.bot.extensions["cogs.alerts"], "DELETE_CONFIRM_TIMEOUT", 0.05)
    await make_rule(h, ALICE, "Desks")
    dialog = await h.invoke(ALICE, "alert delete", rule="Desks")
    for _ in range(100):
        await asyncio.sleep(0.01)
        if "No answer" in h.messages[dialog.message_id or 0]["content"]:
            break
    message = h.messages[dialog.message_id or 0]
    assert "No answer" in message["content"] and message["components"] == []
    late = await h.click(ALICE, dialog, "Delete")  # the view is gone: nothing answers
    assert late.replies == []
    assert await h.rule_count(ALICE) == 1


async def test_delete_of_another_users_rule_is_not_found(h: Harness) -> None:
    await make_rule(h, BOB, "Bob desks")
    reply = await h.invoke(ALICE, "alert delete", rule="Bob desks")
    assert_field_error(reply, "rule")
    assert reply.buttons == []
    assert await h.rule_count(BOB) == 1


# ---- test -----------------------------------------------------------------------------------


async def test_alert_test_explains_the_seven_checks(h: Harness) -> None:
    await sell(h, BOB, "Oak standing desk", price="250", condition="good", category="Furniture")
    await sell(h, BOB, "Oak desk, broken leg", price="90", category="Furniture")
    await sell(h, BOB, "Table lamp", price="20", category="Lighting")
    await h.invoke(
        ALICE, "alert create", name="Desks", keywords="desk", exclude="broken", max_price="300"
    )
    reply = await h.invoke(ALICE, "alert test", rule="Desks")
    assert reply.ephemeral
    embed = reply.embed
    assert "Sampled **3** recent listings; **1** match." in embed["description"]
    assert len(embed["fields"]) == 3
    best = embed["fields"][0]
    assert best["name"].startswith("✅") and "Oak standing desk" in best["name"]
    lines = best["value"].splitlines()
    assert len(lines) == 7
    assert all(line[0] in "✅❌" for line in lines)
    for name in (
        "price",
        "keywords",
        "excluded words",
        "category",
        "condition",
        "distance",
        "score",
    ):
        assert any(f"**{name}**" in line for line in lines), name
    broken = next(f for f in embed["fields"] if "broken" in f["name"])
    assert broken["name"].startswith("❌")
    assert "❌ **excluded words**" in broken["value"]


async def test_alert_test_with_no_listings(h: Harness) -> None:
    await make_rule(h, ALICE, "Desks")
    reply = await h.invoke(ALICE, "alert test", rule="Desks")
    assert "no listings yet" in reply.embed["description"]


# ---- autocomplete ---------------------------------------------------------------------------


async def test_rule_autocomplete_offers_only_your_own_names(h: Harness) -> None:
    await make_rule(h, ALICE, "Gaming desk")
    await make_rule(h, ALICE, "Garden tools", keywords="rake")
    await make_rule(h, ALICE, "Lamps", keywords="lamp")
    await make_rule(h, BOB, "Gaming chair", keywords="chair")
    assert await h.autocomplete(ALICE, "alert edit", focused="rule", value="ga") == [
        "Gaming desk",
        "Garden tools",
    ]
    assert sorted(await h.autocomplete(ALICE, "alert delete", focused="rule")) == [
        "Gaming desk",
        "Garden tools",
        "Lamps",
    ]
    assert await h.autocomplete(BOB, "alert show", focused="rule", value="ga") == ["Gaming chair"]


async def test_category_autocomplete_offers_known_and_default_categories(h: Harness) -> None:
    await sell(h, BOB, "Oak desk", category="Furniture - Office")
    offered = await h.autocomplete(ALICE, "alert create", focused="category", value="fur", name="x")
    assert offered[0] == "Furniture - Office"
    assert "Furniture" in offered
    assert "Electronics" not in offered


async def test_channels_autocomplete(h: Harness) -> None:
    offered = await h.autocomplete(ALICE, "alert create", focused="channels", name="x")
    assert offered == [
        "dm", "channel", "email", "dm,channel", "dm,email", "dm,channel,email", "webhook",
        "dm,webhook",
    ]  # fmt: skip
    in_dm = await h.autocomplete(ALICE, "alert create", focused="channels", guild=False, name="x")
    assert in_dm == ["dm", "email", "dm,email", "webhook", "dm,webhook"], "no server channel"


async def test_edited_keywords_take_effect_in_matching(h: Harness) -> None:
    await h.invoke(ALICE, "alert create", name="Desks", keywords="desk")
    await h.invoke(ALICE, "alert edit", rule="Desks", keywords='"office chair"')
    await sell(h, BOB, "Oak desk")
    await sell(h, BOB, "Ergonomic office chair")
    await h.deliver()
    assert [a.listing.title for a in h.alerts] == ["Ergonomic office chair"]
