"""Text folding: the one place rules and listings must agree on what a "word" is."""

from __future__ import annotations

import pytest

from bot.domain.text import (
    category_prefixes,
    normalise_category,
    phrase_key,
    singular,
    split_terms,
    strip_accents,
    tokens,
)


@pytest.mark.parametrize(
    ("word", "folded"),
    [
        ("chairs", "chair"),
        ("boxes", "box"),
        ("dishes", "dish"),
        ("batteries", "battery"),
        ("classes", "class"),
        ("3080s", "3080"),
        ("ties", "tie"),
        # not plurals: folding them would surprise users
        ("glass", "glass"),
        ("lens", "lens"),
        ("series", "series"),
        ("news", "news"),
        ("status", "status"),
        ("analysis", "analysis"),
        ("address", "address"),
        ("bus", "bus"),
        ("ps5", "ps5"),
        ("2024", "2024"),
        ("chair", "chair"),
    ],
)
def test_singular(word: str, folded: str) -> None:
    assert singular(word) == folded


def test_tokens_casefold_accents_punctuation_and_plurals() -> None:
    assert tokens("Café CRÈME, brûlée—Chairs!") == ["cafe", "creme", "brulee", "chair"]


def test_tokens_split_on_underscore_and_hyphen() -> None:
    assert tokens("car_seat car-seat") == ["car", "seat", "car", "seat"]


def test_tokens_of_empty_and_symbol_only_text() -> None:
    assert tokens("") == []
    assert tokens(" -- !! ") == []


def test_tokens_keep_whole_words() -> None:
    assert "car" not in tokens("Persian carpet")


def test_strip_accents() -> None:
    assert strip_accents("Ångström café naïve") == "Angstrom cafe naive"


def test_phrase_key_normalises_spacing_case_and_plural() -> None:
    assert phrase_key("  Office   CHAIRS ") == "office chair"
    assert phrase_key("Café") == phrase_key("cafe") == "cafe"
    assert phrase_key("!!") == ""


@pytest.mark.parametrize(
    ("raw", "terms"),
    [
        ('gaming, "office chair", desk', ["gaming", "office chair", "desk"]),
        ('"a, b", c', ["a, b", "c"]),
        ("  rtx 3080 ,  ti ", ["rtx 3080", "ti"]),
        (" , ,", []),
        ("", []),
    ],
)
def test_split_terms(raw: str, terms: list[str]) -> None:
    assert split_terms(raw) == terms


@pytest.mark.parametrize(
    ("category", "prefixes"),
    [
        ("Furniture - Gaming", ["furniture", "furniture/gaming"]),
        (
            "Electronics > Audio / Headphones",
            ["electronic", "electronic/audio", "electronic/audio/headphone"],
        ),
        ("Home › Kitchen", ["home", "home/kitchen"]),
        # a hyphen without spaces is part of the segment's words, not a separator
        ("Furniture-Gaming", ["furniture gaming"]),
        ("", []),
    ],
)
def test_category_prefixes(category: str, prefixes: list[str]) -> None:
    assert category_prefixes(category) == prefixes


def test_category_prefixes_are_whole_segments() -> None:
    assert "furn" not in category_prefixes("Furniture - Gaming")


def test_normalise_category_drops_empty_segments() -> None:
    assert normalise_category("Furniture /  / Gaming") == ("furniture", "gaming")
