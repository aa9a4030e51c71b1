from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.services import Services, build_services
from tests.dbutil import BACKENDS, database_url
from tests.fakes import RecordingSender


@pytest.fixture(params=BACKENDS)
async def env(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Services, dict[str, RecordingSender]]]:
    async with database_url(request.param, tmp_path) as url:
        senders = {"dm": RecordingSender("dm"), "channel": RecordingSender("channel")}
        settings = Settings(database_url=url, discord_token=None, _env_file=None)
        services = await build_services(settings, lambda _s: (dict(senders), None))
        try:
            yield services, senders
        finally:
            await services.close()
