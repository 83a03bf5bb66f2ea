"""One small async interface over SQLite (aiosqlite), MariaDB/MySQL (aiomysql) and PostgreSQL (asyncpg).

Queries are written once with ``?`` placeholders and translated to each driver's style; every
value travels as a parameter, never inside the SQL text.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import backoff

log = logging.getLogger("red.ir2dis.store")

Dialect = Literal["sqlite", "mysql", "postgresql"]
Params = Sequence[Any]
ACCEPTED_URLS = (
    "sqlite:///relative/path.db or sqlite:////absolute/path.db, "
    "mysql://user:password@host:3306/database (also mariadb://), "
    "postgresql://user:password@host:5432/database (also postgres://)"
)
_SCHEMES: dict[str, Dialect] = {
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgresql": "postgresql",
    "postgres": "postgresql",
}
# How long start-up keeps trying a database that does not answer, before a clear error.
CONNECT_MAX_SECONDS = 15.0


class DatabaseConfigError(ValueError):
    """DATABASE_URL cannot be used. The message never contains the URL's password."""


class DatabaseUnavailableError(ConnectionError):
    """The database did not answer within the bounded retry."""


@dataclass(frozen=True)
class DatabaseConfig:
    dialect: Dialect
    path: Path | None = None  # SQLite
    host: str = "127.0.0.1"
    port: int | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        where = str(self.path) if self.dialect == "sqlite" else f"{self.host}:{self.port}/{self.database}"
        return f"DatabaseConfig({self.dialect}, {where})"

    def describe(self) -> str:
        """Where the database is, for messages: never the password."""
        if self.dialect == "sqlite":
            return f"SQLite file {self.path}"
        return f"{self.dialect} database {self.database!r} at {self.host}:{self.port} as {self.user!r}"

    def yoyo_url(self) -> str:
        from urllib.parse import quote

        if self.dialect == "sqlite":
            return f"sqlite:///{self.path}"
        auth = quote(self.user or "", safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        scheme = "mysql" if self.dialect == "mysql" else "postgresql+psycopg"
        return f"{scheme}://{auth}@{self.host}:{self.port}/{quote(self.database or '', safe='')}"


def parse_database_url(url: str, *, data_dir: Path) -> DatabaseConfig:
    """Read DATABASE_URL. Errors name the accepted schemes and never echo the URL."""
    text = (url or "").strip()
    if not text:
        return DatabaseConfig("sqlite", path=data_dir / "ir2dis.sqlite3")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise DatabaseConfigError(f"DATABASE_URL is malformed. Accepted forms: {ACCEPTED_URLS}") from None
    scheme = parts.scheme.split("+", 1)[0].lower()
    dialect = _SCHEMES.get(scheme)
    if dialect is None:
        shown = scheme if scheme.isalnum() and len(scheme) < 20 else "?"
        raise DatabaseConfigError(f"DATABASE_URL has an unknown scheme {shown!r}. Accepted forms: {ACCEPTED_URLS}")
    if dialect == "sqlite":
        raw_path = unquote(parts.path)
        # sqlite:///rel.db -> "/rel.db" (relative); sqlite:////abs.db -> "//abs.db" (absolute).
        if raw_path.startswith("//"):
            path = Path(raw_path[1:])
        elif raw_path.startswith("/"):
            path = Path(raw_path[1:]) if raw_path[1:] else data_dir / "ir2dis.sqlite3"
        else:
            path = data_dir / "ir2dis.sqlite3"
        if parts.netloc:
            raise DatabaseConfigError(f"DATABASE_URL for SQLite takes no host; accepted forms: {ACCEPTED_URLS}")
        return DatabaseConfig("sqlite", path=path)
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not database or "/" in database:
        raise DatabaseConfigError(
            f"DATABASE_URL for {dialect} needs a host and a database name. Accepted forms: {ACCEPTED_URLS}"
        )
    options = tuple((k, v[-1]) for k, v in parse_qs(parts.query).items())
    return DatabaseConfig(
        dialect,
        host=parts.hostname,
        port=port or (3306 if dialect == "mysql" else 5432),
        user=unquote(parts.username) if parts.username else ("root" if dialect == "mysql" else "postgres"),
        password=unquote(parts.password) if parts.password is not None else None,
        database=database,
        options=options,
    )


@functools.lru_cache(maxsize=512)
def _translate(sql: str, dialect: Dialect) -> str:
    """Turn ``?`` placeholders into the driver's style (no ``?`` ever appears in our SQL text)."""
    if dialect == "sqlite":
        return sql
    if dialect == "mysql":
        return sql.replace("%", "%%").replace("?", "%s")
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _m: f"${next(counter)}", sql)


