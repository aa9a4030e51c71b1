"""Alerts and digests as the dispatcher would hand them to the email sender."""

from __future__ import annotations

from decimal import Decimal

from bot.delivery.senders.base import DigestEntry, OutgoingAlert, OutgoingDigest
from bot.domain.listing import Condition, Listing
from bot.domain.rule import Rule

USER = 4242
EVIL_TITLE = "<script>alert(1)</script> Secretlab chair"


def listing(listing_id: int = 7, title: str = EVIL_TITLE, **fields: object) -> Listing:
    values: dict[str, object] = {
        "price": Decimal("149.00"),
        "description": "Barely used.\nPick-up only & <b>cash</b>.",
        "category": "Furniture - Gaming",
        "condition": Condition.like_new,
        "location_text": "Austin, TX",
        "seller_name": "Jordan",
        "url": f"https://market.example/listings/{listing_id}",
        "deal_score": 0.82,
    }
    values.update(fields)
    return Listing(id=listing_id, title=title, **values)  # type: ignore[arg-type]


def alert(
    rule_name: str = "Gaming chairs",
    *,
    user_id: int = USER,
    nonce: str = "dsalert0001",
    **kw: object,
) -> OutgoingAlert:
    return OutgoingAlert(
        outbox_id=1,
        nonce=nonce,
        user_id=user_id,
        guild_id=None,
        rule=Rule(id=11, user_id=user_id, name=rule_name),
        listing=listing(**kw),  # type: ignore[arg-type]
        distance_mi=4.4,
    )


def digest(
    *, user_id: int = USER, held_by_cap: int = 3, period: str = "daily:2026-11-23"
) -> OutgoingDigest:
    entries = (
        DigestEntry(
            listing(1, "Herman Miller Aeron"), ("Office chairs", "Gaming chairs"), (12, 11)
        ),
        DigestEntry(listing(2, EVIL_TITLE), ("Gaming chairs",), (11,)),
        DigestEntry(listing(3, "Steelcase Leap", url=None), ("Office chairs",), (12,)),
    )
    return OutgoingDigest(
        outbox_id=2,
        nonce="dsdigest0001",
        user_id=user_id,
        period=period,
        entries=entries,
        held_by_cap=held_by_cap,
    )
