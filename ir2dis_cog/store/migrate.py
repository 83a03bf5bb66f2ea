"""yoyo migrations: applied at start, a no-op when up to date, safe with two processes at once."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from .database import DatabaseConfig

log = logging.getLogger("red.ir2dis.store")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# yoyo's own lock (a row in its lock table) makes a second process wait; this bounds the wait.
LOCK_TIMEOUT_SECONDS = 60


def _apply(config: DatabaseConfig, upto: str | None) -> list[str]:
    from yoyo import get_backend, read_migrations

    backend = get_backend(config.yoyo_url())
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        if upto is not None:
            migrations = migrations.filter(lambda m: m.id <= upto)
        # What to apply is decided inside the lock, so a second process sees the first one's work.
        with backend.lock(timeout=LOCK_TIMEOUT_SECONDS):
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
            return [m.id for m in pending]
    finally:
        backend.connection.close()


async def apply_migrations(config: DatabaseConfig, *, upto: str | None = None) -> list[str]:
    """Bring the schema up to date (or up to the migration ``upto``); returns what was applied."""
    applied = await asyncio.to_thread(_apply, config, upto)
    if applied:
        log.info("database migrations applied: %s", ", ".join(applied))
    return applied
