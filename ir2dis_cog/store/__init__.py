"""The store: SQLite, MariaDB/MySQL or PostgreSQL behind one small async interface."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .choices_repo import ChoicesRepo
from .copies_repo import CopyRepo, CopyRow
from .database import (
    Database,
    DatabaseConfig,
    DatabaseConfigError,
    DatabaseUnavailableError,
    connect,
    parse_database_url,
)
from .digests_repo import DigestRepo
from .leagues_repo import HostedWatch, HostedWatchRepo, LeagueFollow, LeagueFollowRepo, RaceKindsRepo
from .links_repo import LinkRepo, LinkTakenError, MemberLink
from .migrate import apply_migrations
from .notices_repo import LiveNoticeRepo
from .pending_repo import PendingRaceRepo
from .posts_repo import PostRepo
from .repo import (
    AuthStateRepo,
    GuildRepo,
    InvalidIdError,
    LastSeenRepo,
    TrackedDriverRepo,
    validate_id,
)
from .work_lease import AccountAuthStateRepo, LeaseRow, WorkLeaseRepo

__all__ = [
    "CopyRow",
    "Database",
    "DatabaseConfig",
    "DatabaseConfigError",
    "DatabaseUnavailableError",
    "HostedWatch",
    "InvalidIdError",
    "LeagueFollow",
    "LeaseRow",
    "LinkTakenError",
    "MemberLink",
    "Store",
    "open_store",
    "parse_database_url",
    "validate_id",
]


@dataclass(eq=False)
class Store:
    db: Database
    guilds: GuildRepo
    drivers: TrackedDriverRepo
    last_seen: LastSeenRepo
    posts: PostRepo
    auth_state: AuthStateRepo
    hosted: HostedWatchRepo
    leagues: LeagueFollowRepo
    race_kinds: RaceKindsRepo
    choices: ChoicesRepo
    copies: CopyRepo
    links: LinkRepo
    digest: DigestRepo
    live_notices: LiveNoticeRepo
    work: WorkLeaseRepo
    account_auth: AccountAuthStateRepo
    pending: PendingRaceRepo

    @property
    def dialect(self) -> str:
        return self.db.dialect

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            return bool(await self.db.fetchval("SELECT 1") == 1)
        except Exception:
            return False

    async def close(self) -> None:
        await self.db.close()


async def open_store(
    url: str,
    *,
    data_dir: Path,
    migrate: bool = True,
    connect_max_seconds: float | None = None,
    clock: Callable[[], float] = time.time,
) -> Store:
    """Connect (bounded retry), run the migrations, and hand out the repositories."""
    config = parse_database_url(url, data_dir=data_dir)
    kwargs = {} if connect_max_seconds is None else {"max_seconds": connect_max_seconds}
    db = await connect(config, **kwargs)
    try:
        if migrate:
            await apply_migrations(config)
    except BaseException:
        await db.close()
        raise
    return Store(
        db=db,
        guilds=GuildRepo(db),
        drivers=TrackedDriverRepo(db),
        last_seen=LastSeenRepo(db),
        posts=PostRepo(db),
        auth_state=AuthStateRepo(db, clock=clock),
        hosted=HostedWatchRepo(db),
        leagues=LeagueFollowRepo(db),
        race_kinds=RaceKindsRepo(db),
        choices=ChoicesRepo(db),
        copies=CopyRepo(db),
        links=LinkRepo(db),
        digest=DigestRepo(db),
        live_notices=LiveNoticeRepo(db),
        work=WorkLeaseRepo(db),
        account_auth=AccountAuthStateRepo(db, clock=clock),
        pending=PendingRaceRepo(db),
    )
