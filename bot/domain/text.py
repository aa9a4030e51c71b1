"""Text normalisation shared by rules and listings.

Matching is only correct if a rule's keywords and a listing's text are folded the *same* way, so
both sides go through :func:`tokens`. Folding is deliberately simple and predictable (users must be
able to guess why something matched): casefold, strip accents, split on anything that is not a
letter or digit, and fold common English plurals to their singular.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_PHRASE = re.compile(r'"([^"]*)"|([^,"]+)')

# Words whose trailing "s" is not a plural; folding them would surprise users.
_NOT_PLURAL = frozenset(
    {"gas", "bus", "lens", "plus", "series", "species", "chassis", "glass", "news"}
)


def strip_accents(text: str) -> str:
    """Remove combining marks so "café" and "cafe" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def singular(word: str) -> str:
    """Fold a common English plural to its singular ("chairs" -> "chair", "boxes" -> "box")."""
    if len(word) <= 3 or word in _NOT_PLURAL or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Split ``text`` into folded word tokens (casefolded, accent-free, singular)."""
    folded = strip_accents(text.casefold())
    return [singular(w) for w in _WORD.findall(folded)]


def phrase_key(text: str) -> str:
    """The canonical form of a keyword or phrase: its folded tokens joined by one space."""
    return " ".join(tokens(text))


def split_terms(raw: str) -> list[str]:
    """Split user input like ``gaming, "office chair", desk`` into raw terms.

    Commas separate terms; double quotes keep a phrase together even if it contains commas.
    Empty terms are dropped. The result keeps the user's spelling (for display).
    """
    terms: list[str] = []
    for quoted, plain in _PHRASE.findall(raw or ""):
        term = (quoted if quoted else plain).strip()
        if term:
            terms.append(term)
    return terms


def normalise_category(category: str) -> tuple[str, ...]:
    """A category as its folded path segments: "Furniture - Gaming" -> ("furniture", "gaming").

    Segments are separated by " - ", "/", ">" or "›". Prefix matching works on whole segments,
    so the rule category "Furniture" matches "Furniture - Gaming" but "Furn" matches nothing.
    """
    parts = re.split(r"\s+-\s+|/|>|›", category or "")
    return tuple(key for key in (phrase_key(p) for p in parts) if key)


def category_prefixes(category: str) -> list[str]:
    """Every whole-segment prefix of a category as lookup keys: "furniture", "furniture/gaming"."""
    segments = normalise_category(category)
    return ["/".join(segments[: i + 1]) for i in range(len(segments))]
