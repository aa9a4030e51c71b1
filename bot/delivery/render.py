"""Turn listings and matches into Discord embeds and buttons.

All listing text is untrusted: markdown and mentions are escaped, every piece is cut to Discord's
limits, and messages are sent with ``allowed_mentions`` that can ping nobody but the alert's owner.
The buttons carry custom ids in a fixed format; ``cogs/alerts.py`` registers dynamic items that
answer them, so they keep working after a restart. Every builder takes the reader's ``locale``
(default English); the words go through ``bot.i18n``.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bot.domain.listing import Condition, Listing, format_money
from bot.domain.rule import Rule
from bot.i18n import N_, t

PAUSE_RULE_ID = "ds:pause:{rule_id}"
PAUSE_RULE_PATTERN = r"ds:pause:(?P<rule_id>[0-9]{1,19})"
NOT_INTERESTED_ID = "ds:nope:{listing_id}"
NOT_INTERESTED_PATTERN = r"ds:nope:(?P<listing_id>[0-9]{1,19})"

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
BRAND_COLOUR = discord.Colour(0x2ECC71)

NO_PINGS = discord.AllowedMentions.none()

# The words for each condition (the same as ``Condition.label``), translated where shown.
CONDITION_LABELS: dict[Condition, str] = {
    Condition.new: N_("New"),
    Condition.like_new: N_("Like new"),
    Condition.excellent: N_("Excellent"),
    Condition.good: N_("Good"),
    Condition.fair: N_("Fair"),
    Condition.poor: N_("Poor"),
}


def cut(text: str, limit: int) -> str:
    """Cut plain text (footers and other places that render no markdown) to ``limit``."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clean(text: str | None, limit: int) -> str:
    """Escape markdown and mentions in untrusted text and cut it to ``limit`` characters."""
    if not text:
        return ""
    flat = " ".join(text.split()) if limit <= FIELD_VALUE_LIMIT else text.strip()
    safe = discord.utils.escape_mentions(discord.utils.escape_markdown(flat))
    return safe if len(safe) <= limit else safe[: limit - 1].rstrip("\\") + "…"


def safe_url(url: str | None) -> str | None:
    """Only http(s) URLs of sane length reach an embed (Discord rejects the rest anyway).
    Brackets, parentheses and angle brackets are percent-encoded, so a URL can never close a
    ``[text](url)`` link early and smuggle in a second one."""
    if url and len(url) <= 500 and url.startswith(("https://", "http://")):
        return url.translate(_LINK_BREAKERS)
    return None


_LINK_BREAKERS = str.maketrans(
    {"(": "%28", ")": "%29", "<": "%3C", ">": "%3E", "[": "%5B", "]": "%5D", " ": "%20"}
)


def only_owner_pings(user_id: int) -> discord.AllowedMentions:
    """Allow the mention of the alert's owner and nothing else (never @everyone or roles)."""
    return discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(user_id)])


@dataclass(frozen=True, slots=True)
class AlertContext:
    """What the alert embed says beyond the listing itself."""

    rule: Rule
    distance_mi: float | None = None
    listing_url: str | None = None


def condition_label(condition: Condition, locale: str = "en") -> str:
    condition = Condition(condition)
    label = CONDITION_LABELS.get(condition, condition.label)
    return t(label, locale)


def listing_fields(embed: discord.Embed, listing: Listing, locale: str = "en") -> None:
    embed.add_field(name=t("Price", locale), value=format_money(listing.price, listing.currency))
    if listing.condition is not None:
        embed.add_field(
            name=t("Condition", locale), value=condition_label(listing.condition, locale)
        )
    if listing.category:
        embed.add_field(
            name=t("Category", locale), value=clean(listing.category, FIELD_VALUE_LIMIT)
        )
    if listing.seller_id:
        embed.add_field(name=t("Seller", locale), value=f"<@{listing.seller_id}>")
    elif listing.seller_name:
        embed.add_field(
            name=t("Seller", locale), value=clean(listing.seller_name, FIELD_VALUE_LIMIT)
        )
    score = deal_score_text(listing, locale)
    if score:
        embed.add_field(name=t("Deal score", locale), value=score, inline=False)


