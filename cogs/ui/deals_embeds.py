"""``/deals`` embeds: recommendations with their one-line reasons, and ``/deals why``.

The reason parts come from :mod:`bot.domain.recommend` as structured values and are worded here
through ``bot.i18n``. Titles, alert names and deal reasons are untrusted (``render.clean``); a
listing's link is shown only when it is a plain http(s) URL (``render.safe_url``).
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.delivery.render import (
    BRAND_COLOUR,
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    clean,
    cut,
    deal_score_text,
    safe_url,
)
from bot.domain.listing import Listing, format_money
from bot.domain.recommend import (
    Contribution,
    DealFacts,
    Recommendation,
    RuleFit,
    SignalKind,
    Unused,
)
from bot.i18n import N_, t, tn
from bot.services.recommend import (
    MAX_CANDIDATES,
    WINDOW,
    Exclusion,
    Explanation,
    ForYou,
    RuleVerdict,
)

PER_PAGE = 5
ITEM_NAME_LIMIT = 120
ITEM_VALUE_LIMIT = 900
"""Five items of at most 120 + 900 characters stay well under Discord's 6,000 per message."""
NAME_LIMIT = 80
"""Alert names and other listings' titles inside a reason."""
RULES_SHOWN = 5
SIGNALS_SHOWN = 12

EXCLUSIONS: dict[Exclusion, str] = {
    Exclusion.OWN: N_("it is your own listing"),
    Exclusion.ALERTED: N_("you were already alerted about it"),
    Exclusion.NOT_INTERESTED: N_("you marked it Not interested"),
    Exclusion.WATCHING: N_("you are already watching it"),
    Exclusion.TOO_OLD: N_("it was listed more than {days} days ago"),
    Exclusion.CROWDED: N_("it is not among the {n} newest listings"),
}


STATUSES = {"sold": N_("sold"), "removed": N_("removed")}


def _name(text: str) -> str:
    return clean(text, NAME_LIMIT)


def _percent(fraction: float) -> int:
    """A fraction as a whole percentage, at least 1 (a near miss is never "0% over")."""
    return max(1, round(fraction * 100))


def _near(fit: RuleFit, name: str, locale: str) -> str:
    if fit.price_over is not None and fit.miles_over is not None:
        return t(
            "almost matches your alert {name} ({percent}% over your max price, "
            "{miles} mi past your radius)",
            locale,
            name=name,
            percent=_percent(fit.price_over),
            miles=f"{fit.miles_over:.0f}",
        )
    if fit.price_over is not None:
        return t(
            "almost matches your alert {name} ({percent}% over your max price)",
            locale,
            name=name,
            percent=_percent(fit.price_over),
        )
    if fit.miles_over is not None:
        return t(
            "almost matches your alert {name} ({miles} mi past your radius)",
            locale,
            name=name,
            miles=f"{fit.miles_over:.0f}",
        )
    return t("almost matches your alert {name}", locale, name=name)


def typical_text(deal: DealFacts, locale: str) -> str:
    """ "18% below typical" / "12% above typical" / "about typical"."""
    percent = round(deal.percent_below)
    if percent >= 1:
        return t("{percent}% below typical", locale, percent=percent)
    if percent <= -1:
        return t("{percent}% above typical", locale, percent=-percent)
    return t("about typical", locale)


def reason_part(part: Contribution, locale: str) -> str:
    """One part of the reason line, in the reader's language."""
    name = _name(part.subject)
    if part.kind is SignalKind.ALERT_MATCH:
        return t("matches your alert {name}", locale, name=name)
    if part.kind is SignalKind.ALERT_NEAR and part.fit is not None:
        return _near(part.fit, name, locale)
    if part.kind is SignalKind.ALERT_SIMILAR:
        return t("similar to your alert {name}", locale, name=name)
    if part.kind is SignalKind.WATCH_SIMILAR:
        return t("like the {title} you're watching", locale, title=name)
    if part.kind is SignalKind.NOT_INTERESTED_SIMILAR:
        return t("like {title}, which you marked Not interested", locale, title=name)
    if part.deal is not None:
        return typical_text(part.deal, locale)
    return ""


def reason_line(recommendation: Recommendation, locale: str = "en") -> str:
    """ "similar to your alert Budget Gaming PC; 18% below typical"."""
    parts = [reason_part(p, locale) for p in recommendation.reason]
    return "; ".join(p for p in parts if p)


def _title_link(listing: Listing, limit: int) -> str:
    """The title as a masked link when the listing has a safe URL (brackets cannot close the
    link text early), else in bold."""
    url = safe_url(listing.url)
    if url is None:
        return f"**{clean(listing.title, limit)}**"
    text = clean(listing.title.replace("[", "(").replace("]", ")"), limit)
    return f"**[{text}]({url})**"


