"""``snake-pipe config check``: is everything this configuration names there and reachable?

Each check says what it looked at, what it found, and — when something is wrong — what to do.
It writes nothing but a probe file in the store's data folder (removed at once): a store that
does not exist yet is reported as such, to be created by the first ingest.

What is checked: the configuration's repositories; the store's catalog (SQLite folder or
PostgreSQL) and its data path; the change journal's folder; and, for the multi-host profile
(``deploy/multihost``), the Dagster instance database (``DAGSTER_PG_URL``) and the Celery
broker (``SNAKE_PIPE_CELERY_BROKER``), each only when its variable is set.
"""

import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from .config import Settings
from .errors import SnakePipeError
from .store.lake import connect_config, open_lake
from .store.location import StoreLocation, _redact

__all__ = ["Check", "check_deployment"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def _repositories(settings: Settings) -> list[Check]:
    try:
        repos = settings.repositories()
    except SnakePipeError as e:
        return [Check("repositories", False, str(e))]
    checks = [
        Check(f"repository {name}", path.is_dir() and os.access(path, os.R_OK | os.X_OK),
              f"{path}" if path.is_dir() else f"{path} is missing (not mounted?)")
        for name, path in sorted(repos.items())
    ]  # fmt: skip
    missing = [str(r) for r in settings.repo_roots if not r.is_dir()]
    if missing:
        checks.append(Check("repo_roots", False, f"missing folder(s): {', '.join(missing)}"))
    if not checks:
        checks.append(Check("repositories", False, "none configured: set repo_roots or [[repos]]"))
    return checks


def _store(location: StoreLocation) -> list[Check]:
    name = "store"
    try:
        con = open_lake(location, read_only=True)
    except SnakePipeError as e:
        if "no store at" not in str(e) and not _not_created(e):
            return [Check(name, False, f"{location.describe()}: {e}")]
        reachable = _catalog_reachable(location)
        if reachable is not None:
            return [Check(name, False, f"{location.describe()}: the catalog is unreachable: "
                          f"{reachable}")]  # fmt: skip
        return [Check(name, True, f"{location.describe()}: not created yet; the first ingest "
                      "creates it")]  # fmt: skip
    try:
        snapshot = con.execute(
            "SELECT max(snapshot_id) FROM ducklake_snapshots('snake')"
        ).fetchall()[0][0]
        data = con.execute(
            "SELECT value FROM ducklake_options('snake') WHERE option_name = 'data_path'"
        ).fetchall()
    finally:
        con.close()
    data_path = location.data_path or (str(data[0][0]) if data else None)
    return [
        Check(name, True, f"{location.describe()} (snapshot {snapshot})"),
        _data_path(data_path),
    ]


def _not_created(e: BaseException) -> bool:
    text = str(e)
    return "not ready yet" in text or "does not exist" in text or "No snapshot" in text


def _catalog_reachable(location: StoreLocation) -> str | None:
    """None if the catalog database answers; else why not."""
    if location.sqlite_file is not None:
        folder = location.sqlite_file.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return None if os.access(folder, os.W_OK) else f"{folder} is not writable"
    if location.is_postgres:
        dsn = location.catalog.split(":", 1)[1]
        return _postgres_reachable(dsn)
    return None  # another catalog type: the first ingest will tell


def _postgres_reachable(dsn: str) -> str | None:
    con = duckdb.connect(config=connect_config())
    try:
        con.execute(
            f"ATTACH '{dsn.replace(chr(39), chr(39) * 2)}' AS pg (TYPE postgres, READ_ONLY)"
        )
        con.execute("SELECT 1").fetchall()
    except duckdb.Error as e:
        return str(e).splitlines()[0]
    finally:
        con.close()
    return None


def _data_path(path: str | None) -> Check:
    if path is None:
        return Check("store data", False, "no data path: set store_data")
    if "://" in path:
        return Check("store data", True, f"{path} (object storage: not probed)")
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".snake-pipe-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return Check("store data", False, f"{folder}: not writable ({e.strerror or e}); every "
                     "host that ingests must reach and write it")  # fmt: skip
    return Check("store data", True, f"{folder} (writable)")


def _journal(settings: Settings) -> Check:
    if settings.journal_dsn is not None:
        from .journal.postgres import PostgresJournal

        try:
            journal = PostgresJournal(settings.journal_dsn, connect_timeout_s=5)
        except SnakePipeError as e:
            return Check("journal", False, f"{e} ([watch] journal, or SNAKE_PIPE_JOURNAL)")
        journal.close()
        return Check("journal", True, f"{journal.where} (PostgreSQL, shared between hosts)")
    path = settings.journal_path
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return Check("journal", False, f"{path}: not readable and writable")
    if not os.access(folder, os.W_OK):
        return Check("journal", False, f"{path}: its folder {folder} is not writable")
    return Check("journal", True, str(path) + ("" if path.exists() else " (created on first use)"))


def _dagster_instance(url: str) -> Check:
    plain = url.replace("+psycopg2", "").replace("+psycopg", "")
    why = _postgres_reachable(plain)
    shown = _redact(url)
    if why is None:
        return Check("dagster instance", True, f"{shown} (DAGSTER_PG_URL)")
    return Check("dagster instance", False, f"{shown} (DAGSTER_PG_URL) unreachable: {why}")


def _celery_broker(url: str) -> Check:
    parts = urlsplit(url)
    shown = _redact(url)
    if parts.scheme not in ("redis", "rediss"):
        return Check("celery broker", True, f"{shown} (not a Redis URL: not probed)")
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 6379), 3) as s:
            if parts.password:
                s.sendall(f"AUTH {parts.password}\r\n".encode())
                s.recv(64)
            s.sendall(b"PING\r\n")
            answer = s.recv(64)
    except OSError as e:
        return Check("celery broker", False, f"{shown} (SNAKE_PIPE_CELERY_BROKER) unreachable: "
                     f"{e.strerror or e}")  # fmt: skip
    ok = answer.startswith(b"+PONG")
    detail = "" if ok else f" answered {answer[:40]!r}"
    return Check("celery broker", ok, f"{shown} (SNAKE_PIPE_CELERY_BROKER){detail}")


def check_deployment(settings: Settings, env: Mapping[str, str] | None = None) -> list[Check]:
    """Every check of this configuration (and of the multi-host variables that are set)."""
    env = os.environ if env is None else env
    checks = _repositories(settings)
    checks += _store(settings.store_location)
    checks.append(_journal(settings))
    if env.get("DAGSTER_PG_URL"):
        checks.append(_dagster_instance(env["DAGSTER_PG_URL"]))
    if env.get("SNAKE_PIPE_CELERY_BROKER"):
        checks.append(_celery_broker(env["SNAKE_PIPE_CELERY_BROKER"]))
    return checks
