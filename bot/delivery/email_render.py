"""Turn alerts, digests and verification codes into ready-to-send email messages.

Each message is ``multipart/alternative``: plain text first, then HTML (clients show the last part
they understand). Listing text is untrusted: the HTML templates autoescape it, the plain-text ones
do not (so ``<`` stays ``<``), and anything that reaches a header is flattened to one line so it
cannot inject headers. Alert and digest mails carry RFC 8058 one-click unsubscribe headers, and a
Message-ID derived from the outbox nonce, so a resend after a crash is recognisably the same mail.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.delivery.render import safe_url
from bot.delivery.senders.base import DigestEntry, OutgoingAlert, OutgoingDigest
from bot.domain.listing import Listing, format_money
from bot.security import CODE_TTL
from db.models import utcnow

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "email"
SUBJECT_LIMIT = 200
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 600
FIELD_LIMIT = 200
FALLBACK_DOMAIN = "deal-scout.invalid"

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


@cache
def environment() -> Environment:
    """The template environment, built on first use. Only ``*.html.j2`` is autoescaped:
    escaping the text part would show ``&lt;`` to the reader."""
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def one_line(text: str | None, limit: int) -> str:
    """Untrusted text as a single line of at most ``limit`` characters (no CR/LF, no controls)."""
    if not text:
        return ""
    # Controls (CR, LF, tab…) become spaces; bidi overrides, which can make a subject read
    # differently from what it says, are dropped.
    spaced = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    flat = " ".join(_BIDI.sub("", spaced).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def paragraph(text: str | None, limit: int) -> str:
    """Untrusted multi-line text with control characters removed and cut to ``limit``."""
    if not text:
        return ""
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    cleaned = _BIDI.sub("", _CONTROL.sub("", unified)).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"


def subject(text: str) -> str:
    """A header-safe subject: one line, at most 200 characters."""
    return one_line(text, SUBJECT_LIMIT)


@dataclass(frozen=True, slots=True)
class ListingView:
    """A listing as the templates show it: cleaned, cut and formatted, with the same facts as
    the Discord embed (``bot.delivery.render.alert_embed``)."""

    id: int
    title: str
    url: str | None
    image_url: str | None
    facts: tuple[tuple[str, str], ...]
    description: str
    also_matched: tuple[str, ...] = ()


def listing_view(
    listing: Listing, distance_mi: float | None = None, also_matched: tuple[str, ...] = ()
) -> ListingView:
    facts: list[tuple[str, str]] = [("Price", format_money(listing.price, listing.currency))]
    if listing.condition is not None:
        facts.append(("Condition", listing.condition.label))
    if listing.category:
        facts.append(("Category", one_line(listing.category, FIELD_LIMIT)))
    if listing.location_text:
        where = one_line(listing.location_text, FIELD_LIMIT)
        if distance_mi is not None:
            where += f" ({distance_mi:.0f} mi away)"
        facts.append(("Location", where))
    if listing.seller_name:
        facts.append(("Seller", one_line(listing.seller_name, FIELD_LIMIT)))
    elif listing.seller_id:
        facts.append(("Seller", "a member of the Discord server"))
    if listing.deal_score is not None:
        reason = f" · {listing.deal_reason}" if listing.deal_reason else ""
        facts.append(("Deal score", f"{listing.deal_score:.2f}{reason}"))
    return ListingView(
        id=listing.id,
        title=one_line(listing.title, TITLE_LIMIT) or "Untitled listing",
        url=safe_url(listing.url),
        image_url=safe_url(listing.image_url),
        facts=tuple(facts),
        description=paragraph(listing.description, DESCRIPTION_LIMIT),
        also_matched=tuple(one_line(n, FIELD_LIMIT) for n in also_matched),
    )


def sender_domain(sender: str) -> str:
    """The domain of the From address, for Message-IDs (RFC 5322 wants a domain we own)."""
    domain = parseaddr(sender)[1].rpartition("@")[2]
    return domain if re.fullmatch(r"[A-Za-z0-9.-]{1,253}", domain) else FALLBACK_DOMAIN


def stable_message_id(kind: str, nonce: str, sender: str) -> str:
    """``<kind.nonce@domain>``: the same outbox row always yields the same Message-ID."""
    safe_nonce = re.sub(r"[^A-Za-z0-9_-]", "", nonce) or "x"
    return f"<{kind}.{safe_nonce}@{sender_domain(sender)}>"


def _message(
    *,
    to: str,
    sender: str,
    subject_text: str,
    template: str,
    context: dict[str, object],
    message_id: str,
    unsubscribe_url: str | None,
) -> EmailMessage:
    env = environment()
    text = env.get_template(f"{template}.txt.j2").render(context)
    html = env.get_template(f"{template}.html.j2").render(context)
    msg = EmailMessage()
    msg["Subject"] = subject(subject_text)
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id
    if unsubscribe_url is not None:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def render_alert_email(
    alert: OutgoingAlert, to: str, unsubscribe_url: str, sender: str
) -> EmailMessage:
    """The email for one deal alert: the embed's facts, why it came, and how to stop it."""
    rule_name = one_line(alert.rule.name, FIELD_LIMIT)
    reason = (
        f"You get this email because your Deal Scout alert “{rule_name}” sends deals to this "
        "address, which you verified on Discord."
    )
    if alert.notice:
        reason += f" {alert.notice}"
    elif alert.is_fallback:
        reason += " It came by email because Deal Scout could not reach you on Discord."
    context: dict[str, object] = {
        "heading": f"New deal for your alert “{rule_name}”",
        "item": listing_view(alert.listing, alert.distance_mi),
        "rule_name": rule_name,
        "reason": reason,
        "unsubscribe_url": unsubscribe_url,
    }
    return _message(
        to=to,
        sender=sender,
        subject_text=f"Deal Alert: {rule_name}",
        template="alert",
        context=context,
        message_id=stable_message_id("alert", alert.nonce, sender),
        unsubscribe_url=unsubscribe_url,
    )


