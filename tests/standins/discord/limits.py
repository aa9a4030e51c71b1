"""Server-side validation Discord applies to bodies, reported in Discord's own error format.

Discord answers an invalid body with HTTP 400 and ``{"code": 50035, "message": "Invalid Form
Body", "errors": {...}}`` where ``errors`` nests by JSON path down to ``{"_errors": [{"code",
"message"}]}``. discord.py flattens that into ``HTTPException.text``, and the bot may log it; we
reproduce the shape so failures read the same as production failures would.

Only rules Discord documents (or visibly enforces) are checked. Anything not listed in the
module's ``ENFORCED`` summary is accepted as-is.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

from .models import iter_components

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
NONCE_MAX = 25
ATTACHMENTS_MAX = 10
ACTION_ROWS_MAX = 5
BUTTONS_PER_ROW_MAX = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
COMPONENTS_V2_TOTAL_MAX = 40
TEXT_DISPLAY_TOTAL_MAX = 4000
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
AUTOCOMPLETE_CHOICES_MAX = 25
COMMANDS_MAX = 100
COMMAND_OPTIONS_MAX = 25
FILE_SIZE_MAX = 10 * 1024 * 1024

#: Flags a bot may set when creating a message (SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS,
#: IS_VOICE_MESSAGE, IS_COMPONENTS_V2). EPHEMERAL (64) only through interactions.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_VOICE = 1 << 13
FLAG_COMPONENTS_V2 = 1 << 15
CHANNEL_MESSAGE_FLAGS = (
    FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_VOICE | FLAG_COMPONENTS_V2
)
INTERACTION_MESSAGE_FLAGS = CHANNEL_MESSAGE_FLAGS | FLAG_EPHEMERAL
DEFER_FLAGS = FLAG_EPHEMERAL

_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$", re.UNICODE)
_LOCALES = {
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl",
    "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi",
    "th", "zh-CN", "ja", "zh-TW", "ko",
}  # fmt: skip


class FormErrors:
    """Collects errors keyed by JSON path and renders Discord's nested 50035 body."""

    def __init__(self) -> None:
        self._items: list[tuple[tuple[str | int, ...], str, str]] = []

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        self._items.append((path, code, message))

    def max_len(self, path: tuple[str | int, ...], value: Any, limit: int) -> None:
        if isinstance(value, str | list) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def required(self, path: tuple[str | int, ...], value: Any) -> bool:
        if value is None or value == "":
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return False
        return True

    def __bool__(self) -> bool:
        return bool(self._items)

    def flat(self) -> list[str]:
        return [f"{'.'.join(map(str, p)) or '<body>'}: {c} {m}" for p, c, m in self._items]

    def body(self) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        for path, code, message in self._items:
            node = tree
            for part in path:
                node = node.setdefault(str(part), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        return {"code": 50035, "errors": tree, "message": "Invalid Form Body"}


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def _check_url(errors: FormErrors, path: tuple[str | int, ...], url: Any) -> None:
    if url is None:
        return
    if not isinstance(url, str):
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "attachment"):
        errors.add(
            path,
            "URL_TYPE_INVALID_SCHEME",
            f"Scheme \"{parts.scheme}\" is not supported. Scheme must be one of ('http', 'https').",
        )
    elif parts.scheme != "attachment" and not parts.netloc:
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")


