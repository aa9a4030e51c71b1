"""Run the real bot (`python -m bot`) as a subprocess against the Discord stand-in.

The bot reaches the stand-in only through its documented settings (DISCORD_API_BASE,
DISCORD_GATEWAY_URL); nothing in the bot knows it is being tested.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


class WallClock:
    """Moves the bot process's wall clock (libfaketime reads this file on every call); its
    monotonic clock stays real, so timers, heartbeats and rate limits are unaffected."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0.0
        self._write()

    def _write(self) -> None:
        self.path.write_text(f"{self.offset:+.0f}\n")

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self._write()

    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": str(FAKETIME_LIB),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",
            "DONT_FAKE_MONOTONIC": "1",
        }


class BotProcess:
    """One bot process at a time, restartable, with its log kept for failure messages."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.workdir = workdir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))},
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bot.db'}",
            "DISPATCH_IDLE_SECONDS": "0.5",
            "LOG_LEVEL": "INFO",
            **env,
        }
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"bot-{self.starts}.log"

    async def run_cli(self, *args: str, timeout: float = 60) -> str:
        """Run a one-shot CLI command (e.g. sync-commands) and return its output."""
        with open(self.workdir / "cli.log", "ab") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", *args,
                env=self.env, cwd=self.workdir, stdout=asyncio.subprocess.PIPE, stderr=log,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"`python -m bot {' '.join(args)}` failed: {self.tail('cli.log')}")
        return out.decode()

    async def start(self) -> None:
        assert self.proc is None or self.proc.returncode is not None, "already running"
        self.starts += 1
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child keeps it; closed below
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot",
            env=self.env, cwd=self.workdir, stdout=log, stderr=log,
        )  # fmt: skip
        log.close()

    async def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, exactly like a crash."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                await self.kill()

    def tail(self, name: str | None = None, lines: int = 60) -> str:
        path = self.workdir / name if name else self.log_path
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def assert_alive(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            raise AssertionError(f"the bot process exited:\n{self.tail()}")
