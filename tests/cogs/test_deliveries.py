"""/admin deliveries and /alert history, routed through discord.py's CommandTree."""

from __future__ import annotations

from bot.delivery.outbox import alert_key, nonce_for
from bot.domain.rule import RuleInput
from db.repositories.outbox import NewAlert, OutboxRepository
from tests.cogs.harness import ADMIN_PERMISSIONS, GUILD_ID, Harness
from tests.cogs.test_alerts import ALICE, BOB, CAROL, make_rule, sell

ADMIN = 2001
OTHER_GUILD = 500_000_000_000_000_099
SECRETS = (
    "bob@example.com",
    "+14155550123",
    "https://discord.com/api/webhooks/123456789012345678/" + "s" * 68,
)


async def failed_row(
    h: Harness, user: int, listing: int, channel: str, reason: str, guild: int = GUILD_ID
) -> None:
    key = alert_key(user, listing, channel)
    async with h.services.sessions.begin() as session:
        outbox = OutboxRepository(session)
        await outbox.enqueue(
            [NewAlert(key, user, channel, nonce_for(key), guild_id=guild, listing_id=listing)]
        )
        (row,) = [r for r in await outbox.for_listing(listing) if r.dedupe_key == key]
        await outbox.mark_failed(row.id, 1, reason)


async def test_non_admins_are_refused(h: Harness) -> None:
    reply = await h.invoke(ALICE, "admin deliveries", permissions="0")
    assert reply.content == "You need the **Manage Server** permission to use this command."
    in_dm = await h.invoke(ADMIN, "admin deliveries", guild=False)
    assert in_dm.content and "only works in a server" in in_dm.content


async def test_admins_see_failures_by_channel_and_reason_without_contact_details(
    h: Harness,
) -> None:
    await failed_row(h, ALICE, 1, "dm", "DMs closed")
    await failed_row(h, BOB, 1, "dm", "DMs closed")
    await failed_row(h, BOB, 2, "email", f"email address refused (550) for {SECRETS[0]}")
    await failed_row(h, CAROL, 2, "sms", f"Twilio 21211 for {SECRETS[1]}")
    await failed_row(h, CAROL, 3, "webhook", f"rejected by {SECRETS[2]}")
    await failed_row(h, CAROL, 4, "dm", "from another server", guild=OTHER_GUILD)
    reply = await h.invoke(ADMIN, "admin deliveries", permissions=ADMIN_PERMISSIONS)
    assert reply.ephemeral
    counts = reply.field("Last 24 hours")
    assert "**DM** · DMs closed: 2" in counts
    assert "**email** · email address refused (550) for [email]: 1" in counts
    recent = reply.field("Most recent failures").splitlines()
    assert len(recent) == 5 and "<t:" in recent[0]
    assert "from another server" not in reply.text, "only this server's failures"
    for secret in SECRETS:
        assert secret not in reply.text
    assert "s" * 68 not in reply.text
    breakers = reply.field("Circuit breakers")
    assert "DM: ✅ closed" in breakers and "Discord webhook: ✅ closed" in breakers


async def test_an_open_circuit_is_shown(h: Harness) -> None:
    breaker = h.services.dispatcher.breakers["email"]
    for _ in range(h.services.dispatcher.settings.breaker_failures):
        breaker.record_failure()
    reply = await h.invoke(ADMIN, "admin deliveries", permissions=ADMIN_PERMISSIONS)
    assert "email: ⛔ open until <t:" in reply.field("Circuit breakers")
    assert reply.field("Last 24 hours") == "No failed alerts. 🎉"


async def test_history_shows_only_my_own_alerts(h: Harness) -> None:
    await make_rule(h, ALICE, "Desks")
    await make_rule(h, BOB, "Lamps", keywords="lamp")
    await sell(h, CAROL, "Oak desk")
    await sell(h, CAROL, "Brass lamp")
    await h.services.preferences.set_quiet_hours(ALICE, "00:00", "23:59")
    await sell(h, CAROL, "Pine desk")
    await h.deliver()

    reply = await h.invoke(ALICE, "alert history")
    assert reply.ephemeral
    lines = (reply.embed.get("description") or "").splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("**Pine desk**") and "⏳ held until <t:" in lines[0]
    assert "quiet hours until" in lines[0]
    assert lines[1].startswith("**Oak desk**") and "DM · ✅ sent" in lines[1]
    assert "lamp" not in reply.text.lower(), "Bob's alert is not Alice's"

    bob = await h.invoke(BOB, "alert history")
    assert "Brass lamp" in bob.text and "desk" not in bob.text.lower()
    nobody = await h.invoke(CAROL, "alert history")
    assert "No alerts yet" in nobody.text


async def test_history_shows_failures_with_their_reason(h: Harness) -> None:
    await h.services.rules.create(ALICE, GUILD_ID, RuleInput(name="Desks", keywords="desk"))
    await failed_row(h, ALICE, 77, "webhook", "webhook deleted")
    reply = await h.invoke(ALICE, "alert history")
    assert "**(listing removed)** · " in reply.text
    assert "Discord webhook · ❌ failed: webhook deleted" in reply.text