def embed_text_length(embed: dict[str, Any]) -> int:
    """Characters that count toward the 6000 total, as Discord documents them."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for fld in embed.get("fields") or []:
        total += len(fld.get("name") or "") + len(fld.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total


def validate_embeds(errors: FormErrors, path: tuple[str | int, ...], embeds: Any) -> None:
    if embeds is None:
        return
    if not isinstance(embeds, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    errors.max_len(path, embeds, EMBEDS_MAX)
    total = 0
    for i, embed in enumerate(embeds):
        p = (*path, i)
        if not isinstance(embed, dict):
            errors.add(p, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        errors.max_len((*p, "title"), embed.get("title"), EMBED_TITLE_MAX)
        errors.max_len((*p, "description"), embed.get("description"), EMBED_DESCRIPTION_MAX)
        _check_url(errors, (*p, "url"), embed.get("url"))
        color = embed.get("color")
        if color is not None and (not isinstance(color, int) or not 0 <= color <= 0xFFFFFF):
            errors.add(
                (*p, "color"),
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 16777215.",
            )
        ts = embed.get("timestamp")
        if ts is not None:
            try:
                dt.datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
            except ValueError:
                errors.add((*p, "timestamp"), "DATE_TYPE_PARSE", "Could not parse timestamp.")
        fields = embed.get("fields") or []
        errors.max_len((*p, "fields"), fields, EMBED_FIELDS_MAX)
        for j, fld in enumerate(fields):
            fp = (*p, "fields", j)
            if errors.required((*fp, "name"), fld.get("name")):
                errors.max_len((*fp, "name"), fld.get("name"), EMBED_FIELD_NAME_MAX)
            if errors.required((*fp, "value"), fld.get("value")):
                errors.max_len((*fp, "value"), fld.get("value"), EMBED_FIELD_VALUE_MAX)
        footer = embed.get("footer")
        if footer is not None:
            if errors.required((*p, "footer", "text"), footer.get("text")):
                errors.max_len((*p, "footer", "text"), footer.get("text"), EMBED_FOOTER_MAX)
            _check_url(errors, (*p, "footer", "icon_url"), footer.get("icon_url"))
        author = embed.get("author")
        if author is not None:
            if errors.required((*p, "author", "name"), author.get("name")):
                errors.max_len((*p, "author", "name"), author.get("name"), EMBED_AUTHOR_MAX)
            _check_url(errors, (*p, "author", "url"), author.get("url"))
            _check_url(errors, (*p, "author", "icon_url"), author.get("icon_url"))
        for media in ("image", "thumbnail"):
            if embed.get(media) is not None:
                _check_url(errors, (*p, media, "url"), embed[media].get("url"))
        total += embed_text_length(embed)
    if total > EMBED_TOTAL_MAX:
        errors.add(
            path,
            "MAX_EMBED_SIZE_EXCEEDED",
            f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
        )


def _validate_button(errors: FormErrors, p: tuple[str | int, ...], comp: dict[str, Any]) -> None:
    style = comp.get("style")
    if style not in (1, 2, 3, 4, 5, 6):
        errors.add((*p, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")
        return
    errors.max_len((*p, "label"), comp.get("label"), BUTTON_LABEL_MAX)
    if style == 5:
        if comp.get("custom_id") is not None:
            errors.add(
                (*p, "custom_id"), "BUTTON_URL_CUSTOM_ID", "A link button cannot have a custom id"
            )
        if errors.required((*p, "url"), comp.get("url")):
            _check_url(errors, (*p, "url"), comp.get("url"))
    elif style == 6:
        errors.required((*p, "sku_id"), comp.get("sku_id"))
    else:
        if errors.required((*p, "custom_id"), comp.get("custom_id")):
            errors.max_len((*p, "custom_id"), comp.get("custom_id"), CUSTOM_ID_MAX)
        if comp.get("url") is not None:
            errors.add((*p, "url"), "BUTTON_CUSTOM_ID_URL", "A non-link button cannot have a url")
    if style != 6 and not comp.get("label") and not comp.get("emoji"):
        errors.add(
            (*p, "label"),
            "BUTTON_LABEL_OR_EMOJI_REQUIRED",
            "A button must have a label or an emoji",
        )


def _validate_select(errors: FormErrors, p: tuple[str | int, ...], comp: dict[str, Any]) -> None:
    if errors.required((*p, "custom_id"), comp.get("custom_id")):
        errors.max_len((*p, "custom_id"), comp.get("custom_id"), CUSTOM_ID_MAX)
    errors.max_len((*p, "placeholder"), comp.get("placeholder"), 150)
    min_v, max_v = comp.get("min_values", 1), comp.get("max_values", 1)
    if not 0 <= min_v <= 25:
        errors.add(
            (*p, "min_values"), "NUMBER_TYPE_MAX", "int value should be less than or equal to 25."
        )
    if not 1 <= max_v <= 25:
        errors.add(
            (*p, "max_values"), "NUMBER_TYPE_MAX", "int value should be less than or equal to 25."
        )
    if comp.get("type") == 3:
        options = comp.get("options") or []
        if not 1 <= len(options) <= SELECT_OPTIONS_MAX:
            errors.add(
                (*p, "options"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length."
            )
        seen: set[str] = set()
        for k, opt in enumerate(options):
            op = (*p, "options", k)
            for key in ("label", "value"):
                if errors.required((*op, key), opt.get(key)):
                    errors.max_len((*op, key), opt.get(key), 100)
            errors.max_len((*op, "description"), opt.get("description"), 100)
            if opt.get("value") in seen:
                errors.add(
                    (*op, "value"),
                    "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                    "Select option values must be unique",
                )
            seen.add(opt.get("value"))
        if max_v > max(len(options), 1):
            errors.add(
                (*p, "max_values"),
                "BASE_TYPE_MAX",
                f"Must be less than or equal to {len(options)}.",
            )


_MESSAGE_V1_CHILD = {2, 3, 5, 6, 7, 8}
_MESSAGE_V2_TOP = {1, 9, 10, 12, 13, 14, 17}


def validate_components(
    errors: FormErrors, path: tuple[str | int, ...], components: Any, *, v2: bool
) -> None:
    """Message components: classic action rows, or Components V2 layouts when flagged."""
    if components is None:
        return
    if not isinstance(components, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    if not v2:
        errors.max_len(path, components, ACTION_ROWS_MAX)
        for i, row in enumerate(components):
            p = (*path, i)
            if row.get("type") != 1:
                errors.add(
                    (*p, "type"),
                    "UNION_TYPE_CHOICES",
                    'Value of field "type" must be one of (1,) without IS_COMPONENTS_V2.',
                )
                continue
            children = row.get("components") or []
            if not children:
                errors.add(
                    (*p, "components"), "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length."
                )
            selects = [c for c in children if c.get("type") in (3, 5, 6, 7, 8)]
            if selects and len(children) > 1:
                errors.add(
                    (*p, "components"),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
            errors.max_len((*p, "components"), children, BUTTONS_PER_ROW_MAX)
            for j, comp in enumerate(children):
                cp = (*p, "components", j)
                ctype = comp.get("type")
                if ctype not in _MESSAGE_V1_CHILD:
                    errors.add(
                        (*cp, "type"),
                        "COMPONENT_TYPE_INVALID",
                        f"Component type {ctype} is not valid here",
                    )
                elif ctype == 2:
                    _validate_button(errors, cp, comp)
                else:
                    _validate_select(errors, cp, comp)
    else:
        count = sum(1 for _ in iter_components(components))
        if count > COMPONENTS_V2_TOTAL_MAX:
            errors.add(
                path,
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {COMPONENTS_V2_TOTAL_MAX} or fewer in length.",
            )
        for i, comp in enumerate(components):
            if comp.get("type") not in _MESSAGE_V2_TOP:
                errors.add(
                    (*path, i, "type"),
                    "COMPONENT_TYPE_INVALID",
                    f"Component type {comp.get('type')} is not valid here",
                )
        text = sum(
            len(c.get("content") or "") for c in iter_components(components) if c.get("type") == 10
        )
        if text > TEXT_DISPLAY_TOTAL_MAX:
            errors.add(
                path,
                "COMPONENT_TEXT_DISPLAY_TOTAL_LENGTH",
                f"Total text display length must be {TEXT_DISPLAY_TOTAL_MAX} or fewer.",
            )
        for comp in iter_components(components):
            if comp.get("type") == 2:
                _validate_button(errors, path, comp)
            elif comp.get("type") in (3, 5, 6, 7, 8):
                _validate_select(errors, path, comp)
    seen: set[str] = set()
    for comp in iter_components(components):
        cid = comp.get("custom_id")
        if cid is None:
            continue
        if cid in seen:
            errors.add(
                path, "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
            )
        seen.add(cid)


def validate_allowed_mentions(errors: FormErrors, path: tuple[str | int, ...], am: Any) -> None:
    if am is None:
        return
    parse = am.get("parse") or []
    for value in parse:
        if value not in ("users", "roles", "everyone"):
            errors.add(
                (*path, "parse"),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('everyone', 'users', 'roles').",
            )
    for kind in ("users", "roles"):
        if kind in parse and am.get(kind):
            errors.add(
                (*path, "parse"),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )
        errors.max_len((*path, kind), am.get(kind), 100)


def validate_message(
    body: dict[str, Any],
    *,
    allowed_flags: int,
    path: tuple[str | int, ...] = (),
    editing: bool = False,
) -> FormErrors:
    """Validate a message create/edit/response body. Returns the collected errors."""
    errors = FormErrors()
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        errors.add(
            (*path, "content"), "STRING_TYPE_CONVERT", "Could not interpret value as string."
        )
    errors.max_len((*path, "content"), content, CONTENT_MAX)
    validate_embeds(errors, (*path, "embeds"), body.get("embeds"))
    flags = body.get("flags") or 0
    if not isinstance(flags, int):
        errors.add((*path, "flags"), "NUMBER_TYPE_COERCE", "Value is not int.")
        flags = 0
    elif flags & ~allowed_flags and not editing:
        errors.add(
            (*path, "flags"), "MESSAGE_FLAGS_INVALID", f"Invalid flags: {flags & ~allowed_flags}"
        )
    v2 = bool(flags & FLAG_COMPONENTS_V2)
    if v2 and (content or body.get("embeds")):
        errors.add(
            (*path, "content" if content else "embeds"),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using IS_COMPONENTS_V2 flag",
        )
    validate_components(errors, (*path, "components"), body.get("components"), v2=v2)
    nonce = body.get("nonce")
    if nonce is not None:
        if isinstance(nonce, str):
            errors.max_len((*path, "nonce"), nonce, NONCE_MAX)
        elif not isinstance(nonce, int) or isinstance(nonce, bool):
            errors.add((*path, "nonce"), "BASE_TYPE_INVALID", "Invalid nonce")
    validate_allowed_mentions(errors, (*path, "allowed_mentions"), body.get("allowed_mentions"))
    errors.max_len((*path, "attachments"), body.get("attachments"), ATTACHMENTS_MAX)
    errors.max_len((*path, "sticker_ids"), body.get("sticker_ids"), 3)
    return errors


def is_empty_message(body: dict[str, Any], file_count: int) -> bool:
    """Discord's 50006 rule: something visible must be sent."""
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
        or file_count
    )