def deal_score_text(listing: Listing, locale: str = "en") -> str | None:
    """ "0.71 · 23% below the median of 41 similar listings", or why there is no score
    ("not scored: only 3 similar listings") — flagged, never guessed."""
    reason = clean(listing.deal_reason, 200) if listing.deal_reason else ""
    if listing.deal_score is None:
        return t("not scored: {reason}", locale, reason=reason) if reason else None
    score = f"{listing.deal_score:.2f}"
    return f"{score} · {reason}" if reason else score


def alert_embed(listing: Listing, ctx: AlertContext, locale: str = "en") -> discord.Embed:
    """The alert a buyer receives by DM or in the alert channel."""
    url = safe_url(ctx.listing_url or listing.url)
    embed = discord.Embed(
        title=clean(listing.title, TITLE_LIMIT) or t("Untitled listing", locale),
        url=url,
        description=clean(listing.description, 600),
        colour=BRAND_COLOUR,
        timestamp=listing.created_at,
    )
    listing_fields(embed, listing, locale)
    if listing.location_text:
        where = clean(listing.location_text, 200)
        if ctx.distance_mi is not None:
            where = t(
                "{place} ({distance} mi away)",
                locale,
                place=where,
                distance=f"{ctx.distance_mi:.0f}",
            )
        embed.add_field(name=t("Location", locale), value=where)
    if url:
        embed.add_field(
            name=t("Listing", locale),
            value=t("[Open the listing]({url})", locale, url=url),
            inline=False,
        )
    image = safe_url(listing.image_url)
    if image:
        embed.set_thumbnail(url=image)
    embed.set_footer(
        text=cut(
            t(
                "Matched your alert “{name}”. You get this because you created it; "
                "use the buttons or /alert pause to stop.",
                locale,
                name=ctx.rule.name,
            ),
            FOOTER_LIMIT,
        )
    )
    return embed


def listing_embed(listing: Listing, locale: str = "en") -> discord.Embed:
    """The marketplace post for a listing sold with /sell."""
    embed = discord.Embed(
        title=clean(listing.title, TITLE_LIMIT) or t("Untitled listing", locale),
        description=clean(listing.description, 2000),
        colour=BRAND_COLOUR,
        timestamp=listing.created_at,
    )
    listing_fields(embed, listing, locale)
    if listing.location_text:
        embed.add_field(name=t("Location", locale), value=clean(listing.location_text, 200))
    image = safe_url(listing.image_url)
    if image:
        embed.set_image(url=image)
    embed.set_footer(text=t("Listing #{id} · reply to the seller to buy", locale, id=listing.id))
    return embed


def alert_buttons(rule_id: int, listing_id: int, locale: str = "en") -> discord.ui.View:
    """Buttons for an alert. The view is stopped before sending: the dynamic items registered
    by the alerts cog (and "Watch price" by the watch cog) answer the clicks, so nothing per
    message is kept in memory."""
    from bot.delivery.render_watch import WATCH_PRICE_ID  # render_watch imports this module

    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            label=t("Pause this alert", locale),
            style=discord.ButtonStyle.secondary,
            custom_id=PAUSE_RULE_ID.format(rule_id=rule_id),
        )
    )
    view.add_item(
        discord.ui.Button(
            label=t("Not interested", locale),
            style=discord.ButtonStyle.secondary,
            custom_id=NOT_INTERESTED_ID.format(listing_id=listing_id),
        )
    )
    view.add_item(
        discord.ui.Button(
            label=t("Watch price", locale),
            style=discord.ButtonStyle.secondary,
            custom_id=WATCH_PRICE_ID.format(listing_id=listing_id),
        )
    )
    view.stop()
    return view
