"""DATABASE_URL handling and an unreachable database: clear errors, no password echoed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ir2dis_cog.store import DatabaseConfigError, DatabaseUnavailableError, database, open_store, parse_database_url

PASSWORD = "s3cr3t-Pa55word"


def test_default_is_sqlite_under_the_data_folder(tmp_path: Path) -> None:
    config = parse_database_url("", data_dir=tmp_path)
    assert config.dialect == "sqlite" and config.path == tmp_path / "ir2dis.sqlite3"


@pytest.mark.parametrize(
    ("url", "dialect", "where"),
    [
        ("sqlite:///data/bot.db", "sqlite", Path("data/bot.db")),
        ("sqlite:////var/lib/bot.db", "sqlite", Path("/var/lib/bot.db")),
        (f"mysql://bot:{PASSWORD}@db.example:3307/results", "mysql", ("db.example", 3307, "results")),
        (f"mariadb://bot:{PASSWORD}@db/results", "mysql", ("db", 3306, "results")),
        (f"postgresql://bot:{PASSWORD}@pg/results", "postgresql", ("pg", 5432, "results")),
        ("postgres://bot@pg:6543/results", "postgresql", ("pg", 6543, "results")),
    ],
)
def test_accepted_urls(url: str, dialect: str, where: object, tmp_path: Path) -> None:
    config = parse_database_url(url, data_dir=tmp_path)
    assert config.dialect == dialect
    if dialect == "sqlite":
        assert config.path == where
    else:
        assert (config.host, config.port, config.database) == where
    assert PASSWORD not in repr(config) and PASSWORD not in config.describe()


@pytest.mark.parametrize(
    "url",
    [
        f"oracle://bot:{PASSWORD}@db/x",
        f"mysql://bot:{PASSWORD}@/nodb",
        f"postgresql://bot:{PASSWORD}@host",
        f"mysql://bot:{PASSWORD}@host:notaport/db",
        f"{PASSWORD}",
        f"sqlite://bot:{PASSWORD}@host/x.db",
    ],
)
def test_malformed_urls_name_the_schemes_and_hide_the_password(url: str, tmp_path: Path) -> None:
    with pytest.raises(DatabaseConfigError) as caught:
        parse_database_url(url, data_dir=tmp_path)
    message = str(caught.value)
    assert PASSWORD not in message
    assert "sqlite://" in message and "mysql://" in message and "postgresql://" in message


@pytest.mark.parametrize("url", [f"postgresql://bot:{PASSWORD}@127.0.0.1:1/x", f"mysql://bot:{PASSWORD}@127.0.0.1:1/x"])
async def test_unreachable_database_fails_clearly_after_a_short_retry(url: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError) as caught:
        await open_store(url, data_dir=tmp_path, connect_max_seconds=2)
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert "127.0.0.1:1" in message and PASSWORD not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert elapsed < 30  # bounded: the retry gives up rather than hanging start-up


async def test_wrong_password_is_not_retried_and_not_echoed(tmp_path: Path) -> None:
    import pymysql

    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", autocommit=True)
    try:
        with admin.cursor() as cur:
            cur.execute("CREATE USER IF NOT EXISTS 'ir2dis_pw_test'@'%' IDENTIFIED BY 'right-one'")
            cur.execute("CREATE USER IF NOT EXISTS 'ir2dis_pw_test'@'localhost' IDENTIFIED BY 'right-one'")
    finally:
        admin.close()
    with pytest.raises(DatabaseUnavailableError) as caught:
        await open_store(f"mysql://ir2dis_pw_test:{PASSWORD}@127.0.0.1:3306/test", data_dir=tmp_path)
    assert "Access denied" in str(caught.value) and PASSWORD not in str(caught.value)


async def test_a_server_database_without_its_drivers_gets_an_install_hint_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A Red cog installs only SQLite's driver; the server databases' drivers are the owner's choice.
    real_find_spec = database.importlib.util.find_spec

    def without_postgres(name: str, *args: object) -> object:
        return None if name in ("asyncpg", "psycopg") else real_find_spec(name, *args)

    monkeypatch.setattr(database.importlib.util, "find_spec", without_postgres)
    assert database.missing_driver_packages("postgresql") == ["asyncpg", "psycopg[binary]"]
    assert database.missing_driver_packages("mysql") == []
    assert database.missing_driver_packages("sqlite") == []
    config = parse_database_url(f"postgresql://bot:{PASSWORD}@127.0.0.1:5432/ir2dis", data_dir=tmp_path)
    with pytest.raises(DatabaseConfigError, match=r"pipinstall asyncpg psycopg\[binary\]") as caught:
        await database.connect(config, max_seconds=1)
    assert PASSWORD not in str(caught.value)
