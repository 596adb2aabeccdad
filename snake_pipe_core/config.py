"""Settings: one TOML file shared by the CLI and Dagster, environment overrides, defaults.

Precedence, highest first: explicit arguments (CLI flags, Dagster config), environment
variables (``SNAKE_PIPE_STORE``, ``SNAKE_PIPE_STORE_DATA``, ``SNAKE_PIPE_WORKERS``), the
TOML file named by ``SNAKE_PIPE_CONFIG`` (default ``./snake_pipe.toml`` when present), built-in
defaults. Relative paths in the file are relative to the file's folder.

Example::

    store = ".snake_pipe/store"          # a folder (the embedded DuckLake store), or a catalog:
    # store = "ducklake:postgres:dbname=snake host=db.internal"
    # store_data = "/shared/snake/data/"  # where a new catalog's Parquet files go
    repo_roots = ["demo/repos"]          # each immediate subfolder is one repository
    workers = 2

    [[repos]]
    name = "linux-ast"
    path = "/data/ast/linux"

    [discovery]
    include = ["*.json"]
    exclude = ["fixtures/**"]            # added to the built-in exclusions

    [limits]
    max_file_mb = 50
    max_depth = 65536
    mass_delete_threshold = 0.5

    [[generic_formats]]
    name = "my-parser"
    type_key = "nodeType"
    children_key = "children"

    [watch]                              # `snake-pipe watch` and the change journal
    journal = ".snake_pipe/store/journal.sqlite"   # default: in the store's folder; or
                                         # "postgresql://user@host/db" to share it between hosts
    settle_s = 0.2                       # quiet time before a burst of changes is recorded
"""

import difflib
import os
import re
import tomllib
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from .errors import ConfigError
from .processes import available_cores

if TYPE_CHECKING:
    from .store.location import StoreLocation

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_NAME",
    "CommitSettings",
    "DiscoverySettings",
    "GenericFormatSettings",
    "LimitSettings",
    "MaintenanceSettings",
    "RepoSettings",
    "Settings",
    "WatchSettings",
    "load_settings",
    "postgres_dsn",
    "slugify",
]

CONFIG_ENV = "SNAKE_PIPE_CONFIG"
DEFAULT_CONFIG_NAME = "snake_pipe.toml"
DEFAULT_STORE = ".snake_pipe/store"
MAX_DEPTH_BOUND = 1_000_000

EDITOR_TEMP_PATTERNS = (
    "*~", "*.swp", "*.swo", "*.swx", ".#*", "#*#", "*.tmp", "*.temp", "*.part",
    "*.crdownload", ".~*", "~$*", "4913", ".DS_Store", "*.orig", "*.bak",
)  # fmt: skip
NON_AST_JSON = (
    "package.json", "package-lock.json", "npm-shrinkwrap.json", "tsconfig.json",
    "tsconfig.*.json", "jsconfig.json", "composer.json", "bower.json", "lerna.json",
    "nx.json", "project.json", "angular.json", "deno.json", "turbo.json", "vercel.json",
    "renovate.json", "tslint.json", ".eslintrc.json", ".babelrc.json", ".prettierrc.json",
    "launch.json", "settings.json", "extensions.json", "tasks.json", "devcontainer.json",
    "manifest.json", "*.schema.json", "*.map", "*.js.map", ".snake_pipe*.json",
)  # fmt: skip
PRUNED_DIRS = (
    ".git", ".hg", ".svn", ".bzr", "node_modules", "__pycache__", ".venv", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea", ".vscode", ".snake_pipe",
)  # fmt: skip


