"""The translation layer (bot/i18n.py): English passes through, other languages are data only,
and the template (locales/dealscout.pot) stays in step with the code."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from babel.messages.pofile import read_po
from discord.app_commands import TranslationContext, TranslationContextLocation, locale_str

from bot import i18n
from bot.delivery.render import CONDITION_LABELS, condition_label
from bot.domain.listing import Condition
from bot.i18n import (
    DealScoutTranslator,
    available_languages,
    catalog_problems,
    locale_of,
    normalise_language,
    set_locales_root,
    t,
    tn,
)

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"

# A catalog for a language the code has never heard of. Plural rule with three forms, one fuzzy
# entry (not used), one with a placeholder the code does not fill (falls back to English), one
# description over Discord's 100 characters, and a command *name* (never translated).
CATALOG = r"""
msgid ""
msgstr ""
"Language: {language}\n"
"Plural-Forms: nplurals=3; plural=(n==1 ? 0 : n==2 ? 1 : 2);\n"
"Content-Type: text/plain; charset=UTF-8\n"

msgid "Price"
msgstr "Precio"

msgid "Like new"
msgstr "Como nuevo"

msgid "▶️ Resumed **{name}**."
msgstr "▶️ **{name}** reanudada."

msgid "You have no alerts yet. Create one with `/alert create`."
msgstr "Aún no tienes alertas. Crea una con `/alert create`."

msgid "✅ Listed! {n} alert queued."
msgid_plural "✅ Listed! {n} alerts queued."
msgstr[0] "✅ ¡Publicado! {n} alerta (una)."
msgstr[1] "✅ ¡Publicado! {n} alertas (dos)."
msgstr[2] "✅ ¡Publicado! {n} alertas (muchas)."

msgid "Create and manage your deal alerts"
msgstr "Crea y gestiona tus alertas de ofertas"

msgid "List your alerts"
msgstr "Lista tus alertas"

msgid "What you are selling, 3 to 200 characters"
msgstr "Lo que vendes, de 3 a 200 caracteres"

msgid "Turn a paused alert back on"
msgstr "{long}"

msgid "sell"
msgstr "vender"

#, fuzzy
msgid "Seller"
msgstr "Vendedor"

