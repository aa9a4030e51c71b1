"""The command line as a user meets it: a real subprocess each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        cwd=cwd or ROOT,
        timeout=120,
    )


def test_without_a_token_it_explains_how_to_get_one(tmp_path: Path) -> None:
    result = run(cwd=tmp_path)
    assert result.returncode != 0
    assert "DISCORD_TOKEN" in result.stderr and "developers/applications" in result.stderr


def test_check_config_never_prints_the_token(tmp_path: Path) -> None:
    result = run("check-config", env={"DISCORD_TOKEN": "secret-token-value"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "secret-token-value" not in result.stdout + result.stderr
    assert "DISCORD_TOKEN=set" in result.stdout


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    result = run("db", "upgrade", env={"DATABASE_URL": f"sqlite+aiosqlite:///{db}"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert db.exists()


def test_demo_runs_the_walkthrough_offline(tmp_path: Path) -> None:
    result = run("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "[DM → user 1001]" in out and "[DM → user 1002]" in out
    assert "Vintage Leather Gaming Chair" in out and "$299.99" in out
    assert "✅ price: $299.99 is within $100.00–$350.00" in out
    assert "2 alerts delivered." in out
    assert not list(tmp_path.glob("*.db")), "the demo database is thrown away"
