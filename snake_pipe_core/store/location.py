"""Where a store lives: the one ``store`` setting, read as an embedded folder or a catalog.

``store`` (``--store``, ``SNAKE_PIPE_STORE``) takes two forms:

- **a plain path** (whatever its name; ``.snake_pipe/store`` by default): the embedded store,
  a folder holding a DuckLake catalog in SQLite and the Parquet data beside it::

      <path>/catalog.sqlite     the catalog (WAL mode: readers never wait for a writer)
      <path>/data/              the Parquet files
      <path>/locks/             one lock file per repository being ingested
      <path>/journal.sqlite     the watcher's change journal (unless configured elsewhere)

- **a DuckLake connection string**, exactly what DuckDB's ``ATTACH`` takes: for example
  ``ducklake:postgres:dbname=snake host=db.internal`` (a PostgreSQL catalog, for many hosts)
  or ``ducklake:sqlite:/srv/snake/catalog.sqlite``. The data path (``store_data``,
  ``--store-data``, ``SNAKE_PIPE_STORE_DATA``: a shared folder or object storage) is needed
  to create such a store; afterwards the catalog remembers it.

A plain path that names a single DuckDB file is a store of snake-pipe 0.1, which
``snake-pipe store migrate`` converts (:mod:`snake_pipe_core.store.legacy`).
"""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CATALOG_ALIAS", "METADATA_ALIAS", "StoreLocation", "is_duckdb_file"]

# The name the store is attached under in every connection snake-pipe makes, and in the
# README's ATTACH statement.
CATALOG_ALIAS = "snake"
# Where DuckDB attaches DuckLake's own catalog tables (the DuckLake spec's ``ducklake_table``,
# ``ducklake_data_file``...): read for what the table functions answer slowly or not at all.
METADATA_ALIAS = f"__ducklake_metadata_{CATALOG_ALIAS}"
_DUCKDB_MAGIC = b"DUCK"  # bytes 8..12 of a DuckDB database file


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """A store's catalog and data path, and where this host keeps its local files."""

    catalog: (
        str  # the ATTACH target without the ``ducklake:`` prefix: ``sqlite:/…``, ``postgres:…``
    )
    data_path: str | None  # None: what the catalog recorded when it was created
    folder: Path | None  # the embedded store's folder; None for an external catalog

    @classmethod
    def parse(cls, store: str | os.PathLike[str], data_path: str | None = None) -> "StoreLocation":
        """Read the ``store`` setting (and the optional ``store_data`` one)."""
        text = os.fspath(store)
        if text.startswith("ducklake:"):
            return cls(text.removeprefix("ducklake:"), data_path, None)
        folder = Path(text).expanduser().absolute()
        data = data_path or str(folder / "data") + os.sep
        return cls(f"sqlite:{folder / 'catalog.sqlite'}", data, folder)

    @property
    def embedded(self) -> bool:
        return self.folder is not None

    @property
    def sqlite_file(self) -> Path | None:
        """The catalog's SQLite file, when the catalog is one."""
        if self.catalog.startswith("sqlite:"):
            return Path(self.catalog.removeprefix("sqlite:"))
        return None

    @property
    def is_postgres(self) -> bool:
        return self.catalog.startswith(("postgres:", "postgresql:"))

    @property
    def uri(self) -> str:
        """The ATTACH target: ``ducklake:<catalog>``."""
        return f"ducklake:{self.catalog}"

    def describe(self) -> str:
        """For messages: the folder of an embedded store, else the catalog (no password)."""
        if self.folder is not None:
            return str(self.folder)
        return _redact(self.uri)

    def local_state(self) -> Path:
        """A folder on this host for the store's lock files: inside an embedded store, else
        under the user's cache (one folder per catalog)."""
        if self.folder is not None:
            return self.folder
        digest = hashlib.sha256(self.catalog.encode()).hexdigest()[:16]
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return base / "snake-pipe" / f"store-{digest}"

    def legacy_store(self) -> Path | None:
        """A store of snake-pipe 0.1 (one DuckDB file) that this store replaces and that has
        not been migrated: the path itself, when it names such a file, or ``<path>.duckdb``
        beside a store folder that has no catalog yet (the old default was
        ``.snake_pipe/store.duckdb``, the new one ``.snake_pipe/store``)."""
        folder = self.folder
        if folder is None:
            return None
        if folder.is_file():
            return folder if is_duckdb_file(folder) else None
        sibling = folder.with_name(folder.name + ".duckdb")
        if not (folder / "catalog.sqlite").exists() and is_duckdb_file(sibling):
            return sibling
        return None

    def attach_sql(self, *, alias: str = CATALOG_ALIAS, read_only: bool = True) -> str:
        """The one ATTACH statement that opens this store in any DuckDB client."""
        options = ["READ_ONLY"] if read_only else []
        return f"ATTACH '{_quote(self.uri)}' AS {alias}" + (
            f" ({', '.join(options)})" if options else ""
        )


def is_duckdb_file(path: Path) -> bool:
    """True if ``path`` is a DuckDB database file."""
    try:
        with path.open("rb") as f:
            return f.read(12)[8:12] == _DUCKDB_MAGIC
    except OSError:
        return False


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _redact(uri: str) -> str:
    """Hide a ``password=…`` of a libpq connection string and the password of a URL."""
    words = ["password=***" if w.lower().startswith("password=") else w for w in uri.split(" ")]
    out = " ".join(words)
    if "://" in out and "@" in out:
        scheme, rest = out.split("://", 1)
        creds, host = rest.split("@", 1)
        if ":" in creds:
            out = f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return out
