"""The one translation layer: every text a user reads goes through :func:`t` or :func:`tn`.

gettext style, with English as the source language: the message id IS the English text, with
``{name}`` placeholders filled in after translation (``str.format``), so a string nobody has
translated still reads right::

    t("⏸️ Paused **{name}**.", locale, name=rule_name)
    tn("{n} alert queued.", "{n} alerts queued.", n, locale)

Languages are data, not code. Each one is a catalog, ``locales/<lang>/LC_MESSAGES/dealscout.po``,
read at run time with babel (no compile step) and cached per language; ``locales/dealscout.pot``
lists every message id the code uses. ``python -m bot.i18n extract`` rebuilds the template from
the code and merges it into every catalog; ``init LANG`` starts a new language; ``check``
reports a stale template and broken catalogs. Fuzzy entries are not used until a translator
clears the flag, and an empty translation means "English".

Slash-command descriptions and choice labels are translated by :class:`DealScoutTranslator`
from the same catalogs; command and option *names* stay English (Discord needs stable names).
Strings that are defined once at import time (a constant, a choice list) are marked with
:func:`N_` or ``app_commands.locale_str`` so the extractor finds them, and translated where used.
"""

from __future__ import annotations

import ast
import gettext
import io
import logging
import string
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

import discord
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from discord import app_commands

log = logging.getLogger(__name__)

DOMAIN = "dealscout"
SOURCE_LANGUAGE = "en"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOCALES_ROOT = PROJECT_ROOT / "locales"
SOURCE_DIRS = ("bot", "cogs")

# Calls whose string arguments are message ids: name -> positions of the ids (singular, plural).
KEYWORDS: dict[str, tuple[int, ...]] = {"t": (0,), "tn": (0, 1), "N_": (0,), "locale_str": (0,)}

# Discord's limit on a command/option description and on a choice's name.
DISCORD_TEXT_LIMIT = 100


# ------------------------------------------------------------------------------------------
# Catalogs
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Translations:
    """One language's usable translations (fuzzy and empty entries left out)."""

    language: str
    messages: dict[str, str]
    plurals: dict[str, tuple[str, ...]]
    plural_index: Callable[[int], int]

    def gettext(self, text: str) -> str:
        return self.messages.get(text) or text

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        forms = self.plurals.get(singular)
        if forms:
            try:
                index = int(self.plural_index(n))
            except Exception:  # a broken Plural-Forms expression must not break a reply
                index = -1
            if 0 <= index < len(forms) and forms[index]:
                return forms[index]
        return singular if n == 1 else plural


def _english(language: str = SOURCE_LANGUAGE) -> Translations:
    return Translations(language, {}, {}, lambda n: int(n != 1))


_root: Path = DEFAULT_LOCALES_ROOT
_cache: dict[str, Translations] = {}
_languages: dict[str, str] | None = None  # casefolded code -> folder name


def set_locales_root(path: str | PathLike[str] | None) -> None:
    """Read catalogs from ``path`` (``None``: the project's ``locales/``); clears the caches."""
    global _root
    _root = DEFAULT_LOCALES_ROOT if path is None else Path(path)
    reload()


def locales_root() -> Path:
    return _root


def reload() -> None:
    """Forget every loaded catalog and the language list (they are read again when needed)."""
    global _languages
    _cache.clear()
    _languages = None


def template_path(root: Path | None = None) -> Path:
    return (root or _root) / f"{DOMAIN}.pot"


def catalog_path(language: str, root: Path | None = None) -> Path:
    return (root or _root) / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _language_map() -> dict[str, str]:
    global _languages
    if _languages is None:
        found = {SOURCE_LANGUAGE: SOURCE_LANGUAGE}
        if _root.is_dir():
            for folder in sorted(_root.iterdir()):
                if catalog_path(folder.name).is_file():
                    found.setdefault(folder.name.casefold(), folder.name)
        _languages = found
    return _languages


def available_languages() -> list[str]:
    """Languages with a catalog under the locales root; English first, always there."""
    others = sorted(v for k, v in _language_map().items() if k != SOURCE_LANGUAGE)
    return [SOURCE_LANGUAGE, *others]


def normalise_language(code: str | discord.Locale | None) -> str:
    """The catalog to use for a Discord locale or language code: ``"en-US"`` → ``"en"``,
    ``"pt-BR"`` → ``"pt_BR"`` if there is one, else ``"pt"``; anything unknown → ``"en"``."""
    if code is None:
        return SOURCE_LANGUAGE
    raw = str(code.value if isinstance(code, discord.Locale) else code)
    key = raw.strip().replace("-", "_").casefold()
    known = _language_map()
    if key in known:
        return known[key]
    return known.get(key.split("_", 1)[0], SOURCE_LANGUAGE)


