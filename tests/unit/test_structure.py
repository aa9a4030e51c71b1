"""Structural rules of the codebase that reviews would otherwise have to catch."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_DOMAIN = {"discord", "sqlalchemy", "aiohttp", "db", "cogs", "asyncpg", "aiosqlite"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_is_pure() -> None:
    for path in (ROOT / "bot" / "domain").glob("*.py"):
        assert not imported_roots(path) & FORBIDDEN_IN_DOMAIN, path.name


def test_cogs_build_no_sql() -> None:
    for path in (ROOT / "cogs").rglob("*.py"):
        assert "sqlalchemy" not in imported_roots(path), path.name
        assert "db" not in imported_roots(path), path.name


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    fields = set(Settings.env_names())
    assert fields <= documented, fields - documented


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = {n for n in Settings.env_names() if f"`{n}`" not in readme}
    assert not missing, missing