def group_by_rule(entries: tuple[DigestEntry, ...]) -> list[tuple[str, list[ListingView]]]:
    """Entries grouped under their first rule's name, keeping the given (best-first) order both
    of the groups (by their best deal) and within each group. Each listing appears once."""
    groups: dict[str, list[ListingView]] = {}
    for entry in entries:
        names = entry.rule_names or ("your alerts",)
        first = one_line(names[0], FIELD_LIMIT)
        groups.setdefault(first, []).append(listing_view(entry.listing, also_matched=names[1:]))
    return list(groups.items())


def held_by_cap_line(held: int, daily_limit: int | None) -> str | None:
    """The sentence that explains alerts moved into the digest by the daily limit."""
    if held <= 0:
        return None
    alerts = "alert" if held == 1 else "alerts"
    verb = "is" if held == 1 else "are"
    limit = f"your daily limit of {daily_limit}" if daily_limit is not None else "your daily limit"
    return f"{held} {alerts} over {limit} {verb} in this digest."


def render_digest_email(
    digest: OutgoingDigest,
    to: str,
    unsubscribe_url: str,
    sender: str,
    *,
    daily_limit: int | None = None,
) -> EmailMessage:
    """A daily or weekly digest: listings grouped by alert, best deals first."""
    count = len(digest.entries)
    period_word = "weekly" if digest.frequency == "weekly" else "daily"
    deals = "deal" if count == 1 else "deals"
    context: dict[str, object] = {
        "heading": f"Your Deal Scout {period_word} digest",
        "groups": group_by_rule(digest.entries),
        "count": count,
        "period_word": period_word,
        "held_line": held_by_cap_line(digest.held_by_cap, daily_limit),
        "reason": (
            f"You get this email because you chose {period_word} digests for your Deal Scout "
            "alerts and verified this address on Discord."
        ),
        "unsubscribe_url": unsubscribe_url,
    }
    return _message(
        to=to,
        sender=sender,
        subject_text=f"Your Deal Scout {period_word} digest ({count} {deals})",
        template="digest",
        context=context,
        message_id=stable_message_id("digest", digest.nonce, sender),
        unsubscribe_url=unsubscribe_url,
    )


def render_verification_email(to: str, code: str, sender: str) -> EmailMessage:
    """The code that proves the user owns ``to``. No unsubscribe headers: it is not a list
    mail, and it goes out only when someone asks for it."""
    context: dict[str, object] = {
        "heading": "Your Deal Scout verification code",
        "code": code,
        "valid_minutes": int(CODE_TTL.total_seconds() // 60),
    }
    return _message(
        to=to,
        sender=sender,
        subject_text="Your Deal Scout verification code",
        template="verification",
        context=context,
        message_id=make_msgid("verify", domain=sender_domain(sender)),
        unsubscribe_url=None,
    )
