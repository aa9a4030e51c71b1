"""Builds INTERACTION_CREATE payloads the way the Discord client would produce them.

The client only lets a user send what the synced schema allows: known (sub)commands, declared
option names, correct types, choices, min/max bounds, required options, channel types,
``default_member_permissions`` and DM availability. So tests cannot accidentally exercise a
command in a way no real user could; such attempts raise :class:`ClientWouldRefuse` in the
test rather than reaching the bot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .limits import FILE_SIZE_MAX
from .models import Channel, Guild, Member, Perm, Role, User
from .state import InteractionRecord, ModalRecord, StoredMessage, Upload, random_token

if TYPE_CHECKING:
    from .state import StandinState

OPTION_TYPE_NAMES = {
    1: "SUB_COMMAND", 2: "SUB_COMMAND_GROUP", 3: "STRING", 4: "INTEGER", 5: "BOOLEAN", 6: "USER",
    7: "CHANNEL", 8: "ROLE", 9: "MENTIONABLE", 10: "NUMBER", 11: "ATTACHMENT",
}  # fmt: skip
MAX_SAFE_INT = 2**53


class ClientWouldRefuse(ValueError):
    """The test asked for something a real user could not do through the Discord client."""


@dataclass
class Resolved:
    """Accumulates the ``resolved`` map of an interaction's data."""

    users: dict[str, Any] = field(default_factory=dict)
    members: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, Any] = field(default_factory=dict)
    attachments: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v}


