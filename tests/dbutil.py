"""Test databases: a fresh SQLite file, or a fresh PostgreSQL database when
DEALSCOUT_TEST_PG_URL is set (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from db.session import make_engine

PG_URL = os.environ.get("DEALSCOUT_TEST_PG_URL")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.pg,
            pytest.mark.skipif(not PG_URL, reason="set DEALSCOUT_TEST_PG_URL to run on PostgreSQL"),
        ],
    ),
]


@asynccontextmanager
async def database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """Yield the URL of an empty database of ``backend`` that is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    assert PG_URL is not None
    name = f"dealscout_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    async with admin.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