# --------------------------------------------------------------------------------------------
# Interaction callbacks: modals and autocomplete
# --------------------------------------------------------------------------------------------


def _validate_text_input(
    errors: FormErrors, p: tuple[str | int, ...], comp: dict[str, Any], *, in_label: bool
) -> None:
    if errors.required((*p, "custom_id"), comp.get("custom_id")):
        errors.max_len((*p, "custom_id"), comp.get("custom_id"), CUSTOM_ID_MAX)
    if comp.get("style") not in (1, 2):
        errors.add((*p, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
    if in_label:
        if comp.get("label"):
            errors.add(
                (*p, "label"),
                "TEXT_INPUT_LABEL_IN_LABEL",
                "A text input inside a label cannot have its own label",
            )
    elif errors.required((*p, "label"), comp.get("label")):
        errors.max_len((*p, "label"), comp.get("label"), 45)
    lo, hi = comp.get("min_length"), comp.get("max_length")
    if lo is not None and not 0 <= lo <= 4000:
        errors.add(
            (*p, "min_length"), "NUMBER_TYPE_MAX", "int value should be less than or equal to 4000."
        )
    if hi is not None and not 1 <= hi <= 4000:
        errors.add(
            (*p, "max_length"), "NUMBER_TYPE_MAX", "int value should be less than or equal to 4000."
        )
    errors.max_len((*p, "placeholder"), comp.get("placeholder"), 100)
    errors.max_len((*p, "value"), comp.get("value"), 4000)


def validate_modal(data: Any, path: tuple[str | int, ...] = ("data",)) -> FormErrors:
    errors = FormErrors()
    if not isinstance(data, dict):
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return errors
    if errors.required((*path, "custom_id"), data.get("custom_id")):
        errors.max_len((*path, "custom_id"), data.get("custom_id"), CUSTOM_ID_MAX)
    if errors.required((*path, "title"), data.get("title")):
        errors.max_len((*path, "title"), data.get("title"), MODAL_TITLE_MAX)
    comps = data.get("components") or []
    if not 1 <= len(comps) <= MODAL_COMPONENTS_MAX:
        errors.add(
            (*path, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
    for i, comp in enumerate(comps):
        p = (*path, "components", i)
        ctype = comp.get("type")
        if ctype == 1:
            children = comp.get("components") or []
            if len(children) != 1 or children[0].get("type") != 4:
                errors.add(
                    (*p, "components"),
                    "MODAL_ACTION_ROW_TEXT_INPUT",
                    "An action row in a modal must hold exactly one text input",
                )
            else:
                _validate_text_input(errors, (*p, "components", 0), children[0], in_label=False)
        elif ctype == 18:
            if errors.required((*p, "label"), comp.get("label")):
                errors.max_len((*p, "label"), comp.get("label"), 45)
            errors.max_len((*p, "description"), comp.get("description"), 100)
            inner = comp.get("component") or {}
            if inner.get("type") == 4:
                _validate_text_input(errors, (*p, "component"), inner, in_label=True)
            elif inner.get("type") in (3, 5, 6, 7, 8):
                _validate_select(errors, (*p, "component"), inner)
            elif inner.get("type") != 19:
                errors.add(
                    (*p, "component", "type"),
                    "COMPONENT_TYPE_INVALID",
                    "Invalid component inside a label",
                )
        elif ctype != 10:
            errors.add(
                (*p, "type"),
                "COMPONENT_TYPE_INVALID",
                f"Component type {ctype} is not valid in a modal",
            )
    seen: set[str] = set()
    for comp in iter_components(comps):
        cid = comp.get("custom_id")
        if cid is not None:
            if cid in seen:
                errors.add(
                    (*path, "components"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
            seen.add(cid)
    return errors


def validate_choices(
    data: Any, option_type: int | None, path: tuple[str | int, ...] = ("data",)
) -> FormErrors:
    errors = FormErrors()
    choices = (data or {}).get("choices")
    if not isinstance(choices, list):
        errors.add((*path, "choices"), "BASE_TYPE_REQUIRED", "This field is required")
        return errors
    errors.max_len((*path, "choices"), choices, AUTOCOMPLETE_CHOICES_MAX)
    for i, ch in enumerate(choices):
        p = (*path, "choices", i)
        if errors.required((*p, "name"), ch.get("name")):
            errors.max_len((*p, "name"), ch.get("name"), 100)
        value = ch.get("value")
        if option_type == 3:
            if not isinstance(value, str):
                errors.add(
                    (*p, "value"), "STRING_TYPE_CONVERT", "Could not interpret value as string."
                )
            else:
                errors.max_len((*p, "value"), value, 100)
        elif option_type == 4:
            if not isinstance(value, int) or isinstance(value, bool):
                errors.add((*p, "value"), "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
        elif option_type == 10 and (not isinstance(value, int | float) or isinstance(value, bool)):
            errors.add((*p, "value"), "NUMBER_TYPE_COERCE", f'Value "{value}" is not a number.')
    return errors


# --------------------------------------------------------------------------------------------
# Application command schemas (bulk overwrite)
# --------------------------------------------------------------------------------------------

OPTION_TYPES = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}


def _check_name(
    errors: FormErrors, p: tuple[str | int, ...], name: Any, *, chat_input: bool
) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        errors.add((*p, "name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        return
    if chat_input and (not _COMMAND_NAME.match(name) or name != name.lower()):
        errors.add((*p, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _check_localizations(
    errors: FormErrors, p: tuple[str | int, ...], key: str, value: Any
) -> None:
    for locale in value or {}:
        if locale not in _LOCALES:
            errors.add((*p, key, locale), "LOCALE_INVALID", f"Invalid locale {locale}")


def _validate_options(
    errors: FormErrors, p: tuple[str | int, ...], options: list[dict[str, Any]], depth: int
) -> None:
    errors.max_len((*p, "options"), options, COMMAND_OPTIONS_MAX)
    names: set[str] = set()
    seen_optional = False
    has_sub = any(o.get("type") in (1, 2) for o in options)
    for i, opt in enumerate(options):
        op = (*p, "options", i)
        otype = opt.get("type")
        if otype not in OPTION_TYPES:
            errors.add(
                (*op, "type"), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(OPTION_TYPES)}."
            )
            continue
        _check_name(errors, op, opt.get("name"), chat_input=True)
        if opt.get("name") in names:
            errors.add(
                (*op, "name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        names.add(opt.get("name"))
        desc = opt.get("description")
        if not isinstance(desc, str) or not 1 <= len(desc) <= 100:
            errors.add(
                (*op, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
            )
        _check_localizations(errors, op, "name_localizations", opt.get("name_localizations"))
        _check_localizations(
            errors, op, "description_localizations", opt.get("description_localizations")
        )
        if has_sub and otype not in (1, 2):
            errors.add(
                (*op, "type"),
                "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "Sub-command and sub-command group option types are mutually exclusive "
                "to all other types",
            )
        if otype in (1, 2):
            if opt.get("required"):
                errors.add(
                    (*op, "required"),
                    "APPLICATION_COMMAND_OPTION_REQUIRED_INVALID",
                    "Sub-commands cannot be required",
                )
            if (otype == 2 and depth > 0) or (otype == 1 and depth > 1):
                errors.add(
                    (*op, "type"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-commands nested too deeply",
                )
            children = opt.get("options") or []
            if otype == 2 and any(c.get("type") != 1 for c in children):
                errors.add(
                    (*op, "options"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "A sub-command group can only contain sub-commands",
                )
            _validate_options(errors, op, children, depth + 1)
            continue
        if opt.get("required"):
            if seen_optional:
                errors.add(
                    (*op, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = opt.get("choices")
        if choices:
            if otype not in (3, 4, 10):
                errors.add(
                    (*op, "choices"),
                    "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                    "Choices are only valid for string, integer and number options",
                )
            errors.max_len((*op, "choices"), choices, 25)
            if opt.get("autocomplete"):
                errors.add(
                    (*op, "autocomplete"),
                    "APPLICATION_COMMAND_AUTOCOMPLETE_CHOICES",
                    "Autocomplete cannot be used with choices",
                )
            sub = validate_choices({"choices": choices}, otype, op)
            for path, code, message in sub._items:
                errors.add(path, code, message)
        if opt.get("autocomplete") and otype not in (3, 4, 10):
            errors.add(
                (*op, "autocomplete"),
                "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                "Autocomplete is only valid for string, integer and number options",
            )
        for key in ("min_length", "max_length"):
            if opt.get(key) is not None and not 0 <= opt[key] <= 6000:
                errors.add(
                    (*op, key), "NUMBER_TYPE_MAX", "int value should be less than or equal to 6000."
                )


def validate_commands(commands: Any) -> FormErrors:
    """Discord's checks on ``PUT .../commands`` (bulk overwrite)."""
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add((), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return errors
    per_type: dict[int, set[str]] = {}
    counts: dict[int, int] = {}
    for i, cmd in enumerate(commands):
        p: tuple[str | int, ...] = (i,)
        ctype = cmd.get("type", 1) or 1
        counts[ctype] = counts.get(ctype, 0) + 1
        _check_name(errors, p, cmd.get("name"), chat_input=ctype == 1)
        names = per_type.setdefault(ctype, set())
        if cmd.get("name") in names:
            errors.add(
                (),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique (duplicate: {cmd.get('name')})",
            )
        names.add(cmd.get("name"))
        desc = cmd.get("description", "")
        if ctype == 1:
            if not isinstance(desc, str) or not 1 <= len(desc) <= 100:
                errors.add(
                    (*p, "description"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
        elif desc:
            errors.add(
                (*p, "description"),
                "APPLICATION_COMMAND_DESCRIPTION_INVALID",
                "Context menu commands cannot have a description",
            )
        _check_localizations(errors, p, "name_localizations", cmd.get("name_localizations"))
        _check_localizations(
            errors, p, "description_localizations", cmd.get("description_localizations")
        )
        dmp = cmd.get("default_member_permissions")
        # Discord documents a string but coerces integers too (discord.py sends an int).
        valid = (isinstance(dmp, str) and dmp.isdigit()) or (
            isinstance(dmp, int) and not isinstance(dmp, bool) and dmp >= 0
        )
        if dmp is not None and not valid:
            errors.add(
                (*p, "default_member_permissions"),
                "BASE_TYPE_INVALID",
                "Must be a permission bitfield string",
            )
        for ctx in cmd.get("contexts") or []:
            if ctx not in (0, 1, 2):
                errors.add((*p, "contexts"), "BASE_TYPE_CHOICES", "Value must be one of {0, 1, 2}.")
        if ctype == 1:
            _validate_options(errors, p, cmd.get("options") or [], 0)
        elif cmd.get("options"):
            errors.add(
                (*p, "options"),
                "APPLICATION_COMMAND_OPTIONS_INVALID",
                "Context menu commands cannot have options",
            )
    if counts.get(1, 0) > COMMANDS_MAX:
        errors.add(
            (),
            "APPLICATION_COMMAND_TOO_MANY",
            f"Must be {COMMANDS_MAX} or fewer chat input commands.",
        )
    for ctype in (2, 3):
        if counts.get(ctype, 0) > 5:
            errors.add(
                (),
                "APPLICATION_COMMAND_TOO_MANY",
                "Must be 5 or fewer context menu commands of each type.",
            )
    return errors