def slugify(name: str) -> str:
    """A stable ASCII slug for a repository name: lower case, ``[a-z0-9_-]``."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower().encode("ascii", "ignore").decode())
    slug = slug.strip("-_")
    return slug or "repo"


def postgres_dsn(target: str) -> str | None:
    """The libpq connection string of ``target`` when it names a PostgreSQL database
    (``postgresql://…``, ``postgres://…``, or ``postgres:`` before key/value pairs), else None
    (a file path)."""
    if target.startswith(("postgresql://", "postgres://")):
        return target
    if target.startswith("postgres:"):
        return target.removeprefix("postgres:").strip()
    return None


def _number_types(annotation: Any) -> bool:
    """True for ``int``/``float`` fields (``X | None`` included)."""
    args = annotation.__args__ if isinstance(annotation, types.UnionType) else (annotation,)
    return any(a in (int, float) for a in args)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # Strict at the boundary: TOML's `true` is not 1 and "50" is not 50. (Pydantic's own
        # strict mode would also refuse a list for a tuple and a string for a path.)
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _number_types(field.annotation):
            if isinstance(value, bool) or not isinstance(value, int | float | None):
                raise ValueError(f"must be a number, not {type(value).__name__}")
        return value


class RepoSettings(_Model):
    name: str = Field(min_length=1)
    path: Path

    @property
    def slug(self) -> str:
        return slugify(self.name)


class DiscoverySettings(_Model):
    include: tuple[str, ...] = ("*.json",)
    exclude: tuple[str, ...] = ()
    exclude_dirs: tuple[str, ...] = ()
    # Built-in rules; set to [] to switch one off.
    editor_temp: tuple[str, ...] = EDITOR_TEMP_PATTERNS
    non_ast_json: tuple[str, ...] = NON_AST_JSON
    pruned_dirs: tuple[str, ...] = PRUNED_DIRS


class LimitSettings(_Model):
    max_file_mb: float = Field(default=50.0, gt=0, le=4096)
    max_depth: int = Field(default=65_536, ge=64, le=MAX_DEPTH_BOUND)
    # The mass-delete guard (snake_pipe_core.guard): a whole-repository diff that finds this
    # share of the live files gone, with fewer new and changed files than this share of the
    # gone ones beside them, is refused as a vanished root.
    mass_delete_threshold: float = Field(default=0.5, gt=0, le=1)
    # Below this many live files a repository may be emptied without confirmation.
    mass_delete_min_files: int = Field(default=20, ge=0)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


class GenericFormatSettings(_Model):
    name: str = Field(min_length=1)
    type_key: str = "type"
    children_key: str | None = None
    root_types: tuple[str, ...] | None = None
    language: str | None = None
    function_types: tuple[str, ...] = ()
    class_types: tuple[str, ...] = ()
    import_types: tuple[str, ...] = ()
    branch_types: tuple[str, ...] = ()


class WatchSettings(_Model):
    """The file watcher and its change journal (``snake-pipe watch``).

    The journal is a small SQLite file of its own, not the DuckDB store: the watcher appends
    while a reader (the Dagster sensor or ``watch --ingest``) consumes, in other processes.
    Across hosts it lives in PostgreSQL (``journal = "postgresql://…"``): the watcher on the
    host that sees the files appends, the sensor in the Dagster daemon elsewhere consumes.
    """

    # default: <store folder>/journal.sqlite; a postgresql:// URL or "postgres:<libpq string>"
    journal: str | None = None
    # A burst is recorded settle_s after its last event, and at least every max_delay_s.
    settle_s: float = Field(default=0.2, gt=0, le=60)
    max_delay_s: float = Field(default=1.0, gt=0, le=600)
    # Paths held per repository before they are replaced by one rescan marker.
    max_pending_paths: int = Field(default=10_000, ge=1)
    # Distinct paths one incremental run takes; above it the run rescans the repository.
    max_run_paths: int = Field(default=1_000, ge=1)
    heartbeat_s: float = Field(default=2.0, gt=0, le=3600)
    # A heartbeat older than this means the watcher is gone (or stopped) and must be started.
    stale_after_s: float = Field(default=15.0, gt=0)
    # The self-check: a cookie folder made in each root must be seen within the timeout.
    self_check_s: float = Field(default=30.0, gt=0)
    self_check_timeout_s: float = Field(default=10.0, gt=0)
    # A run of the journal's changes that failed, was killed or was refused is tried again
    # after retry_base_s, doubling up to retry_max_s, until it succeeds.
    retry_base_s: float = Field(default=2.0, gt=0, le=3600)
    retry_max_s: float = Field(default=300.0, gt=0, le=86_400)


class CommitSettings(_Model):
    """How often a run commits its batch of results (each commit is one transaction: what a
    kill can lose, and what a resumed run redoes, is at most one batch)."""

    # A batch is committed when it holds this many files, or this many seconds passed since
    # the last commit; the first batch of a run is committed at once. On small files the
    # count comes first: each commit is a DuckLake transaction (~25 ms of CPU and new Parquet
    # files), so 5,000 cost 100,000 tiny files a fifth of a second more than 20,000, while
    # up to three batches (~1 KB a file) are held in memory at a time.
    files: int = Field(default=20_000, ge=1, le=1_000_000)
    seconds: float = Field(default=2.0, gt=0, le=3600)


class MaintenanceSettings(_Model):
    """Store maintenance (``snake-pipe store maintain`` and the nightly Dagster job)."""

    # DuckLake's own snapshots older than this are expired (the rows stay; time travel by
    # run keeps working on them).
    keep_snapshots_days: float = Field(default=7.0, ge=0)


class Settings(_Model):
    """The effective configuration."""

    # A folder (the embedded store) or a DuckLake catalog ``ducklake:<sqlite|postgres>:…``.
    store: str = DEFAULT_STORE
    # Where a new catalog's Parquet files go (the embedded store: <store>/data/).
    store_data: str | None = None
    repo_roots: tuple[Path, ...] = ()
    repos: tuple[RepoSettings, ...] = ()
    workers: int = Field(default=0, ge=0, le=256)  # 0: one per available core
    discovery: DiscoverySettings = DiscoverySettings()
    limits: LimitSettings = LimitSettings()
    generic_formats: tuple[GenericFormatSettings, ...] = ()
    quarantine_rate_threshold: float = Field(default=0.05, ge=0, le=1)
    watch: WatchSettings = WatchSettings()
    commit: CommitSettings = CommitSettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()
    config_file: Path | None = None

    @field_validator("store", mode="before")
    @classmethod
    def _store_text(cls, value: Any) -> Any:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("repos")
    @classmethod
    def _unique_names(cls, repos: tuple[RepoSettings, ...]) -> tuple[RepoSettings, ...]:
        seen: dict[str, str] = {}
        for r in repos:
            if r.slug in seen:
                raise ValueError(f"repository names {seen[r.slug]!r} and {r.name!r} share the slug")
            seen[r.slug] = r.name
        return repos

    @property
    def worker_count(self) -> int:
        if self.workers:
            return self.workers
        return available_cores()

    @property
    def store_location(self) -> "StoreLocation":
        """Where the store is: its catalog and data path."""
        from .store.location import StoreLocation  # the store package imports this module

        return StoreLocation.parse(self.store, self.store_data)

    @property
    def journal_dsn(self) -> str | None:
        """The PostgreSQL connection of a shared journal (``watch.journal`` names one), in a
        form libpq takes; None for a journal file."""
        return postgres_dsn(self.watch.journal) if self.watch.journal else None

    @property
    def journal_path(self) -> Path:
        """The change journal's file: ``watch.journal``, else in the embedded store's folder
        (or this host's state folder for an external catalog). For a journal in PostgreSQL,
        where this host keeps what belongs to it locally (the watcher's log)."""
        if self.watch.journal is not None and self.journal_dsn is None:
            return Path(self.watch.journal)
        location = self.store_location
        return (location.folder or location.local_state()) / "journal.sqlite"

    def repositories(self) -> dict[str, Path]:
        """Slug → root of every configured repository (explicit ones win over roots)."""
        found: dict[str, Path] = {}
        explicit = {r.path.resolve() for r in self.repos}
        for root in self.repo_roots:
            if not root.is_dir():
                continue
            for child in sorted(root.iterdir()):
                if child.resolve() in explicit:
                    continue  # named by a [[repos]] table
                if child.is_dir() and not child.name.startswith("."):
                    slug = slugify(child.name)
                    if slug in found and found[slug] != child:
                        raise ConfigError(
                            f"repository folders {found[slug]} and {child} share the name "
                            f"{slug!r}: rename one, or list them under [[repos]] with names "
                            "of their own"
                        )
                    found[slug] = child
        for r in self.repos:
            found[r.slug] = r.path
        return found

    def effective(self) -> dict[str, Any]:
        """The configuration as plain data, for ``snake-pipe config show``."""
        data = self.model_dump(mode="json")
        data["worker_count"] = self.worker_count
        data["repositories"] = {k: str(v) for k, v in self.repositories().items()}
        return data


def _resolve(base: Path, value: Any) -> Any:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    base = path.parent.resolve()
    if isinstance(data.get("store"), str) and not data["store"].startswith("ducklake:"):
        data["store"] = str(_resolve(base, data["store"]))
    store_data = data.get("store_data")
    if isinstance(store_data, str) and "://" not in store_data:
        data["store_data"] = str(_resolve(base, store_data)) + (
            "/" if store_data.endswith("/") else ""
        )
    if "repo_roots" in data and isinstance(data["repo_roots"], list):
        data["repo_roots"] = [_resolve(base, r) for r in data["repo_roots"]]
    for repo in data.get("repos", []) if isinstance(data.get("repos"), list) else []:
        if isinstance(repo, dict) and "path" in repo:
            repo["path"] = _resolve(base, repo["path"])
    watch = data.get("watch")
    if isinstance(watch, dict) and isinstance(watch.get("journal"), str):
        if postgres_dsn(watch["journal"]) is None:
            watch["journal"] = str(_resolve(base, watch["journal"]))
    data["config_file"] = path.resolve()
    return data


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed beside the last element of ``loc`` (for "did you mean")."""
    model: Any = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", (annotation,))
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return [k for k in model.model_fields if k != "config_file"]


_MESSAGES = {
    "greater_than_equal": "must be {ge} or more",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be {le} or less",
    "less_than": "must be less than {lt}",
    "missing": "is required",
    "string_too_short": "must not be empty",
}


def _format_errors(e: ValidationError, source: str, labels: dict[str, str]) -> str:
    lines = [f"invalid configuration in {source}:"]
    for err in e.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        where = labels.get(key, key)
        template = _MESSAGES.get(err["type"])
        message = template.format(**err.get("ctx", {})) if template else err["msg"]
        message = message.removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            known = _known_keys(err["loc"])
            close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
            lines.append(f"  {where}: unknown key; {hint}")
            continue
        lines.append(f"  {where}: {message} (got {err.get('input')!r:.80})")
    return "\n".join(lines)


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    *,
    env: dict[str, str] | None = None,
    override_labels: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Load the effective settings; ``overrides`` with a value other than None win.

    ``override_labels`` names where an override came from in error messages (the CLI passes
    its flags: ``{"workers": "--workers"}``)."""
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = {}
    path = config_file or env.get(CONFIG_ENV)
    if path:
        data = _read_file(Path(path))
    elif Path(DEFAULT_CONFIG_NAME).is_file():
        data = _read_file(Path(DEFAULT_CONFIG_NAME))
    if env.get("SNAKE_PIPE_STORE"):
        data["store"] = env["SNAKE_PIPE_STORE"]
    if env.get("SNAKE_PIPE_STORE_DATA"):
        data["store_data"] = env["SNAKE_PIPE_STORE_DATA"]
    if env.get("SNAKE_PIPE_JOURNAL"):
        data.setdefault("watch", {})["journal"] = env["SNAKE_PIPE_JOURNAL"]
    labels: dict[str, str] = {}
    if env.get("SNAKE_PIPE_WORKERS"):
        raw = env["SNAKE_PIPE_WORKERS"].strip()
        data["workers"] = int(raw) if raw.isdigit() else raw
        labels["workers"] = "SNAKE_PIPE_WORKERS"
    given = {k: v for k, v in overrides.items() if v is not None}
    data.update(given)
    labels |= {k: (override_labels or {}).get(k, f"{k} (override)") for k in given}
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(e, str(path or "settings"), labels)) from None