def _item_value(listing: Listing, reason: str, locale: str) -> str:
    price = format_money(listing.price, listing.currency)
    lines = [f"{_title_link(listing, 100)} · {price}"]
    deal = deal_score_text(listing, locale)
    if deal:
        lines.append(t("Deal score: {score}", locale, score=deal))
    if reason:
        lines.append(t("Why: {reason}", locale, reason=reason))
    lines.append(t("Details: `/deals why listing:{id}`", locale, id=listing.id))
    return cut("\n".join(lines), ITEM_VALUE_LIMIT)


def for_you_pages(result: ForYou, locale: str = "en") -> list[discord.Embed]:
    """``/deals for-me``, :data:`PER_PAGE` listings a page (callers handle an empty result)."""
    if result.personal:
        intro = t(
            "The best recent listings for you, from your alerts, the listings you watch and "
            "what you marked Not interested.",
            locale,
        )
    else:
        intro = t(
            "You have no alerts and watch no listings yet, so these are simply the best deals "
            "right now. Create an alert with `/alert create` to make them yours.",
            locale,
        )
    pages = []
    for start in range(0, len(result.items), PER_PAGE):
        embed = discord.Embed(
            title=t("🎯 Deals for you", locale), description=intro, colour=BRAND_COLOUR
        )
        for rank, item in enumerate(result.items[start : start + PER_PAGE], start + 1):
            listing = item.listing
            embed.add_field(
                name=cut(f"{rank}. #{listing.id} {clean(listing.title, 100)}", ITEM_NAME_LIMIT),
                value=_item_value(listing, reason_line(item, locale), locale),
                inline=False,
            )
        pages.append(embed)
    return pages


def nothing_text(result: ForYou, locale: str = "en") -> str:
    if result.personal:
        return t(
            "Nothing to recommend right now: no recent listing you have not been alerted about "
            "fits your alerts or the listings you watch.",
            locale,
        )
    return t(
        "Nothing to recommend yet. Create an alert with `/alert create` and I will look for "
        "listings like it.",
        locale,
    )


# --------------------------------------------------------------------------------------------
# /deals why
# --------------------------------------------------------------------------------------------


def _signed(points: float) -> str:
    return f"{points:+.2f}".replace("-", "−")


def signal_text(part: Contribution, locale: str = "en") -> str:
    """One signal in plain words, with the numbers that make its points."""
    name = _name(part.subject)
    sim = f"{part.similarity or 0.0:.2f}"
    if part.kind is SignalKind.ALERT_SIMILAR:
        return t("words like your alert {name} (similarity {sim})", locale, name=name, sim=sim)
    if part.kind is SignalKind.WATCH_SIMILAR:
        return t("like the {title} you're watching (similarity {sim})", locale, title=name, sim=sim)
    if part.kind is SignalKind.NOT_INTERESTED_SIMILAR:
        return t(
            "like {title}, which you marked Not interested (similarity {sim})",
            locale,
            title=name,
            sim=sim,
        )
    if part.kind is SignalKind.DEAL and part.deal is not None:
        deal = part.deal
        if deal.comparables is None:
            basis = t("confidence {confidence}", locale, confidence=f"{deal.confidence:.2f}")
        else:
            basis = tn(
                "confidence {confidence}, from {n} similar listing",
                "confidence {confidence}, from {n} similar listings",
                deal.comparables,
                locale,
                confidence=f"{deal.confidence:.2f}",
            )
        return t(
            "deal score {score} ({typical}; {basis})",
            locale,
            score=f"{deal.score:.2f}",
            typical=typical_text(deal, locale),
            basis=basis,
        )
    return reason_part(part, locale)


UNUSED: dict[Unused, str] = {
    Unused.WEAK: N_("(too weak to count)"),
    Unused.CHECKS_FAIL: N_("(not counted: the alert's other checks fail, see below)"),
}


def signal_line(part: Contribution, locale: str) -> str:
    line = f"`{_signed(part.points)}` {signal_text(part, locale)}"
    if part.unused is None:
        return line
    note = UNUSED.get(part.unused)
    if note is None and part.kind in (SignalKind.WATCH_SIMILAR, SignalKind.NOT_INTERESTED_SIMILAR):
        note = N_("(not counted: only the most similar one counts)")
    elif note is None:
        note = N_("(not counted: only your best alert counts)")
    return f"{line} {t(note, locale)}"


