"""A local stand-in for the part of Twilio's REST API the bot uses: creating a Message.

The real ``twilio`` client is pointed at it (``TWILIO_API_BASE``), so the tests exercise the
library's own request building, Basic auth, form encoding and error parsing. It answers like
Twilio does (``POST /2010-04-01/Accounts/{Sid}/Messages.json``, 201 with the message resource;
errors as ``{code, message, more_info, status}``), enforces what Twilio enforces (auth, a To,
exactly one of From or MessagingServiceSid, a Body of at most 1,600 characters) and can be told
to fail: ``opt_out(number)`` (21610), ``not_mobile(number)`` (21614), ``fail_next(...)`` for any
error, ``inject_429`` and ``inject_500``.

It logs nothing of what it receives: the bot's tests check that phone numbers never reach a log.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "standin-auth-token"
FROM_NUMBER = "+15005550006"
MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2
API_VERSION = "2010-04-01"
BODY_LIMIT = 1600

# A tiny independent GSM-7 check (not the bot's), so num_segments is a second opinion.
_GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("\f^{}\\[~]|€")

ERRORS: dict[int, tuple[int, str]] = {
    20003: (401, "Authenticate"),
    20404: (404, "The requested resource was not found"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    21211: (400, "Invalid 'To' Phone Number"),
    21602: (400, "Message body is required."),
    21604: (400, "A 'To' phone number is required."),
    21603: (400, "A 'From' or 'MessagingServiceSid' parameter is required to send a message"),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    21617: (400, "The concatenated message body exceeds the 1600 character limit."),
}


def num_segments(body: str) -> int:
    if all(ch in _GSM or ch in _GSM_EXT for ch in body):
        units = sum(2 if ch in _GSM_EXT else 1 for ch in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else -(-units // multi)


@dataclass
class SentMessage:
    """A message the stand-in accepted (status "queued")."""

    sid: str
    to: str
    body: str
    from_: str | None
    messaging_service_sid: str | None
    num_segments: int


@dataclass
class Failure:
    status: int
    code: int | None
    message: str
    retry_after: str | None = None
    to: str | None = None  # only for this number (None: any)


@dataclass
class RequestRecord:
    method: str
    path: str
    authorized: bool
    content_type: str
    status: int = 0


@dataclass
class TwilioStandin:
    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    messages: list[SentMessage] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)
    landlines: set[str] = field(default_factory=set)
    _failures: deque[Failure] = field(default_factory=deque)
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None
    _sids: itertools.count[int] = field(default_factory=itertools.count)
    port: int = 0

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create_message)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.messages.clear()
        self.requests.clear()
        self.opted_out.clear()
        self.landlines.clear()
        self._failures.clear()

    # ---- fault injection -------------------------------------------------------------------

    def opt_out(self, number: str) -> None:
        """The number replied STOP: every message to it fails with 21610 until reset."""
        self.opted_out.add(number)

    def not_mobile(self, number: str) -> None:
        """The number is a landline: every message to it fails with 21614."""
        self.landlines.add(number)

    def fail_next(
        self,
        code: int,
        *,
        count: int = 1,
        status: int | None = None,
        message: str | None = None,
        retry_after: str | None = None,
        to: str | None = None,
    ) -> None:
        """The next ``count`` message requests (to ``to``, if given) fail with Twilio error
        ``code`` (the HTTP status and message default to Twilio's for that code)."""
        default_status, default_message = ERRORS.get(code, (400, "Error"))
        for _ in range(count):
            self._failures.append(
                Failure(
                    status or default_status,
                    code,
                    message or default_message,
                    retry_after,
                    to,
                )
            )

    def inject_429(self, count: int = 1, retry_after: str | None = "7") -> None:
        self.fail_next(20429, count=count, retry_after=retry_after)

    def inject_500(self, count: int = 1) -> None:
        self.fail_next(20500, count=count)

    # ---- observations ----------------------------------------------------------------------

    def to(self, number: str) -> list[SentMessage]:
        return [m for m in self.messages if m.to == number]

    def last_to(self, number: str) -> SentMessage:
        sent = self.to(number)
        assert sent, f"no message reached {number[:2]}…{number[-2:]}"
        return sent[-1]

    # ---- the API ---------------------------------------------------------------------------

    def _error(
        self, code: int | None, message: str, status: int, retry_after: str | None = None
    ) -> web.Response:
        body: dict[str, Any] = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        headers = {"Retry-After": retry_after} if retry_after is not None else None
        return web.json_response(body, status=status, headers=headers)

    def _authorized(self, request: web.Request, sid: str) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (
            secrets.compare_digest(user, self.account_sid)
            and secrets.compare_digest(password, self.auth_token)
            and sid == self.account_sid
        )

    async def _unknown(self, request: web.Request) -> web.Response:
        self.requests.append(RequestRecord(request.method, request.path, False, "", 404))
        return self._error(20404, "The requested resource was not found", 404)

    async def _create_message(self, request: web.Request) -> web.Response:
        record = RequestRecord(
            request.method,
            request.path,
            self._authorized(request, request.match_info["sid"]),
            request.content_type,
        )
        self.requests.append(record)
        response = await self._answer(request, record)
        record.status = response.status
        return response

    async def _answer(self, request: web.Request, record: RequestRecord) -> web.Response:
        if not record.authorized:
            return self._error(20003, "Authenticate", 401)
        if record.content_type != "application/x-www-form-urlencoded":
            return self._error(21602, "Message body is required.", 400)
        form = await request.post()
        to = str(form.get("To") or "")
        body = str(form.get("Body") or "")
        from_ = form.get("From")
        service = form.get("MessagingServiceSid")
        failure = self._take_failure(to)
        if failure is not None:
            return self._error(failure.code, failure.message, failure.status, failure.retry_after)
        if not to:
            return self._error(21604, ERRORS[21604][1], 400)
        if not to.startswith("+") or not to[1:].isdigit():
            return self._error(21211, ERRORS[21211][1], 400)
        if not from_ and not service:
            return self._error(21603, ERRORS[21603][1], 400)
        if not body:
            return self._error(21602, ERRORS[21602][1], 400)
        if len(body) > BODY_LIMIT:
            return self._error(21617, ERRORS[21617][1], 400)
        if to in self.opted_out:
            return self._error(21610, ERRORS[21610][1], 400)
        if to in self.landlines:
            return self._error(21614, ERRORS[21614][1], 400)
        sid = f"SM{next(self._sids):032x}"
        message = SentMessage(
            sid=sid,
            to=to,
            body=body,
            from_=str(from_) if from_ else None,
            messaging_service_sid=str(service) if service else None,
            num_segments=num_segments(body),
        )
        self.messages.append(message)
        now = format_datetime(datetime.now(UTC), usegmt=True)
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        resource = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": message.from_,
            "messaging_service_sid": message.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(message.num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if message.from_ else "accepted",
            "subresource_uris": {"media": f"{path}/Media.json"},
            "to": to,
            "uri": f"{path}.json",
        }
        return web.Response(text=json.dumps(resource), status=201, content_type="application/json")

    def _take_failure(self, to: str) -> Failure | None:
        for failure in list(self._failures):
            if failure.to is None or failure.to == to:
                self._failures.remove(failure)
                return failure
        return None