def locale_of(interaction: discord.Interaction[Any]) -> str:
    """The language to answer an interaction in: the user's Discord client language."""
    return normalise_language(getattr(interaction, "locale", None))


def _load(language: str) -> Translations:
    path = catalog_path(language)
    if language == SOURCE_LANGUAGE and not path.is_file():
        return _english()
    try:
        with path.open("rb") as f:
            catalog = read_po(f, locale=None, domain=DOMAIN)
    except Exception:
        log.exception("could not read the %s catalog %s; using English", language, path)
        return _english(language)
    try:
        plural_index = gettext.c2py(catalog.plural_expr)
    except (ValueError, SyntaxError):
        log.error("bad Plural-Forms in %s; using the English plural rule", path)
        plural_index = _english().plural_index
    messages: dict[str, str] = {}
    plurals: dict[str, tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple | list):
            forms = tuple(message.string or ())
            if any(forms):
                plurals[message.id[0]] = forms
        elif message.string and isinstance(message.string, str):
            messages[message.id] = message.string
    return Translations(language, messages, plurals, plural_index)


def translations(language: str | None) -> Translations:
    """The cached translations for a language (normalised first)."""
    code = normalise_language(language)
    found = _cache.get(code)
    if found is None:
        found = _cache[code] = _load(code)
    return found


# ------------------------------------------------------------------------------------------
# The API the cogs use
# ------------------------------------------------------------------------------------------


def N_(text: str) -> str:
    """Mark a message id for extraction without translating it (module constants); pass the
    value to :func:`t` where a locale is known."""
    return text


def _format(translated: str, source: str, values: dict[str, Any]) -> str:
    if not values:
        return translated
    try:
        return translated.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError):
        log.warning("bad placeholders in a translation of %r: %r", source, translated)
        return source.format(**values)


def t(text: str, locale: str | None = None, /, **values: Any) -> str:
    """``text`` (an English message id) in ``locale``, placeholders filled from ``values``."""
    return _format(translations(locale).gettext(text), text, values)


def tn(singular: str, plural: str, n: int, locale: str | None = None, /, **values: Any) -> str:
    """The form of a message for the count ``n`` in ``locale``; ``{n}`` is filled with ``n``
    unless ``values`` says otherwise."""
    values.setdefault("n", n)
    translated = translations(locale).ngettext(singular, plural, n)
    return _format(translated, singular if n == 1 else plural, values)


class DealScoutTranslator(app_commands.Translator):
    """Localises command, group and option descriptions and choice labels for Discord from the
    same catalogs. Names are never translated. Install with
    ``await bot.tree.set_translator(DealScoutTranslator())``; it takes effect at the next sync."""

    UNTRANSLATED = frozenset(
        {
            app_commands.TranslationContextLocation.command_name,
            app_commands.TranslationContextLocation.group_name,
            app_commands.TranslationContextLocation.parameter_name,
        }
    )

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if context.location in self.UNTRANSLATED:
            return None
        language = normalise_language(locale)
        if language == SOURCE_LANGUAGE:
            return None
        translated = translations(language).gettext(string.message)
        if translated == string.message:
            return None
        limited = context.location is not app_commands.TranslationContextLocation.other
        if limited and len(translated) > DISCORD_TEXT_LIMIT:
            log.warning(
                "the %s translation of %r is over %d characters; Discord shows English",
                language,
                string.message,
                DISCORD_TEXT_LIMIT,
            )
            return None
        return translated


# ------------------------------------------------------------------------------------------
# Extraction and catalog maintenance (python -m bot.i18n ...)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    """One message id in the code."""

    id: str | tuple[str, str]
    path: str
    lineno: int


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def find_messages(source: str, path: str = "<string>") -> Iterator[Found]:
    """Literal message ids in Python source: ``t("…")``, ``tn("…", "…", n)``, ``N_("…")`` and
    ``locale_str("…")``. Calls with a non-literal id (a marked constant) are skipped."""
    for node in ast.walk(ast.parse(source, path)):
        if not isinstance(node, ast.Call):
            continue
        positions = KEYWORDS.get(_call_name(node) or "")
        if positions is None or len(node.args) <= max(positions):
            continue
        args = [node.args[i] for i in positions]
        texts = [a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if len(texts) != len(args) or not texts[0]:
            continue
        message_id: str | tuple[str, str] = texts[0] if len(texts) == 1 else (texts[0], texts[1])
        yield Found(message_id, path, node.lineno)


def source_files(project: Path = PROJECT_ROOT) -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (project / d).rglob("*.py"))


