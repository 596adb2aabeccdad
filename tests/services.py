"""Real PostgreSQL and Redis servers from Debian's packages, started for a test or a benchmark.

``.ci/run`` installs ``postgresql`` and ``redis-server``; here each server gets a data folder
of its own, a free port on 127.0.0.1, and stops when the ``with`` block ends. PostgreSQL
refuses to run as root, so as root (CI) it runs as the ``postgres`` user, in a folder that
user owns. Nothing here imports pytest: benchmarks use it as it is.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Postgres", "Redis", "free_port", "postgres_bin", "postgres_server", "redis_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries, newest version first."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "postgres").is_file():
            return Path(folder)
    found = shutil.which("postgres")
    return Path(found).parent if found else None


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    log: Path | None = None  # the server's log (stderr), where a test may look

    def dsn(self, database: str = "postgres") -> str:
        """A libpq key/value connection string (what DuckDB's postgres extension takes)."""
        return f"dbname={database} host={self.host} port={self.port} user={self.user}"

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy/psycopg URL (what dagster-postgres takes)."""
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        folder = postgres_bin()
        exe = str(folder / "psql") if folder and (folder / "psql").exists() else "psql"
        out = subprocess.run(
            [exe, "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", database,
             "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if out.returncode:
            raise RuntimeError(f"psql failed: {out.stderr.strip()}")
        return out.stdout

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return name


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    """A throw-away PostgreSQL cluster on 127.0.0.1 (trust authentication, no fsync)."""
    folder = postgres_bin()
    if folder is None:
        raise FileNotFoundError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="snake-pipe-pg-"))
    base.chmod(0o755)
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    subprocess.run(
        _as_postgres([str(folder / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--no-sync"]),
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    log = base / "server.log"
    with log.open("ab") as err:
        server = subprocess.Popen(
            _as_postgres([str(folder / "postgres"), "-D", str(data), "-p", str(port),
                          "-k", str(sockets), "-c", "listen_addresses=127.0.0.1",
                          "-c", "fsync=off", "-c", "synchronous_commit=off",
                          "-c", "full_page_writes=off", "-c", "max_connections=200"]),
            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
        )  # fmt: skip
    pg = Postgres("127.0.0.1", port, "postgres", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            ready = subprocess.run(
                [str(folder / "pg_isready"), "-h", pg.host, "-p", str(port)], capture_output=True
            )
            if ready.returncode == 0:
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield pg
    finally:
        server.terminate()  # SIGTERM: "smart" shutdown; connections end with their clients
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(base, ignore_errors=True)


@dataclass(frozen=True)
class Redis:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


@contextlib.contextmanager
def redis_server() -> Iterator[Redis]:
    """A throw-away Redis on 127.0.0.1 (no persistence)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise FileNotFoundError("Redis is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    base = Path(tempfile.mkdtemp(prefix="snake-pipe-redis-"))
    server = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Redis did not start")
            time.sleep(0.05)
        yield Redis("127.0.0.1", port)
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(base, ignore_errors=True)
