"""Migrations upgrade a database that already holds data (a real user's upgrade path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from db.migrate import upgrade
from db.session import make_engine
from tests.dbutil import BACKENDS, database_url


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_revision_upgrades_a_populated_database(backend: str, tmp_path: Path) -> None:
    async with database_url(backend, tmp_path, migrated=False) as url:
        engine = make_engine(url)
        try:
            await upgrade(engine, "0001")
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO rules (user_id, name, name_key, keywords, exclude, currency,"
                        " categories, channels, active, created_at, updated_at) VALUES (1, 'A',"
                        " 'a', '[\"chair\"]', '[]', 'USD', '[]', '[\"dm\"]', true,"
                        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    )
                )
            await upgrade(engine, "0002")
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO preferences (user_id, channels, frequency, daily_limit,"
                        " digest_time, digest_day, categories, language, paused, stopped,"
                        " email_verified, timezone_tip_sent, updated_at) VALUES (1, '[\"dm\"]',"
                        " 'immediate', 10, '09:00', 0, '[]', 'en', false, false, false, false,"
                        " CURRENT_TIMESTAMP)"
                    )
                )
            await upgrade(engine)
            async with engine.connect() as conn:
                row = (
                    await conn.execute(
                        text("SELECT phone_verified, channel_order FROM preferences")
                    )
                ).one()
                rules = (await conn.execute(text("SELECT count(*) FROM rules"))).scalar_one()
            assert not row[0] and row[1] in ("[]", [])
            assert rules == 1
        finally:
            await engine.dispose()