class Database(ABC):
    """The few operations the repositories need. Each call is one atomic statement."""

    dialect: Dialect
    config: DatabaseConfig

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return row[0] if row else None

    @abstractmethod
    async def close(self) -> None: ...

    def insert_ignore(self, table: str, columns: Sequence[str]) -> str:
        """An INSERT that does nothing when the primary key exists; its rowcount tells who won."""
        cols = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        if self.dialect == "mysql":
            # Not INSERT IGNORE: that also swallows real errors and makes aiomysql warn on every lost
            # claim. A no-op update affects 0 rows, so the rowcount still tells who won.
            first = columns[0]
            return f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {first} = {first}"  # noqa: S608
        return f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING"  # noqa: S608


class SQLiteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(self, config: DatabaseConfig, conn: Any) -> None:
        self.config = config
        self._conn = conn
        # One connection: statements are serialised by aiosqlite's thread; the lock keeps a
        # statement and its cursor read together.
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, config: DatabaseConfig) -> SQLiteDatabase:
        import aiosqlite

        assert config.path is not None
        config.path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(config.path), isolation_level=None, timeout=30)
        try:
            # Switching to WAL needs a moment alone with the file; another process migrating
            # answers "database is locked", which connect() retries.
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA busy_timeout=30000")
            await conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            # An unclosed aiosqlite connection keeps its thread, and the process, alive.
            await conn.close()
            raise
        return cls(config, conn)

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self._lock:
            cursor = await self._conn.execute(sql, tuple(params))
            count = cursor.rowcount
            await cursor.close()
            return int(count)

    async def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        async with self._lock:
            cursor = await self._conn.execute(sql, tuple(params))
            rows = await cursor.fetchall()
            await cursor.close()
            return [tuple(r) for r in rows]

    async def close(self) -> None:
        await self._conn.close()


class MySQLDatabase(Database):
    dialect: Dialect = "mysql"

    def __init__(self, config: DatabaseConfig, pool: Any) -> None:
        self.config = config
        self._pool = pool

    @classmethod
    async def connect(cls, config: DatabaseConfig) -> MySQLDatabase:
        import aiomysql

        pool = await aiomysql.create_pool(
            host=config.host,
            port=config.port or 3306,
            user=config.user,
            password=config.password or "",
            db=config.database,
            autocommit=True,
            minsize=1,
            maxsize=8,
            charset="utf8mb4",
            connect_timeout=5,
            pool_recycle=3600,
        )
        return cls(config, pool)

    async def execute(self, sql: str, params: Params = ()) -> int:
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(_translate(sql, "mysql"), tuple(params))
            return int(cur.rowcount)

    async def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(_translate(sql, "mysql"), tuple(params))
            return [tuple(r) for r in await cur.fetchall()]

    async def close(self) -> None:
        self._pool.close()
        await self._pool.wait_closed()


