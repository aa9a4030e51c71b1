from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cogs.harness import Harness


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    """A running bot with every cog loaded; after the test, every reply it made must have been
    ephemeral and unable to ping anyone (marketplace posts and alerts go through REST, not here)."""
    async with Harness.running(tmp_path) as harness:
        yield harness
        harness.assert_replies_private()
