"""The email messages themselves: structure, headers, escaping and the digest layout."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from bot.delivery.email_render import (
    render_alert_email,
    render_digest_email,
    render_verification_email,
    subject,
)
from tests.email.factories import EVIL_TITLE, alert, digest

TO = "buyer@example.com"
FROM = "Deal Scout <alerts@dealscout.example>"
UNSUB = "https://deals.example/unsubscribe?token=abc.123.xyz"


def parts(msg: EmailMessage) -> tuple[str, str]:
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_alert_is_text_then_html_with_list_headers() -> None:
    msg = render_alert_email(alert(), TO, UNSUB, FROM)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Subject"] == "Deal Alert: Gaming chairs"
    assert msg["From"] == FROM and msg["To"] == TO and msg["Date"]
    assert msg["List-Unsubscribe"] == f"<{UNSUB}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_alert_says_what_the_discord_embed_says() -> None:
    text, html = parts(render_alert_email(alert(), TO, UNSUB, FROM))
    for body in (text, html):
        for fact in (
            "$149.00",
            "Like new",
            "Furniture - Gaming",
            "Austin, TX (4 mi away)",
            "Jordan",
            "0.82",
            "https://market.example/listings/7",
            "Gaming chairs",
        ):
            assert fact in body, fact
        assert "matched your alert" in body
        assert "You get this email because" in body
        assert UNSUB.replace("&", "&amp;") in body


def test_untrusted_text_is_escaped_in_html_and_plain_in_text() -> None:
    text, html = parts(render_alert_email(alert(), TO, UNSUB, FROM))
    assert EVIL_TITLE in text and "<b>cash</b>" in text
    assert "<script>" not in html and "<b>cash" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;cash&lt;/b&gt;" in html


def test_only_http_links_reach_the_html() -> None:
    msg = render_alert_email(alert(url="javascript:alert(1)"), TO, UNSUB, FROM)
    text, html = parts(msg)
    assert "javascript:" not in html and "javascript:" not in text
    assert "Listing #7" in text


@pytest.mark.parametrize(
    "name", ["Chairs\r\nBcc: victim@example.com", "Chairs\nX-Evil: 1", "Chairs\u202e\u0000"]
)
def test_subject_cannot_inject_headers(name: str) -> None:
    msg = render_alert_email(alert(name), TO, UNSUB, FROM)
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert msg["Subject"].startswith("Deal Alert: Chairs")
    assert "\r\nBcc:" not in msg.as_string()


def test_subject_is_cut_to_200_characters() -> None:
    assert len(subject("x" * 500)) == 200
    assert len(render_alert_email(alert("y" * 80), TO, UNSUB, FROM)["Subject"]) <= 200


def test_message_id_is_stable_per_outbox_nonce() -> None:
    first = render_alert_email(alert(nonce="dsabc123"), TO, UNSUB, FROM)["Message-ID"]
    again = render_alert_email(alert(nonce="dsabc123"), TO, UNSUB, FROM)["Message-ID"]
    other = render_alert_email(alert(nonce="dsabc124"), TO, UNSUB, FROM)["Message-ID"]
    assert first == again == "<alert.dsabc123@dealscout.example>"
    assert other != first


def test_digest_groups_by_first_rule_best_first_each_listing_once() -> None:
    msg = render_digest_email(digest(), TO, UNSUB, FROM, daily_limit=10)
    assert msg["Subject"] == "Your Deal Scout daily digest (3 deals)"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = parts(msg)
    office, gaming = text.index("“Office chairs” (2)"), text.index("“Gaming chairs” (1)")
    assert office < text.index("Herman Miller Aeron") < text.index("Steelcase Leap") < gaming
    assert gaming < text.index(EVIL_TITLE)
    assert text.count("Herman Miller Aeron") == 1
    assert "Also matched: Gaming chairs" in text
    assert "3 alerts over your daily limit of 10 are in this digest" in text
    assert "3 alerts over your daily limit of 10 are in this digest" in html
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "https://market.example/listings/1" in html
    assert "Listing #3" in text  # no URL: said where it is instead


def test_weekly_digest_without_held_alerts() -> None:
    msg = render_digest_email(digest(period="weekly:2026-11-23", held_by_cap=0), TO, UNSUB, FROM)
    assert msg["Subject"] == "Your Deal Scout weekly digest (3 deals)"
    text, _ = parts(msg)
    assert "daily limit" not in text


def test_verification_email_has_the_code_and_no_list_headers() -> None:
    msg = render_verification_email(TO, "012345", FROM)
    text, html = parts(msg)
    assert "012345" in text and "012345" in html and "15 minutes" in text
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
    assert msg["Message-ID"].endswith("@dealscout.example>")
