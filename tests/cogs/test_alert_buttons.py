"""The persistent buttons on every alert message ("Pause this alert", "Not interested"; "Watch
price" is tested in test_watch.py)."""

from __future__ import annotations

from tests.cogs.harness import GUILD_ID, Harness, Post
from tests.cogs.test_alerts import ALICE, BOB, CAROL, make_rule, sell


async def alert_dm(h: Harness) -> Post:
    """Alice has an alert for desks; Bob sells one; Alice gets the DM."""
    await make_rule(h, ALICE, "Desks")
    await sell(h, BOB, "Oak desk")
    await h.deliver()
    [post] = h.dms_to(ALICE)
    labels = [b["label"] for row in post.components for b in row["components"]]
    assert labels == ["Pause this alert", "Not interested", "Watch price"]
    return post


async def test_pause_button_pauses_the_owners_rule(h: Harness) -> None:
    post = await alert_dm(h)
    reply = (await h.click_post(ALICE, post, "Pause this alert")).reply
    assert reply.ephemeral and "Paused **Desks**" in (reply.content or "")
    [rule] = await h.services.rules.list(ALICE)
    assert not rule.active
    # Pressing it again is harmless.
    again = (await h.click_post(ALICE, post, "Pause this alert")).reply
    assert "Paused" in (again.content or "")


async def test_pause_button_by_someone_else_finds_nothing(h: Harness) -> None:
    post = await alert_dm(h)
    reply = (await h.click_post(CAROL, post, "Pause this alert", guild=True)).reply
    assert reply.ephemeral and reply.content is not None
    assert reply.content.startswith("❌") and "no longer exists" in reply.content
    [rule] = await h.services.rules.list(ALICE)
    assert rule.active


async def test_pause_button_for_a_deleted_rule(h: Harness) -> None:
    post = await alert_dm(h)
    [rule] = await h.services.rules.list(ALICE)
    await h.services.rules.delete(ALICE, rule.id)
    reply = (await h.click_post(ALICE, post, "Pause this alert")).reply
    assert "no longer exists" in (reply.content or "")


async def test_not_interested_records_feedback(h: Harness) -> None:
    post = await alert_dm(h)
    first = (await h.click_post(ALICE, post, "Not interested")).reply
    assert first.ephemeral and "won't hear about this listing again" in (first.content or "")
    second = (await h.click_post(ALICE, post, "Not interested")).reply
    assert "already" in (second.content or "")


async def test_not_interested_suppresses_an_alert_still_waiting(h: Harness) -> None:
    """Carol's DM alert is still queued when she says "not interested" on another copy of it
    (say, the channel alert): the queued one is suppressed, and other listings still alert."""
    rule_id = await make_rule(h, CAROL, "Desks")
    await sell(h, BOB, "Oak desk")
    [listing] = await h.listings()
    message = h.alert_message(rule_id, listing.id)
    reply = (await h.click_message(CAROL, message, f"ds:nope:{listing.id}")).reply
    assert "won't hear about this listing again" in (reply.content or "")
    await h.deliver()
    assert h.alerts == []
    assert (await h.services.admin.stats(GUILD_ID)).alerts.suppressed == 1

    await sell(h, BOB, "Pine desk")
    await h.deliver()
    assert [a.listing.title for a in h.alerts] == ["Pine desk"]


async def test_not_interested_on_a_listing_that_is_gone(h: Harness) -> None:
    rule_id = await make_rule(h, CAROL, "Desks")
    reply = (await h.click_message(CAROL, h.alert_message(rule_id, 999), "ds:nope:999")).reply
    assert reply.ephemeral and "no longer exists" in (reply.content or "")


async def test_buttons_stop_answering_when_the_cog_is_unloaded(h: Harness) -> None:
    post = await alert_dm(h)
    await h.bot.unload_extension("cogs.alerts")
    exchange = await h.click_post(ALICE, post, "Pause this alert")
    assert exchange.replies == []
    assert (await h.services.rules.list(ALICE))[0].active


async def test_a_forged_id_beyond_64_bits_is_not_found(h: Harness) -> None:
    """The custom-id pattern allows 19 digits; SQLite would overflow on the largest ones."""
    huge = "9" * 19
    message = h.alert_message(1, 1)
    for custom_id in (f"ds:pause:{huge}", f"ds:nope:{huge}"):
        message["components"][0]["components"][0]["custom_id"] = custom_id
        reply = (await h.click_message(ALICE, message, custom_id)).reply
        assert reply.ephemeral and "no longer exists" in (reply.content or "")