class PostgresDatabase(Database):
    dialect: Dialect = "postgresql"

    def __init__(self, config: DatabaseConfig, pool: Any) -> None:
        self.config = config
        self._pool = pool

    @classmethod
    async def connect(cls, config: DatabaseConfig) -> PostgresDatabase:
        import asyncpg

        pool = await asyncpg.create_pool(
            host=config.host,
            port=config.port or 5432,
            user=config.user,
            password=config.password,
            database=config.database,
            min_size=1,
            max_size=8,
            timeout=5,
            server_settings=dict(config.options) or None,
        )
        return cls(config, pool)

    async def execute(self, sql: str, params: Params = ()) -> int:
        status: str = await self._pool.execute(_translate(sql, "postgresql"), *params)
        # asyncpg answers with the command tag: "INSERT 0 1", "UPDATE 3", "DELETE 0".
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def fetchall(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        rows = await self._pool.fetch(_translate(sql, "postgresql"), *params)
        return [tuple(r) for r in rows]

    async def close(self) -> None:
        await self._pool.close()


_DRIVERS: dict[Dialect, type[SQLiteDatabase] | type[MySQLDatabase] | type[PostgresDatabase]] = {
    "sqlite": SQLiteDatabase,
    "mysql": MySQLDatabase,
    "postgresql": PostgresDatabase,
}


# "Can't connect", "server has gone away", "lost connection": worth another try.
_MYSQL_TRANSIENT = {(2002,), (2003,), (2006,), (2013,)}


# The modules each server database needs, and the packages that hold them. SQLite needs none beyond
# the standard library and aiosqlite; the others are optional for a Red cog (most owners use SQLite).
DRIVER_PACKAGES: dict[str, tuple[tuple[str, str], ...]] = {
    "mysql": (("aiomysql", "aiomysql"), ("pymysql", "PyMySQL")),
    "postgresql": (("asyncpg", "asyncpg"), ("psycopg", "psycopg[binary]")),
}


def missing_driver_packages(dialect: str) -> list[str]:
    """The packages to install before this kind of database can be used ([] when ready)."""
    return [package for module, package in DRIVER_PACKAGES.get(dialect, ()) if not _importable(module)]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _scrub(text: str, config: DatabaseConfig) -> str:
    return text.replace(config.password, "********") if config.password else text


async def connect(config: DatabaseConfig, *, max_seconds: float = CONNECT_MAX_SECONDS) -> Database:
    """Open the pool, retrying briefly (a database container may still be starting)."""
    driver = _DRIVERS[config.dialect]
    missing = missing_driver_packages(config.dialect)
    if missing:
        packages = " ".join(missing)
        raise DatabaseConfigError(
            f"DATABASE_URL asks for a {config.dialect} database, whose drivers are not installed: {packages}. "
            f"Install them (in a Red bot: `[p]pipinstall {packages}`, then reload the cog)."
        )
    retry_on: tuple[type[Exception], ...] = (OSError, ConnectionError, asyncio.TimeoutError, sqlite3.OperationalError)
    mysql_error: type[Exception] | None = None
    if config.dialect == "mysql":
        import pymysql

        mysql_error = pymysql.err.OperationalError
        retry_on = (*retry_on, mysql_error)

    def _give_up(details: Any) -> None:
        log.warning("database not reachable after %d tries", details["tries"])

    def _not_transient(exc: Exception) -> bool:
        if isinstance(exc, sqlite3.OperationalError):
            return "locked" not in str(exc) and "busy" not in str(exc)
        # MySQL reports "cannot connect" and "wrong password" with one exception class.
        return mysql_error is not None and isinstance(exc, mysql_error) and exc.args[:1] not in _MYSQL_TRANSIENT

    @backoff.on_exception(
        backoff.expo,
        retry_on,
        max_time=max_seconds,
        max_value=3,
        giveup=_not_transient,
        on_giveup=_give_up,
    )
    async def _open() -> Database:
        return await driver.connect(config)

    try:
        return await _open()
    except Exception as exc:
        # Driver messages may quote connection details; the password never leaves this function.
        reason = _scrub(f"{type(exc).__name__}: {exc}", config)
        raise DatabaseUnavailableError(f"Could not connect to the {config.describe()}: {reason}") from None
