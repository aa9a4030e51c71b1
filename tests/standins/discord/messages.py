"""Creating, editing and announcing messages, shared by channel, webhook and interaction routes.

All three paths go through the same validation (``limits.validate_message``), the same
``attachments`` / ``files[n]`` resolution and the same gateway announcement (MESSAGE_CREATE /
UPDATE / DELETE, never for ephemeral messages), because Discord treats them alike.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from . import limits
from .errors import ApiError, form_error
from .limits import (
    FLAG_COMPONENTS_V2,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FormErrors,
)
from .models import Channel, iso
from .state import StoredMessage

if TYPE_CHECKING:
    from .gateway import GatewayServer
    from .state import InteractionRecord, StandinState

Uploads = dict[int, tuple[str, bytes, str]]  # files[n] -> (filename, data, content type)


def _int(value: Any, default: int = -1) -> int:
    with contextlib.suppress(ValueError, TypeError):
        return int(value)
    return default


class MessageService:
    def __init__(self, state: StandinState, gateway: GatewayServer) -> None:
        self.state = state
        self.gateway = gateway
        self.http_base = ""  # set by the driver; attachment URLs point at the stand-in

    @property
    def app_id(self) -> int:
        return self.state.bot_user.id

    # -- validation ------------------------------------------------------------------------------
    def validate(
        self,
        body: dict[str, Any],
        *,
        allowed_flags: int,
        uploads: Uploads,
        path: tuple[str | int, ...] = (),
        editing: bool = False,
    ) -> None:
        errors = limits.validate_message(
            body, allowed_flags=allowed_flags, path=path, editing=editing
        )
        if errors:
            raise form_error(errors)
        if not editing and limits.is_empty_message(body, len(uploads)):
            raise ApiError(400, 50006, "Cannot send an empty message", violation="empty_message")

    def check_dm_allowed(self, channel: Channel) -> None:
        """The recipient's privacy settings and mutual servers decide, as on Discord."""
        assert channel.recipient_id is not None
        uid = channel.recipient_id
        self.state.dm_attempts[uid] += 1
        injected = self.state.dm_errors.get(uid)
        if injected is not None:
            status, code, message = injected
            raise ApiError(status, code, message)
        if uid in self.state.closed_dms:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        if not self.state.mutual_guilds(uid):
            raise ApiError(
                403, 50278, "Cannot send messages to this user due to having no mutual guilds"
            )

    # -- attachments ----------------------------------------------------------------------------
    def _attachment(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        ctype: str,
        *,
        ephemeral: bool,
        description: str | None = None,
    ) -> dict[str, Any]:
        att_id = self.state.store_file(filename, data, ctype)
        url = f"{self.http_base}/attachments/{channel_id}/{att_id}/{filename}"
        payload: dict[str, Any] = {
            "id": str(att_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": ctype,
        }
        if description:
            payload["description"] = description
        if ephemeral:
            payload["ephemeral"] = True
        return payload

    def resolve_attachments(
        self,
        body: dict[str, Any],
        uploads: Uploads,
        channel_id: int,
        *,
        existing: list[dict[str, Any]] | None,
        ephemeral: bool,
        path: tuple[str | int, ...] = (),
    ) -> list[dict[str, Any]] | None:
        """``attachments`` entries: small ids name ``files[n]``; snowflakes keep existing ones.

        Returns None when the body does not touch attachments (an edit keeps them).
        """
        if "attachments" not in body and not uploads:
            return None
        keep = {a["id"]: a for a in existing or []}
        result: list[dict[str, Any]] = []
        used: set[int] = set()
        errors = FormErrors()
        for i, entry in enumerate(body.get("attachments") or []):
            raw_id = str(entry.get("id"))
            if raw_id in keep:
                result.append(keep[raw_id])
                continue
            idx = _int(raw_id)
            if idx not in uploads:
                errors.add(
                    (*path, "attachments", i, "id"), "ATTACHMENT_NOT_FOUND", "Unknown attachment"
                )
                continue
            filename, data, ctype = uploads[idx]
            used.add(idx)
            result.append(
                self._attachment(
                    channel_id,
                    entry.get("filename") or filename,
                    data,
                    ctype,
                    ephemeral=ephemeral,
                    description=entry.get("description"),
                )
            )
        if errors:
            raise form_error(errors)
        for idx, (filename, data, ctype) in sorted(uploads.items()):
            if idx not in used:  # uploaded but not listed: Discord still attaches it
                result.append(
                    self._attachment(channel_id, filename, data, ctype, ephemeral=ephemeral)
                )
        if len(result) > limits.ATTACHMENTS_MAX:
            raise ApiError(
                400,
                30015,
                "Maximum number of attachments in a message reached (10)",
                violation="too_many_attachments",
            )
        return result

    # -- create / edit / announce -----------------------------------------------------------------
    def build(
        self,
        channel: Channel,
        body: dict[str, Any],
        uploads: Uploads,
        *,
        author: dict[str, Any],
        flags: int,
        mtype: int = 0,
        webhook_id: int | None = None,
        interaction: InteractionRecord | None = None,
        strip_embeds: bool = False,
    ) -> StoredMessage:
        """A new message (not yet stored). ``strip_embeds`` mimics a missing EMBED_LINKS."""
        msg = StoredMessage(
            id=self.state.ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=body.get("content") or "",
            embeds=[] if strip_embeds else list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            flags=flags,
            nonce=body.get("nonce"),
            tts=bool(body.get("tts")),
            type=mtype,
            webhook_id=webhook_id,
        )
        ephemeral = bool(flags & FLAG_EPHEMERAL)
        attachments = self.resolve_attachments(
            body, uploads, channel.id, existing=None, ephemeral=ephemeral
        )
        msg.attachments = attachments or []
        if interaction is not None:
            msg.application_id = self.app_id
            msg.interaction_id = interaction.id
            msg.interaction_user_id = interaction.user.id
            meta: dict[str, Any] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.payload(),
                "authorizing_integration_owners": interaction.payload.get(
                    "authorizing_integration_owners", {}
                ),
            }
            if interaction.source_message is not None:
                meta["interacted_message_id"] = str(interaction.source_message.id)
            if interaction.type == 2:
                meta["name"] = (interaction.payload.get("data") or {}).get("name")
            msg.interaction_metadata = meta
        return msg

    def apply_edit(
        self,
        msg: StoredMessage,
        body: dict[str, Any],
        uploads: Uploads,
        *,
        path: tuple[str | int, ...] = (),
    ) -> None:
        """Apply the keys present in ``body``; clears the deferred "thinking" state."""
        content = (body.get("content") or "") if "content" in body else msg.content
        embeds = list(body.get("embeds") or []) if "embeds" in body else msg.embeds
        flags = msg.flags
        if body.get("flags") is not None:  # only SUPPRESS_EMBEDS / COMPONENTS_V2 are editable
            keep = msg.flags & (FLAG_EPHEMERAL | FLAG_COMPONENTS_V2)
            flags = keep | (body["flags"] & (FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2))
        if flags & FLAG_COMPONENTS_V2 and (content or embeds):
            errors = FormErrors()
            errors.add(
                (*path, "content"),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "The 'content' and 'embeds' fields cannot be used when using IS_COMPONENTS_V2 flag",
            )
            raise form_error(errors)
        attachments = self.resolve_attachments(
            body,
            uploads,
            msg.channel_id,
            existing=msg.attachments,
            ephemeral=msg.ephemeral,
            path=path,
        )
        msg.history.append(msg.payload())
        msg.content, msg.embeds, msg.flags = content, embeds, flags & ~FLAG_LOADING
        if "components" in body:
            msg.components = list(body["components"] or [])
        if attachments is not None:
            msg.attachments = attachments
        msg.edited_at = iso()
        self.state.bump()

    def publish(self, msg: StoredMessage, event: str = "MESSAGE_CREATE") -> None:
        """Store a new message (for MESSAGE_CREATE) and announce it on the gateway.

        Ephemeral messages are never announced: only the invoking user's client sees them.
        """
        if event == "MESSAGE_CREATE":
            self.state.store_message(msg)
        if msg.ephemeral:
            return
        from .gateway import message_event_data

        if event == "MESSAGE_DELETE":
            data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                data["guild_id"] = str(msg.guild_id)
        else:
            member = None
            if msg.guild_id is not None and msg.webhook_id is None:
                m = self.state.guilds[msg.guild_id].member(msg.author_id)
                member = m.payload(with_user=False) if m else None
            data = message_event_data(msg.payload(), msg.guild_id, member)
        mentions_bot = f"<@{self.app_id}>" in msg.content and msg.author_id != self.app_id
        self.gateway.dispatch_message(event, data, msg.guild_id, mentions_bot=mentions_bot)