def _verdict_line(verdict: RuleVerdict, locale: str) -> str:
    name = _name(verdict.rule.name)
    if not verdict.rule.active:
        name = t("{name} (paused)", locale, name=name)
    fit = verdict.fit
    if fit is not None and fit.strict:
        return "✅ " + t("matches your alert {name}", locale, name=name)
    if fit is not None:
        return "🟡 " + _near(fit, name, locale)
    failed = "; ".join(f"{c.name}: {clean(c.detail, 100)}" for c in verdict.failed[:3])
    return "❌ " + t("{name}: {failed}", locale, name=name, failed=failed or "—")


def _verdict(why: Explanation, locale: str) -> str:
    if why.exclusions:
        reasons = []
        for e in why.exclusions:
            if e is Exclusion.NOT_ACTIVE:
                status = why.listing.status
                label = t(STATUSES[status], locale) if status in STATUSES else clean(status, 20)
                reasons.append(t("it is no longer for sale ({status})", locale, status=label))
                continue
            reasons.append(t(EXCLUSIONS[e], locale, days=WINDOW.days, n=f"{MAX_CANDIDATES:,}"))
        return t("🚫 Never recommended to you: {reasons}.", locale, reasons="; ".join(reasons))
    if why.position is not None and why.position <= why.shown:
        return tn(
            "✅ #{position} of your {n} recommendation: `/deals for-me` shows it.",
            "✅ #{position} of your {n} recommendations: `/deals for-me` shows it.",
            why.ranked,
            locale,
            position=why.position,
        )
    if why.position is not None:
        return t(
            "➖ #{position} of your {n} recommendations: below the {shown} that "
            "`/deals for-me` shows.",
            locale,
            position=why.position,
            n=why.ranked,
            shown=why.shown,
        )
    if why.recommendation.total <= 0 and why.recommendation.fit > 0:
        return t("➖ Not recommended: what counts against it outweighs what fits.", locale)
    if why.personal:
        return t(
            "➖ Not recommended: nothing ties it to your alerts or the listings you watch.",
            locale,
        )
    return t(
        "➖ Not recommended: you have no alerts or watched listings yet, and it is not a "
        "better deal than usual.",
        locale,
    )


WEIGHTS_FOOTER = N_(
    "Points: alert match +1, near miss +0.6 to +0.3, alert words +0.8×s, watched +0.9×s, "
    "Not interested −1×s, deal (score − 0.5) × confidence. Only your best alert counts."
)


def why_embed(why: Explanation, locale: str = "en") -> discord.Embed:
    """``/deals why``: where the listing stands for the user, and every signal."""
    listing = why.listing
    embed = discord.Embed(
        title=cut(
            t("Why #{id} {title}", locale, id=listing.id, title=clean(listing.title, 200)),
            TITLE_LIMIT,
        ),
        url=safe_url(listing.url),
        description=_verdict(why, locale),
        colour=BRAND_COLOUR,
    )
    rec = why.recommendation
    embed.add_field(name=t("Price", locale), value=format_money(listing.price, listing.currency))
    embed.add_field(name=t("Score", locale), value=f"`{_signed(rec.total)}`")
    reason = reason_line(rec, locale)
    if reason:
        embed.add_field(
            name=t("In one line", locale), value=cut(reason, FIELD_VALUE_LIMIT), inline=False
        )
    embed.add_field(
        name=t("Signals", locale), value=_signals_value(rec.breakdown, locale), inline=False
    )
    if why.rules:
        embed.add_field(
            name=t("Your alerts", locale), value=_rules_value(why.rules, locale), inline=False
        )
    deal = deal_score_text(listing, locale)
    if deal:
        embed.add_field(name=t("Deal score", locale), value=deal, inline=False)
    embed.set_footer(text=cut(t(WEIGHTS_FOOTER, locale), FOOTER_LIMIT))
    return embed


def _signals_value(parts: Sequence[Contribution], locale: str) -> str:
    if not parts:
        return t("None: nothing about it is like your alerts or the listings you watch.", locale)
    lines = [signal_line(p, locale) for p in parts[:SIGNALS_SHOWN]]
    return _lines(lines, len(parts), locale)


def _rules_value(verdicts: Sequence[RuleVerdict], locale: str) -> str:
    lines = [_verdict_line(v, locale) for v in verdicts[:RULES_SHOWN]]
    return _lines(lines, len(verdicts), locale)


def _lines(lines: list[str], total: int, locale: str) -> str:
    """Lines that fit a field value, with "…and N more" for what does not."""
    kept: list[str] = []
    size = 0
    for line in lines:
        line = cut(line, 300)
        if size + len(line) + 1 > FIELD_VALUE_LIMIT - 40:
            break
        kept.append(line)
        size += len(line) + 1
    hidden = total - len(kept)
    if hidden > 0:
        kept.append(tn("…and {n} more", "…and {n} more", hidden, locale))
    return "\n".join(kept)
