"""The bot's small HTTP side: one-click unsubscribe links from emails, and a health check.

GET never changes anything (mail scanners and link previews fetch links); it shows a page with a
button. POST unsubscribes: either that button, or a mail client's RFC 8058 one-click request
(``List-Unsubscribe=One-Click`` posted to the link). The token in the link is the proof, so no
login is needed; it is never written to the access log.
"""

from __future__ import annotations

import html
import logging
from string import Template
from urllib.parse import quote

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.security import BadSignature, user_from_unsubscribe_token
from db.repositories.preferences import PreferencesRepository

log = logging.getLogger(__name__)

SESSIONS_KEY: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessions")
SECRET_KEY: web.AppKey[str] = web.AppKey("secret")
MAX_TOKEN_LENGTH = 512

_PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;max-width:36rem;margin:3rem auto;
padding:0 1rem;line-height:1.5;color:#1f2328;">
<h1 style="font-size:1.5rem;">$title</h1>
$body
</body>
</html>
""")

_HEADERS = {
    # The token is in the URL: keep it out of caches and Referer headers.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}


def page(title: str, body_html: str, status: int = 200) -> web.Response:
    """An HTML response; ``body_html`` must already be escaped."""
    text = _PAGE.substitute(title=html.escape(title), body=body_html)
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8", headers=_HEADERS
    )


def invalid_link() -> web.Response:
    return page(
        "This link does not work",
        "<p>The unsubscribe link is incomplete, was changed, or is too old. To stop emails, "
        "run <code>/prefs email remove</code> on Discord.</p>",
        status=400,
    )


def _user(request: web.Request, token: str | None) -> int | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        return user_from_unsubscribe_token(token, request.app[SECRET_KEY])
    except BadSignature:
        return None


async def unsubscribe_form(request: web.Request) -> web.Response:
    """GET: confirm first, so a prefetching mail scanner cannot unsubscribe anyone."""
    token = request.query.get("token")
    if _user(request, token) is None:
        return invalid_link()
    assert token is not None
    # Relative to this page, so it also works behind a proxy that serves us under a prefix.
    action = html.escape(f"?token={quote(token, safe='')}", quote=True)
    return page(
        "Unsubscribe from Deal Scout emails?",
        f'<form method="post" action="{action}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit" style="font-size:1rem;padding:.5rem 1rem;">'
        "Unsubscribe</button></form>"
        "<p>Your alerts on Discord are not affected.</p>",
    )


async def unsubscribe(request: web.Request) -> web.Response:
    """POST: turn email off for the token's user. Only ``email_verified`` changes, so the address
    stays visible to the user in Discord and can be re-verified; repeating it is harmless."""
    form = await request.post()
    token = request.query.get("token")
    if not token:
        field = form.get("token")
        token = field if isinstance(field, str) else None
    user_id = _user(request, token)
    if user_id is None:
        return invalid_link()
    async with request.app[SESSIONS_KEY].begin() as session:
        prefs = await PreferencesRepository(session).get(user_id)
        if prefs is not None:
            prefs.email_verified = False
    log.info("user %s unsubscribed from email", user_id)
    return page(
        "Unsubscribed",
        "<p>You will get no more emails from Deal Scout.</p>"
        "<p>To get them again, verify your address with <code>/prefs email set</code> "
        "on Discord.</p>",
    )


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def build_web_app(sessions: async_sessionmaker[AsyncSession], secret: str) -> web.Application:
    """The application; serve it with :func:`start_web` (or aiohttp's test client)."""
    app = web.Application(client_max_size=64 * 1024)
    app[SESSIONS_KEY] = sessions
    app[SECRET_KEY] = secret
    app.router.add_get("/unsubscribe", unsubscribe_form)
    app.router.add_post("/unsubscribe", unsubscribe)
    app.router.add_get("/healthz", healthz)
    return app


class PathOnlyAccessLogger(AbstractAccessLogger):
    """Access log lines without the query string, where the unsubscribe token lives."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %d %.1fms",
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )


async def start_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve ``app`` on ``host:port`` (port 0 picks a free one; see ``runner.addresses``).
    The caller keeps the runner and calls ``await runner.cleanup()`` at shutdown."""
    runner = web.AppRunner(app, access_log_class=PathOnlyAccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("web server listening on %s", runner.addresses)
    return runner
