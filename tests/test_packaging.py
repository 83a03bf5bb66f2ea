"""What Red's Downloader installs with the cog, and what it may leave to the owner."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from ir2dis_cog.store.database import DRIVER_PACKAGES

ROOT = Path(__file__).resolve().parents[1]
SERVER_DRIVER_MODULES = [module for modules in DRIVER_PACKAGES.values() for module, _ in modules]


def _name(requirement: str) -> str:
    return re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_cog_requires_what_the_project_depends_on_less_the_server_database_drivers() -> None:
    info = json.loads((ROOT / "ir2dis_cog" / "info.json").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    optional = {_name(package) for modules in DRIVER_PACKAGES.values() for _, package in modules}
    provided_by_red = {"red-discordbot", "aiohttp"}
    assert {_name(r) for r in info["requirements"]} == {_name(d) for d in project} - optional - provided_by_red
    assert info["min_python_version"] == [3, 11, 0] and info["end_user_data_statement"]
    for hidden in ("standalone", "tests", "benchmarks"):
        assert json.loads((ROOT / hidden / "info.json").read_text())["hidden"] is True


def test_versions_and_the_database_driver_extras_agree_everywhere() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    info = json.loads((ROOT / "ir2dis_cog" / "info.json").read_text())
    red = next(d for d in pyproject["project"]["dependencies"] if _name(d) == "red-discordbot")
    floor = re.search(r">=([0-9.]+)", red)
    assert floor is not None and info["min_bot_version"] == floor.group(1)
    readme = (ROOT / "README.md").read_text()
    assert f"Needs Red-DiscordBot {floor.group(1)} or newer within 3.5" in readme
    assert pyproject["project"]["requires-python"].startswith(">=3.11")
    extras = pyproject["project"]["optional-dependencies"]
    for extra, dialect in (("postgres", "postgresql"), ("mysql", "mysql")):
        assert {_name(p) for p in extras[extra]} == {_name(p) for _, p in DRIVER_PACKAGES[dialect]}
        assert f'".[{extra}]"' in readme
    assert "ir2dis[postgres,mysql]" in extras["test"]
    assert ".[postgres,mysql]" in (ROOT / "Dockerfile").read_text()


def test_a_sqlite_bot_runs_without_the_server_database_drivers(tmp_path: Path) -> None:
    # A fresh process where importing the PostgreSQL and MariaDB drivers fails, as where they are
    # not installed: the cog's modules load, the SQLite store opens and migrates, and the drivers
    # are reported missing rather than crashing anything.
    script = f"""
import asyncio, sys
from pathlib import Path

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {SERVER_DRIVER_MODULES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}")
        return None

sys.meta_path.insert(0, NotInstalled())
import ir2dis_cog.red.cog
from ir2dis_cog.store import open_store
from ir2dis_cog.store.database import missing_driver_packages

async def main():
    store = await open_store("", data_dir=Path({str(tmp_path)!r}))
    await store.close()

asyncio.run(main())
print(missing_driver_packages("postgresql") + missing_driver_packages("mysql"))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "['asyncpg', 'psycopg[binary]', 'aiomysql', 'PyMySQL']"
    assert (tmp_path / "ir2dis.sqlite3").is_file()