def extract(project: Path = PROJECT_ROOT) -> Catalog:
    """The template: every message id in ``bot/`` and ``cogs/``, with the files using it."""
    catalog = Catalog(
        domain=DOMAIN,
        project="Deal Scout",
        version="1",
        header_comment="# Deal Scout's messages. The message id is the English text.\n#",
        charset="utf-8",
        fuzzy=False,
    )
    for path in source_files(project):
        relative = path.relative_to(project).as_posix()
        for found in find_messages(path.read_text(encoding="utf-8"), relative):
            catalog.add(found.id, locations=[(found.path, found.lineno)])
    return catalog


def _render(catalog: Catalog, *, ignore_obsolete: bool = False) -> bytes:
    buffer = io.BytesIO()
    write_po(
        buffer,
        catalog,
        width=100,
        sort_by_file=True,
        include_lineno=False,
        ignore_obsolete=ignore_obsolete,
    )
    return buffer.getvalue()


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def message_ids(catalog: Iterable[Any]) -> set[str | tuple[str, ...]]:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


def write_template(template: Catalog, root: Path | None = None) -> bool:
    """Write the .pot; an unchanged one is left alone (its creation date too)."""
    path = template_path(root)
    if path.is_file():
        template.creation_date = _read(path).creation_date
        if _render(template) == path.read_bytes():
            return False
        template.creation_date = datetime.now(UTC)
    return _write_if_changed(path, _render(template))


def update_catalog(language: str, template: Catalog, root: Path | None = None) -> bool:
    """Merge the template into a language's catalog (new ids added, gone ones made obsolete;
    English keeps no obsolete entries and no fuzzy guesses). Creates it when missing."""
    path = catalog_path(language, root)
    english = language == SOURCE_LANGUAGE
    if path.is_file():
        catalog = _read(path, language)
    else:
        catalog = Catalog(locale=language, domain=DOMAIN, fuzzy=False)
        catalog.project, catalog.version = template.project, template.version
        catalog.header_comment = template.header_comment
    catalog.update(template, no_fuzzy_matching=english, update_creation_date=False)
    return _write_if_changed(path, _render(catalog, ignore_obsolete=english))


def _fields(text: str) -> set[str]:
    names = set()
    for _, name, _, _ in string.Formatter().parse(text):
        if name is not None:
            names.add(name.split(".", 1)[0].split("[", 1)[0])
    return names


def catalog_problems(language: str, root: Path | None = None) -> list[str]:
    """What is wrong with a catalog: unreadable, or a translation whose placeholders the code
    does not fill (``t`` would fall back to English there) or that is not valid ``format``."""
    path = catalog_path(language, root)
    try:
        catalog = _read(path)
        gettext.c2py(catalog.plural_expr)
    except Exception as exc:
        return [f"{path}: cannot be read: {exc}"]
    problems = []
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        raw = message.string
        strings = [raw] if isinstance(raw, str) else list(raw or ())
        allowed = set().union(*(_fields(i) for i in ids))
        if isinstance(message.id, tuple | list):
            allowed.add("n")
        for text in strings:
            if not text:
                continue
            try:
                extra = _fields(text) - allowed
            except ValueError as exc:
                problems.append(f"{path}: {ids[0]!r}: {exc}")
                continue
            if extra:
                problems.append(f"{path}: {ids[0]!r}: unknown placeholders {sorted(extra)}")
    return problems


def _main(argv: Sequence[str]) -> int:
    usage = (
        "usage: python -m bot.i18n extract | init LANG | check\n"
        "  extract  rebuild locales/dealscout.pot from bot/ and cogs/, merge it into every "
        "catalog\n"
        "  init     start locales/LANG/LC_MESSAGES/dealscout.po from the template\n"
        "  check    exit 1 if the template is stale or a catalog is broken"
    )
    if not argv or argv[0] not in ("extract", "init", "check"):
        print(usage, file=sys.stderr)
        return 2
    template = extract()
    root = locales_root()
    if argv[0] == "extract":
        changed = [template_path()] if write_template(template) else []
        changed += [
            catalog_path(lang) for lang in available_languages() if update_catalog(lang, template)
        ]
        print(f"{len(template)} messages; updated: {', '.join(map(str, changed)) or 'nothing'}")
        return 0
    if argv[0] == "init":
        if len(argv) != 2:
            print(usage, file=sys.stderr)
            return 2
        language = argv[1].replace("-", "_")
        if catalog_path(language).exists():
            print(f"{catalog_path(language)} already exists", file=sys.stderr)
            return 1
        update_catalog(language, template)
        print(f"created {catalog_path(language)}: translate its msgstr lines, then restart")
        return 0
    problems = []
    if not template_path().is_file():
        problems.append(f"{template_path()} is missing: run python -m bot.i18n extract")
    elif message_ids(_read(template_path())) != message_ids(template):
        problems.append(f"{template_path()} is stale: run python -m bot.i18n extract")
    for language in available_languages():
        if catalog_path(language, root).is_file():
            problems += catalog_problems(language, root)
    print("\n".join(problems) or f"ok: {', '.join(available_languages())}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
