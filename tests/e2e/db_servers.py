"""A PostgreSQL or MariaDB server of a test's own: own data directory, own port, stopped and started at will.

A test that takes the bot's database away must never stop the machine's shared servers (5432,
3306): it starts one of these instead. ``start()`` after ``stop()`` keeps the data, as a real
database restart does; ``close()`` stops the server and removes its directory.

Both refuse to run their server as root, so under root each runs as the distribution's service
user (``postgres``, ``mysql``) and the directory is given to that user; under any other user
they run as that user. The directory is made in the system temp dir, not in pytest's tmp_path,
whose parents the service user cannot enter.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

DATABASE = "ir2dis"
START_TIMEOUT = 60.0


class DatabaseServer(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def url(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as(user: str) -> list[str]:
    """The prefix that runs a command as the service user when we are root, else nothing."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


def _own_dir(prefix: str, user: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(root, user, user)
    return root


def _run(cmd: list[str], what: str, timeout: float = 120.0) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def _wait_port(port: int, up: bool, what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                listening = True
        except OSError:
            listening = False
        if listening == up:
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"{what}: port {port} still {'closed' if up else 'open'} after {START_TIMEOUT:.0f} s\n{tail}")


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb) in /usr/lib/postgresql/*/bin or on PATH")
    return Path(on_path).parent


class _OwnFolder:
    """A server's own folder: its data directory and its log."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"


@dataclass
class PostgresServer(_OwnFolder):
    """``initdb`` once, then ``pg_ctl start``/``stop`` on 127.0.0.1:<port> (trust, user postgres)."""

    kind: str = "postgresql"
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: _own_dir("ir2dis-pg-", "postgres"))
    bin: Path = field(default_factory=_postgres_bin)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _cmd(self, tool: str, *args: str) -> list[str]:
        return [*_as("postgres"), str(self.bin / tool), *args]

    def create(self) -> None:
        """A new cluster (no fsync: a test's data need not survive the machine), started, with the database."""
        _run(
            self._cmd("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"),
            "initdb",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n")
            conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
        self.start()
        _run(self._cmd("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DATABASE), "createdb")

    def start(self) -> None:
        _run(self._cmd("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"), "pg_ctl start")
        _wait_port(self.port, True, "PostgreSQL start", self.log)

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected at once, as in a restart or a failover."""
        _run(self._cmd("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"), "pg_ctl stop")
        _wait_port(self.port, False, "PostgreSQL stop", self.log)

    def close(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def _mariadb_tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}",) if os.path.exists(p)), None)
        if found:
            return found
    raise RuntimeError(f"no MariaDB server binary ({' or '.join(names)}) on PATH or in /usr/sbin")


@dataclass
class MariaDBServer(_OwnFolder):
    """``mariadb-install-db`` once, then ``mariadbd`` on 127.0.0.1:<port> (root, no password)."""

    kind: str = "mysql"
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: _own_dir("ir2dis-maria-", "mysql"))
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{DATABASE}"

    def _user(self) -> list[str]:
        # mariadbd started by root switches to this user itself.
        return ["--user=mysql"] if os.geteuid() == 0 else []

    def create(self) -> None:
        _run(
            [
                _mariadb_tool("mariadb-install-db", "mysql_install_db"),
                "--no-defaults",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *self._user(),
            ],
            "mariadb-install-db",
        )
        self.start()
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
        finally:
            conn.close()

    def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            raise RuntimeError("MariaDB is already running")
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    _mariadb_tool("mariadbd", "mysqld"),
                    "--no-defaults",
                    f"--datadir={self.data}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    f"--socket={self.root / 'mysqld.sock'}",
                    f"--pid-file={self.root / 'mysqld.pid'}",
                    "--skip-name-resolve",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--innodb-buffer-pool-size=32M",
                    *self._user(),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_port(self.port, True, "MariaDB start", self.log)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown, connections closed, as in a restart."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        _wait_port(self.port, False, "MariaDB stop", self.log)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(30)
        shutil.rmtree(self.root, ignore_errors=True)


def own_server(kind: str) -> DatabaseServer:
    """A created and started server of ``kind`` ("postgresql" or "mysql"); the caller closes it."""
    server: PostgresServer | MariaDBServer = PostgresServer() if kind == "postgresql" else MariaDBServer()
    try:
        server.create()
    except BaseException:
        server.close()
        raise
    return server
