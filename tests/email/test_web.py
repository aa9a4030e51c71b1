"""The unsubscribe pages and the health check."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.security import sign, unsubscribe_token
from bot.web import build_web_app, start_web
from db.models import utcnow
from db.repositories.preferences import PreferencesRepository
from tests.email.conftest import SECRET, set_verified_email

USER = 5150
ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def client(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_web_app(sessions, SECRET))) as test_client:
        yield test_client


async def is_verified(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        prefs = await PreferencesRepository(session).get(USER)
        assert prefs is not None
        return prefs.email_verified


async def test_get_shows_a_confirm_button_and_changes_nothing(
    client: TestClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await set_verified_email(sessions, USER, "u@example.com")
    token = unsubscribe_token(USER, SECRET)
    response = await client.get("/unsubscribe", params={"token": token})
    assert response.status == 200
    body = await response.text()
    assert f'<form method="post" action="?token={token}">' in body
    assert "<button" in body
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert await is_verified(sessions)

    # The confirm button (an ordinary form post) unsubscribes.
    response = await client.post(
        f"/unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status == 200
    assert "You will get no more emails from Deal Scout" in await response.text()
    assert not await is_verified(sessions)


def bad_tokens() -> dict[str, str]:
    return {
        "empty": "",
        "garbage": "garbage",
        "wrong secret": unsubscribe_token(USER, "another secret"),
        "wrong purpose": sign("login", str(USER), SECRET),
        "expired": unsubscribe_token(USER, SECRET, now=utcnow() - timedelta(days=400)),
        "huge": "x" * 5000,
    }


async def test_bad_tokens_get_a_400_page_and_change_nothing(
    client: TestClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await set_verified_email(sessions, USER, "u@example.com")
    for name, token in bad_tokens().items():
        for method in ("GET", "POST"):
            response = await client.request(
                method,
                "/unsubscribe",
                params={"token": token},
                data="List-Unsubscribe=One-Click",
                headers=ONE_CLICK,
            )
            assert response.status == 400, (name, method)
            assert "This link does not work" in await response.text()
    assert await is_verified(sessions)


async def test_one_click_is_idempotent_and_works_without_preferences(
    client: TestClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    token = unsubscribe_token(USER + 1, SECRET)
    for _ in range(2):
        response = await client.post(
            f"/unsubscribe?token={token}", data="List-Unsubscribe=One-Click", headers=ONE_CLICK
        )
        assert response.status == 200


async def test_healthz(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200 and await response.text() == "ok"


async def test_start_web_serves_and_keeps_tokens_out_of_the_access_log(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    await set_verified_email(sessions, USER, "u@example.com")
    runner = await start_web(build_web_app(sessions, SECRET), "127.0.0.1", 0)
    try:
        host, port = runner.addresses[0][:2]
        token = unsubscribe_token(USER, SECRET)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://{host}:{port}/healthz") as response:
                assert response.status == 200
            async with http.post(
                f"http://{host}:{port}/unsubscribe?token={token}",
                data="List-Unsubscribe=One-Click",
                headers=ONE_CLICK,
            ) as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
    assert not await is_verified(sessions)
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("POST /unsubscribe 200" in line for line in access), access
    assert token not in caplog.text