class InteractionFactory:
    """Creates interaction records + payloads; the driver dispatches them over the gateway."""

    def __init__(self, state: StandinState) -> None:
        self.state = state
        self.http_base = ""

    # -- shared envelope ---------------------------------------------------------------------------
    def _context(self, user: User, guild: Guild | None, channel: Channel) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "application_id": str(self.state.bot_user.id),
            "version": 1,
            "locale": user.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": FILE_SIZE_MAX,
            "app_permissions": str(self.state.bot_permissions_in(channel)),
            "channel_id": str(channel.id),
        }
        if guild is not None:
            member = guild.member(user)
            assert member is not None
            perms = guild.channel_permissions(user.id, channel)
            payload.update(
                guild_id=str(guild.id),
                guild=guild.partial_payload(),
                guild_locale=guild.preferred_locale,
                member=member.payload(permissions=perms),
                channel=channel.partial_payload(),
                context=0,
                authorizing_integration_owners={"0": str(guild.id)},
            )
        else:
            payload.update(
                user=user.payload(),
                channel=self.state.channel_payload(channel),
                context=1,
                authorizing_integration_owners={"0": "0"},
            )
        return payload

    def _record(
        self,
        itype: int,
        user: User,
        guild: Guild | None,
        channel: Channel,
        data: dict[str, Any],
        *,
        message: StoredMessage | None = None,
    ) -> InteractionRecord:
        iid = self.state.ids.next()
        token = random_token("aW50ZXJhY3Rpb246", 160)
        payload = {
            "id": str(iid),
            "type": itype,
            "token": token,
            "data": data,
            **self._context(user, guild, channel),
        }
        if message is not None:
            payload["message"] = message.payload()
        record = InteractionRecord(
            id=iid,
            token=token,
            type=itype,
            user=user,
            guild_id=guild.id if guild else None,
            channel_id=channel.id,
            payload=payload,
            state=self.state,
            created_at=self.state.clock.monotonic(),
            source_message=message,
        )
        self.state.register_interaction(record)
        return record

    def _where(
        self, user: User, guild: Guild | None, channel: Channel | int | str | None
    ) -> tuple[Guild | None, Channel]:
        if guild is None:
            if channel is not None:
                raise ClientWouldRefuse(
                    "a DM interaction happens in the user's DM with the bot; do not pass channel"
                )
            if not self.state.mutual_guilds(user.id):
                raise ClientWouldRefuse(
                    f"{user.username} shares no server with the bot, so cannot open its DM"
                )
            return None, self.state.dm_channel(user.id)
        if guild.member(user) is None:
            raise ClientWouldRefuse(f"{user.username} is not a member of {guild.name!r}")
        if channel is None:
            ch = guild.text_channels[0]
        elif isinstance(channel, Channel):
            ch = channel
        else:
            ch = guild.channel(channel)
        if ch.guild_id != guild.id:
            raise ClientWouldRefuse(f"channel {ch.name!r} is not in {guild.name!r}")
        perms = guild.channel_permissions(user.id, ch)
        if not perms & Perm.VIEW_CHANNEL:
            raise ClientWouldRefuse(f"{user.username} cannot see #{ch.name}")
        return guild, ch

    # -- slash commands ----------------------------------------------------------------------------
    def command(
        self,
        user: User,
        command: str,
        options: dict[str, Any],
        *,
        guild: Guild | None,
        channel: Channel | int | str | None,
        autocomplete_focus: str | None = None,
    ) -> InteractionRecord:
        guild, ch = self._where(user, guild, channel)
        parts = command.strip().lstrip("/").split()
        if not parts:
            raise ClientWouldRefuse("empty command name")
        schema = self.state.find_command(parts[0], guild.id if guild else None)
        if schema is None:
            known = sorted(
                {
                    n
                    for scope in (None, guild.id if guild else None)
                    for (n, t) in self.state.commands.get(scope, {})
                    if t == 1
                }
            )
            raise ClientWouldRefuse(
                f"/{parts[0]} is not a synced command here (known: {known}); "
                "did the test sync commands?"
            )
        self._check_command_access(user, guild, ch, schema)

        level: list[dict[str, Any]] = schema.get("options") or []
        chain: list[tuple[int, str]] = []
        for name in parts[1:]:
            sub = next(
                (o for o in level if o.get("name") == name and o.get("type") in (1, 2)), None
            )
            if sub is None:
                subs = [o["name"] for o in level if o.get("type") in (1, 2)]
                raise ClientWouldRefuse(f"/{' '.join(parts)}: no subcommand {name!r} (has {subs})")
            chain.append((sub["type"], name))
            level = sub.get("options") or []
        if any(o.get("type") in (1, 2) for o in level):
            subs = [o["name"] for o in level if o.get("type") in (1, 2)]
            raise ClientWouldRefuse(f"/{' '.join(parts)} must be followed by a subcommand ({subs})")
        if chain and chain[-1][0] == 2:
            raise ClientWouldRefuse(f"/{' '.join(parts)} is a group; name one of its subcommands")

        resolved = Resolved()
        focus_type: int | None = None
        leaf: list[dict[str, Any]] = []
        declared = {o["name"]: o for o in level}
        unknown = set(options) - set(declared)
        if unknown:
            raise ClientWouldRefuse(
                f"/{' '.join(parts)} has no option(s) {sorted(unknown)} "
                f"(declared: {sorted(declared)})"
            )
        if autocomplete_focus is not None:
            focus = declared.get(autocomplete_focus)
            if focus is None or not focus.get("autocomplete"):
                raise ClientWouldRefuse(
                    f"option {autocomplete_focus!r} of /{' '.join(parts)} has no autocomplete"
                )
            focus_type = focus["type"]
        for spec in level:  # schema order, like the client
            name = spec["name"]
            if name == autocomplete_focus:
                leaf.append(
                    {
                        "name": name,
                        "type": spec["type"],
                        "value": str(options.get(name, "")),
                        "focused": True,
                    }
                )
                continue
            if name not in options:
                if spec.get("required") and autocomplete_focus is None:
                    raise ClientWouldRefuse(f"/{' '.join(parts)}: required option {name!r} missing")
                continue
            value = self._option_value(
                spec,
                options[name],
                user,
                guild,
                ch,
                resolved,
                partial=autocomplete_focus is not None,
            )
            leaf.append({"name": name, "type": spec["type"], "value": value})

        nested: list[dict[str, Any]] = leaf
        for ctype, name in reversed(chain):
            nested = [{"name": name, "type": ctype, "options": nested}]
        data: dict[str, Any] = {"id": schema["id"], "name": schema["name"], "type": 1}
        if nested:
            data["options"] = nested
        if resolved.payload():
            data["resolved"] = resolved.payload()
        if schema.get("guild_id"):
            data["guild_id"] = schema["guild_id"]
        record = self._record(4 if autocomplete_focus is not None else 2, user, guild, ch, data)
        record.focused_option_type = focus_type
        return record

    def _check_command_access(
        self, user: User, guild: Guild | None, channel: Channel, schema: dict[str, Any]
    ) -> None:
        name = schema["name"]
        if guild is None:
            contexts = schema.get("contexts")
            if (
                schema.get("guild_id")
                or (contexts is not None and 1 not in contexts)
                or (contexts is None and schema.get("dm_permission") is False)
            ):
                raise ClientWouldRefuse(f"/{name} is not available in DMs")
            return
        contexts = schema.get("contexts")
        if contexts is not None and 0 not in contexts:
            raise ClientWouldRefuse(f"/{name} is not available in servers")
        perms = guild.channel_permissions(user.id, channel)
        if not perms & Perm.USE_APPLICATION_COMMANDS:
            raise ClientWouldRefuse(
                f"{user.username} lacks USE_APPLICATION_COMMANDS in #{channel.name}"
            )
        required = schema.get("default_member_permissions")
        if required is not None:
            need = int(required)
            base = guild.base_permissions(user.id)
            if not (
                base & Perm.ADMINISTRATOR
                or user.id == guild.owner_id
                or (need and base & need == need)
            ):
                raise ClientWouldRefuse(
                    f"/{name} needs permissions {need} (default_member_permissions); "
                    f"{user.username} has {base}"
                )

    def _option_value(
        self,
        spec: dict[str, Any],
        value: Any,
        invoker: User,
        guild: Guild | None,
        channel: Channel,
        resolved: Resolved,
        *,
        partial: bool,
    ) -> Any:
        otype = spec["type"]
        label = f"option {spec['name']!r} ({OPTION_TYPE_NAMES.get(otype)})"
        if isinstance(value, Member):
            value = value.user
        if otype == 3:
            if not isinstance(value, str):
                raise ClientWouldRefuse(f"{label} takes a string, got {value!r}")
            if not partial:
                lo, hi = spec.get("min_length"), spec.get("max_length", 6000)
                if (lo is not None and len(value) < lo) or (hi is not None and len(value) > hi):
                    raise ClientWouldRefuse(f"{label}: length {len(value)} outside [{lo}, {hi}]")
        elif otype in (4, 10):
            ok = isinstance(value, int) if otype == 4 else isinstance(value, int | float)
            if isinstance(value, bool) or not ok:
                raise ClientWouldRefuse(
                    f"{label} takes a {'whole ' if otype == 4 else ''}number, got {value!r}"
                )
            lo, hi = spec.get("min_value", -MAX_SAFE_INT), spec.get("max_value", MAX_SAFE_INT)
            if not lo <= value <= hi:
                raise ClientWouldRefuse(f"{label}: {value} outside [{lo}, {hi}]")
        elif otype == 5:
            if not isinstance(value, bool):
                raise ClientWouldRefuse(f"{label} takes True/False, got {value!r}")
        elif otype in (6, 9) and (
            isinstance(value, User) or (isinstance(value, int) and value in self.state.users)
        ):
            user = self.state.user(value)
            self._resolve_user(user, guild, channel, resolved)
            return str(user.id)
        elif otype in (8, 9):
            role = self._role(value, guild, label)
            resolved.roles[str(role.id)] = role.payload()
            return str(role.id)
        elif otype == 6:
            raise ClientWouldRefuse(f"{label}: unknown user {value!r}")
        elif otype == 7:
            ch = self._channel_option(value, guild, label)
            allowed = spec.get("channel_types")
            if allowed and ch.type not in allowed:
                raise ClientWouldRefuse(f"{label}: channel type {ch.type} not in {allowed}")
            perms = guild.channel_permissions(invoker.id, ch) if guild else Perm.BOT_DM
            resolved.channels[str(ch.id)] = ch.partial_payload(permissions=perms)
            return str(ch.id)
        elif otype == 11:
            upload = (
                value
                if isinstance(value, Upload)
                else Upload(*value)
                if isinstance(value, tuple)
                else None
            )
            if upload is None:
                raise ClientWouldRefuse(
                    f"{label} takes an Upload or (filename, bytes), got {value!r}"
                )
            if len(upload.data) > FILE_SIZE_MAX:
                raise ClientWouldRefuse(f"{label}: file larger than {FILE_SIZE_MAX} bytes")
            attachment = self._ephemeral_attachment(upload)
            resolved.attachments[attachment["id"]] = attachment
            return attachment["id"]
        else:
            raise ClientWouldRefuse(f"{label}: unsupported option type")
        choices = spec.get("choices")
        if choices and not partial and value not in [c["value"] for c in choices]:
            raise ClientWouldRefuse(
                f"{label}: {value!r} is not one of the choices {[c['value'] for c in choices]}"
            )
        return value

    def _ephemeral_attachment(self, upload: Upload) -> dict[str, Any]:
        """A user's upload, served by the stand-in like Discord's ephemeral-attachments CDN."""
        att_id = self.state.store_file(upload.filename, upload.data, upload.content_type)
        app = self.state.bot_user.id
        url = f"{self.http_base}/ephemeral-attachments/{app}/{att_id}/{upload.filename}"
        return {
            "id": str(att_id),
            "filename": upload.filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": upload.content_type,
            "ephemeral": True,
        }

    def _resolve_user(
        self, user: User, guild: Guild | None, channel: Channel, resolved: Resolved
    ) -> None:
        resolved.users[str(user.id)] = user.payload()
        if guild is not None:
            member = guild.member(user)
            if member is not None:
                resolved.members[str(user.id)] = member.payload(
                    permissions=guild.channel_permissions(user.id, channel), with_user=False
                )

    def _role(self, value: Any, guild: Guild | None, label: str) -> Role:
        if guild is None:
            raise ClientWouldRefuse(f"{label}: roles cannot be picked in DMs")
        try:
            return guild.role(value.id if isinstance(value, Role) else value)
        except KeyError as exc:
            raise ClientWouldRefuse(f"{label}: {exc}") from None

    def _channel_option(self, value: Any, guild: Guild | None, label: str) -> Channel:
        if guild is None:
            raise ClientWouldRefuse(f"{label}: channels cannot be picked in DMs")
        try:
            return guild.channel(value.id if isinstance(value, Channel) else value)
        except KeyError as exc:
            raise ClientWouldRefuse(f"{label}: {exc}") from None

    # -- components ------------------------------------------------------------------------------
    def component(
        self, user: User, message: StoredMessage, custom_id: str, values: list[Any] | None
    ) -> InteractionRecord:
        if message.deleted:
            raise ClientWouldRefuse(f"message {message.id} was deleted")
        channel = self.state.channels[message.channel_id]
        guild = self.state.guilds.get(channel.guild_id) if channel.guild_id else None
        if message.ephemeral and message.interaction_user_id != user.id:
            raise ClientWouldRefuse(f"{user.username} cannot see someone else's ephemeral message")
        if channel.is_dm and channel.recipient_id != user.id:
            raise ClientWouldRefuse(f"{user.username} cannot see another user's DM")
        if guild is not None:
            self._where(user, guild, channel)
        comp = message.component(custom_id)
        if comp is None:
            raise ClientWouldRefuse(
                f"message {message.id} has no component {custom_id!r} (has {message.custom_ids})"
            )
        if comp.get("disabled"):
            raise ClientWouldRefuse(f"component {custom_id!r} is disabled")
        ctype = comp["type"]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if comp.get("id") is not None:
            data["id"] = comp["id"]
        if ctype == 2:
            if comp.get("style") in (5, 6):
                raise ClientWouldRefuse(
                    f"button {custom_id!r} is a link/premium button; it sends no interaction"
                )
            if values:
                raise ClientWouldRefuse("buttons take no values")
        elif ctype in (3, 5, 6, 7, 8):
            chosen, resolved = self._select_values(comp, values or [], user, guild, channel)
            data["values"] = chosen
            if resolved.payload():
                data["resolved"] = resolved.payload()
        else:
            raise ClientWouldRefuse(f"component type {ctype} is not interactive")
        return self._record(3, user, guild, channel, data, message=message)

    def _select_values(
        self,
        comp: dict[str, Any],
        values: list[Any],
        invoker: User,
        guild: Guild | None,
        channel: Channel,
    ) -> tuple[list[str], Resolved]:
        lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
        if not lo <= len(values) <= hi:
            raise ClientWouldRefuse(
                f"select {comp.get('custom_id')!r} needs {lo}..{hi} values, got {len(values)}"
            )
        resolved = Resolved()
        out: list[str] = []
        ctype = comp["type"]
        if ctype == 3:
            allowed = [o["value"] for o in comp.get("options") or []]
            for v in values:
                if v not in allowed:
                    raise ClientWouldRefuse(
                        f"{v!r} is not an option of select {comp.get('custom_id')!r} ({allowed})"
                    )
                out.append(v)
            return out, resolved
        for v in values:
            if ctype in (5, 7) and (isinstance(v, User) or v in self.state.users):
                user = self.state.user(v)
                self._resolve_user(user, guild, channel, resolved)
                out.append(str(user.id))
            elif ctype in (6, 7):
                role = self._role(v, guild, "select")
                resolved.roles[str(role.id)] = role.payload()
                out.append(str(role.id))
            elif ctype == 8:
                ch = self._channel_option(v, guild, "select")
                perms = guild.channel_permissions(invoker.id, ch) if guild else None
                resolved.channels[str(ch.id)] = ch.partial_payload(permissions=perms)
                out.append(str(ch.id))
            else:
                raise ClientWouldRefuse(f"{v!r} cannot be picked in this select")
        return out, resolved

    # -- modals ----------------------------------------------------------------------------------
    def modal_submit(
        self, user: User, modal: ModalRecord, values: dict[str, Any]
    ) -> InteractionRecord:
        origin = modal.interaction
        channel = self.state.channels[origin.channel_id]
        guild = self.state.guilds.get(origin.guild_id) if origin.guild_id else None
        inputs = {c["custom_id"]: c for c in modal.inputs()}
        unknown = set(values) - set(inputs)
        if unknown:
            raise ClientWouldRefuse(
                f"modal {modal.custom_id!r} has no inputs {sorted(unknown)} (has {sorted(inputs)})"
            )
        resolved = Resolved()

        def answer(comp: dict[str, Any]) -> dict[str, Any]:
            cid = comp.get("custom_id")
            ctype = comp.get("type")
            out: dict[str, Any] = {"type": ctype}
            if comp.get("id") is not None:
                out["id"] = comp["id"]
            if ctype == 4:
                text = values.get(cid, comp.get("value") or "")
                if not isinstance(text, str):
                    raise ClientWouldRefuse(f"text input {cid!r} takes a string")
                required = comp.get("required", True)
                if required and not text:
                    raise ClientWouldRefuse(f"text input {cid!r} is required")
                lo, hi = comp.get("min_length") or 0, comp.get("max_length") or 4000
                if text and not lo <= len(text) <= hi:
                    raise ClientWouldRefuse(
                        f"text input {cid!r}: length {len(text)} outside [{lo}, {hi}]"
                    )
                out.update(custom_id=cid, value=text)
            elif ctype in (3, 5, 6, 7, 8):
                picked = values.get(cid, [])
                if not picked and not comp.get("required", True):
                    out.update(custom_id=cid, values=[])
                else:
                    chosen, res = self._select_values(comp, list(picked), user, guild, channel)
                    for key, val in res.payload().items():
                        getattr(resolved, key).update(val)
                    out.update(custom_id=cid, values=chosen)
            elif ctype == 19:
                files = values.get(cid, [])
                ids = []
                for f in files:
                    attachment = self._ephemeral_attachment(
                        f if isinstance(f, Upload) else Upload(*f)
                    )
                    resolved.attachments[attachment["id"]] = attachment
                    ids.append(attachment["id"])
                out.update(custom_id=cid, values=ids)
            return out

        components: list[dict[str, Any]] = []
        for top in modal.data.get("components") or []:
            if top.get("type") == 1:
                components.append(
                    {"type": 1, "components": [answer(c) for c in top.get("components") or []]}
                )
            elif top.get("type") == 18:
                entry: dict[str, Any] = {
                    "type": 18,
                    "component": answer(top.get("component") or {}),
                }
                if top.get("id") is not None:
                    entry["id"] = top["id"]
                components.append(entry)
            elif top.get("type") == 10:
                components.append(
                    {"type": 10, **({"id": top["id"]} if top.get("id") is not None else {})}
                )
        data: dict[str, Any] = {"custom_id": modal.custom_id, "components": components}
        if resolved.payload():
            data["resolved"] = resolved.payload()
        modal.submitted = True
        record = self._record(5, user, guild, channel, data, message=origin.source_message)
        return record