msgid "Alert #{id}"
msgstr "Alerta #{numero}"
"""


def write_catalog(root: Path, language: str) -> Path:
    path = root / language / "LC_MESSAGES" / "dealscout.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = CATALOG.replace("{language}", language).replace("{long}", "x" * 150)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def default_root() -> Iterator[None]:
    set_locales_root(None)
    yield
    set_locales_root(None)


@pytest.fixture
def fake_languages(tmp_path: Path) -> Path:
    """A locales root with the fake language "xx", Spanish ("es") and Brazilian Portuguese, all
    written as data by this test: no code knows about them."""
    root = tmp_path / "locales"
    for language in ("xx", "es", "pt_BR"):
        write_catalog(root, language)
    (root / "de").mkdir()  # a folder without a catalog is not a language
    set_locales_root(root)
    return root


# ---- (a) English passes through ------------------------------------------------------------


def test_english_is_the_message_id_with_placeholders_filled() -> None:
    assert t("Price") == "Price"
    assert t("Price", "en") == t("Price", "en-GB") == "Price"
    assert t("▶️ Resumed **{name}**.", "en", name="Desk") == "▶️ Resumed **Desk**."
    assert t("not in any catalog {x}", "en", x=1) == "not in any catalog 1"
    # values are inserted once: braces a user typed are not read as placeholders
    assert t("▶️ Resumed **{name}**.", "en", name="{0} {name}") == "▶️ Resumed **{0} {name}**."


def test_english_plurals() -> None:
    forms = ("✅ Listed! {n} alert queued.", "✅ Listed! {n} alerts queued.")
    assert tn(*forms, 1, "en") == "✅ Listed! 1 alert queued."
    assert tn(*forms, 0, "en") == "✅ Listed! 0 alerts queued."
    assert tn(*forms, 2) == "✅ Listed! 2 alerts queued."
    assert tn("{n} of {total}", "{n} of {total}", 3, "en", total=4) == "3 of 4"


def test_english_catalog_has_no_translations() -> None:
    catalog = read_po((LOCALES / "en" / "LC_MESSAGES" / "dealscout.po").open("rb"))
    assert [m.id for m in catalog if m.id and m.string and any(m.string)] == []


def test_condition_words_are_the_domain_labels() -> None:
    assert {c: CONDITION_LABELS[c] for c in Condition} == {c: c.label for c in Condition}
    assert condition_label(Condition.like_new) == "Like new"


# ---- (b) more languages are data -----------------------------------------------------------


def test_a_new_language_is_only_a_catalog(fake_languages: Path) -> None:
    assert available_languages() == ["en", "es", "pt_BR", "xx"]
    assert t("Price", "xx") == "Precio"
    assert t("▶️ Resumed **{name}**.", "xx", name="Desk") == "▶️ **Desk** reanudada."
    assert condition_label(Condition.like_new, "xx") == "Como nuevo"
    assert t("Price", "en") == "Price"
    assert t("Deal score", "xx") == "Deal score"  # untranslated: English


def test_plural_rules_come_from_the_catalog(fake_languages: Path) -> None:
    forms = ("✅ Listed! {n} alert queued.", "✅ Listed! {n} alerts queued.")
    assert [tn(*forms, n, "xx") for n in (1, 2, 5)] == [
        "✅ ¡Publicado! 1 alerta (una).",
        "✅ ¡Publicado! 2 alertas (dos).",
        "✅ ¡Publicado! 5 alertas (muchas).",
    ]


def test_fuzzy_and_broken_translations_fall_back_to_english(fake_languages: Path) -> None:
    assert t("Seller", "xx") == "Seller"
    assert t("Alert #{id}", "xx", id=7) == "Alert #7"
    problems = catalog_problems("xx")
    assert len(problems) == 1 and "numero" in problems[0]


def test_broken_catalogs_never_break_a_reply(tmp_path: Path) -> None:
    bad_rule = tmp_path / "xx" / "LC_MESSAGES" / "dealscout.po"
    bad_rule.parent.mkdir(parents=True)
    header = 'msgid ""\nmsgstr "Plural-Forms: nplurals=2; plural=(n ?? 1);\\n"\n\n'
    bad_rule.write_text(header + 'msgid "Price"\nmsgstr "Precio"\n', "utf-8")
    unreadable = tmp_path / "yy" / "LC_MESSAGES" / "dealscout.po"
    unreadable.parent.mkdir(parents=True)
    unreadable.write_bytes(b'msgid "Price"\nmsgstr "\xff\xfe\x00"\n')
    set_locales_root(tmp_path)
    assert t("Price", "xx") == "Precio"  # the singular still works
    assert tn("{n} day", "{n} days", 2, "xx") == "2 days"  # English plural rule instead
    assert t("Price", "yy") == "Price"
    assert catalog_problems("xx") and catalog_problems("yy")


def test_catalogs_are_read_once_and_reloaded_on_request(fake_languages: Path) -> None:
    assert t("Price", "xx") == "Precio"
    path = fake_languages / "xx" / "LC_MESSAGES" / "dealscout.po"
    path.write_text(path.read_text().replace('"Precio"', '"Preis"'))
    assert t("Price", "xx") == "Precio"  # cached
    i18n.reload()
    assert t("Price", "xx") == "Preis"


async def translate(
    text: str, locale: discord.Locale, location: TranslationContextLocation
) -> str | None:
    context = TranslationContext(location=location, data=None)
    return await DealScoutTranslator().translate(locale_str(text), locale, context)


async def test_the_translator_localises_descriptions_and_choices_only(
    fake_languages: Path,
) -> None:
    spanish, latam = discord.Locale.spain_spanish, discord.Locale.latin_american_spanish
    loc = TranslationContextLocation
    description = loc.command_description
    assert await translate("List your alerts", spanish, description) == "Lista tus alertas"
    assert await translate("Like new", latam, loc.choice_name) == "Como nuevo"
    for where in (loc.command_name, loc.group_name, loc.parameter_name):
        assert await translate("sell", spanish, where) is None
    assert await translate("List your alerts", discord.Locale.german, description) is None
    assert await translate("Deal score", spanish, description) is None  # not translated yet
    # over Discord's 100 characters: Discord keeps the English text rather than refusing the sync
    assert await translate("Turn a paused alert back on", spanish, description) is None


def test_adding_a_language_with_the_cli(tmp_path: Path) -> None:
    root = tmp_path / "locales"
    set_locales_root(root)
    assert i18n._main(["extract"]) == 0
    assert i18n._main(["init", "de"]) == 0
    assert i18n._main(["init", "de"]) == 1  # never overwrites a translator's work
    path = root / "de" / "LC_MESSAGES" / "dealscout.po"
    text = path.read_text()
    assert "Plural-Forms: nplurals=2" in text
    path.write_text(text.replace('msgid "Price"\nmsgstr ""', 'msgid "Price"\nmsgstr "Preis"'))
    assert i18n._main(["check"]) == 0
    i18n.reload()
    assert available_languages() == ["en", "de"]
    assert t("Price", "de-DE") == "Preis"
    assert i18n._main(["extract"]) == 0
    assert "Preis" in path.read_text()  # merging the template keeps translations


# ---- (c) the template is in step with the code ----------------------------------------------

MARKERS = {"t": 1, "tn": 2, "N_": 1, "locale_str": 1}


def calls_in(path: Path) -> Iterator[tuple[str, ast.Call]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in MARKERS:
                yield name, node


def code_files() -> list[Path]:
    return sorted(p for d in ("bot", "cogs") for p in (ROOT / d).rglob("*.py"))


def ids_in_code() -> set[str | tuple[str, str]]:
    found: set[str | tuple[str, str]] = set()
    for path in code_files():
        for name, call in calls_in(path):
            args = call.args[: MARKERS[name]]
            texts = [a.value for a in args if isinstance(a, ast.Constant)]
            if len(texts) == MARKERS[name] and all(isinstance(x, str) for x in texts):
                found.add(texts[0] if len(texts) == 1 else (texts[0], texts[1]))
    return found


def ids_in(path: Path) -> set[str | tuple[str, str]]:
    with path.open("rb") as f:
        catalog = read_po(f)
    return {m.id if isinstance(m.id, str) else (m.id[0], m.id[1]) for m in catalog if m.id}


def test_every_message_in_the_code_is_in_the_template_and_nothing_else() -> None:
    in_code, in_pot = ids_in_code(), ids_in(LOCALES / "dealscout.pot")
    assert len(in_code) > 100
    missing, stale = in_code - in_pot, in_pot - in_code
    hint = "run: python -m bot.i18n extract"
    assert not missing, f"not in locales/dealscout.pot ({hint}): {sorted(map(str, missing))}"
    assert not stale, f"stale in locales/dealscout.pot ({hint}): {sorted(map(str, stale))}"


def test_the_english_catalog_follows_the_template() -> None:
    assert ids_in(LOCALES / "en" / "LC_MESSAGES" / "dealscout.po") == ids_in(
        LOCALES / "dealscout.pot"
    )


def test_shipped_catalogs_are_sound() -> None:
    assert "en" in available_languages()
    for language in available_languages():
        assert catalog_problems(language) == [], language


def test_messages_are_translated_before_they_are_formatted() -> None:
    """``t(f"…")`` or ``t("a" + b)`` would make a message id nobody can translate."""
    bad = []
    for path in code_files():
        for name, call in calls_in(path):
            for arg in call.args[: MARKERS[name]]:
                if isinstance(arg, ast.JoinedStr | ast.BinOp | ast.Call):
                    bad.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not bad, bad


# Files whose every user-facing text goes through the layer; add a file here once it is routed.
ROUTED = [
    "bot/delivery/render.py",
    "bot/delivery/render_digest.py",
    "cogs/digests.py",
    "cogs/admin.py",
    "cogs/alerts.py",
    "cogs/errors.py",
    "cogs/sell.py",
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "cogs" / "ui").glob("*.py")),
]


def test_routed_files_send_no_untranslated_literals() -> None:
    """Texts the user reads are never plain literals: replies, embed field names, footers,
    button labels, choices and descriptions all go through the layer."""
    bad = []
    for path in (ROOT / name for name in ROUTED):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            texts = [k for k in node.keywords if k.arg in ("label", "description", "text")]
            if name in ("Choice", "add_field"):
                texts += [k for k in node.keywords if k.arg == "name"]
            if name in ("respond", "safe_respond", "send_error", "UserFacingError"):
                texts += [*node.args[1:2]] if name != "UserFacingError" else [*node.args[:1]]
            if name == "describe":
                texts += node.keywords
            for value in texts:
                expr = getattr(value, "value", value)
                if isinstance(expr, ast.JoinedStr) or (
                    isinstance(expr, ast.Constant) and isinstance(expr.value, str)
                ):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert not bad, bad


# ---- (d) languages and locales ----------------------------------------------------------------


def test_normalise_language_with_only_english() -> None:
    assert available_languages() == ["en", *[p for p in available_languages() if p != "en"]]
    assert normalise_language("en-US") == "en"
    assert normalise_language("EN") == "en"
    assert normalise_language(discord.Locale.british_english) == "en"
    assert normalise_language(None) == "en"
    assert normalise_language("") == "en"
    assert normalise_language("tlh") == "en"


def test_normalise_language_picks_the_closest_catalog(fake_languages: Path) -> None:
    assert normalise_language("es-ES") == "es"
    assert normalise_language(discord.Locale.latin_american_spanish) == "es"
    assert normalise_language("pt-BR") == normalise_language("pt_br") == "pt_BR"
    assert normalise_language("pt") == "en"  # only Brazilian Portuguese exists
    assert normalise_language("xx-YY") == "xx"
    assert normalise_language("de") == "en"  # a folder without a catalog
    assert locale_of(SimpleNamespace(locale=discord.Locale.spain_spanish)) == "es"  # type: ignore[arg-type]
    assert locale_of(SimpleNamespace(locale=discord.Locale.american_english)) == "en"  # type: ignore[arg-type]


# ---- (e) routed: the schema Discord receives, and a reply in the user's language ------------


async def test_the_synced_schema_carries_the_localisations(
    tmp_path: Path, fake_languages: Path
) -> None:
    from tests.cogs.harness import Harness

    async with Harness.running(tmp_path) as h:
        await h.tree.set_translator(DealScoutTranslator())
        await h.tree.sync()
        _, payload = h.synced[-1]
    commands = {c["name"]: c for c in payload}
    alert, sell = commands["alert"], commands["sell"]
    assert alert["description"] == "Create and manage your deal alerts"
    assert alert["description_localizations"] == {
        "es-ES": "Crea y gestiona tus alertas de ofertas",
        "es-419": "Crea y gestiona tus alertas de ofertas",
        "pt-BR": "Crea y gestiona tus alertas de ofertas",
    }
    assert not alert.get("name_localizations")
    subcommands = {o["name"]: o for o in alert["options"]}
    assert subcommands["list"]["description_localizations"]["es-ES"] == "Lista tus alertas"
    assert not subcommands["list"].get("name_localizations")
    assert not subcommands["resume"].get("description_localizations")  # over 100 characters
    condition = next(o for o in subcommands["create"]["options"] if o["name"] == "condition")
    like_new = next(c for c in condition["choices"] if c["value"] == "like_new")
    assert like_new["name"] == "Like new"
    assert like_new["name_localizations"]["es-419"] == "Como nuevo"
    title = next(o for o in sell["options"] if o["name"] == "title")
    assert title["description_localizations"]["es-ES"] == "Lo que vendes, de 3 a 200 caracteres"
    assert not sell.get("name_localizations") and not title.get("name_localizations")


async def test_without_catalogs_discord_gets_english_only(tmp_path: Path) -> None:
    from tests.cogs.harness import Harness

    async with Harness.running(tmp_path) as h:
        await h.tree.set_translator(DealScoutTranslator())
        await h.tree.sync()
        _, payload = h.synced[-1]
    assert not any(_all_values(payload, "description_localizations"))
    assert not any(_all_values(payload, "name_localizations"))


def _all_values(node: Any, key: str) -> Iterator[Any]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from _all_values(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from _all_values(item, key)


async def test_a_command_answers_in_the_users_language(
    tmp_path: Path, fake_languages: Path
) -> None:
    from tests.cogs.harness import MEMBER_PERMISSIONS, Harness

    async with Harness.running(tmp_path) as h:

        async def invoke(locale: str, path: str, user: int = 1001, **options: Any) -> Any:
            data = h._command_data(path, options)
            payload = h._interaction(2, user, data, guild=True, permissions=MEMBER_PERMISSIONS)
            payload["locale"] = locale
            return (await h.dispatch(payload)).reply

        spanish = await invoke("es-ES", "alert list")
        english = await invoke("en-US", "alert list")
        assert spanish.content == "Aún no tienes alertas. Crea una con `/alert create`."
        assert english.content == "You have no alerts yet. Create one with `/alert create`."
        await invoke("en-US", "alert create", name="Desks", keywords="desk")
        await invoke("en-US", "alert pause", rule="Desks")
        resumed = await invoke("es-419", "alert resume", rule="Desks")
        assert resumed.content == "▶️ **Desks** reanudada."
        listed = await invoke("es-ES", "sell", user=1002, title="Oak desk", price="100")
        assert listed.content == "✅ ¡Publicado! 1 alerta (una)."
        assert listed.field("Precio") == "$100.00"
