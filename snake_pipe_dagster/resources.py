"""The one resource: where snake-pipe's settings and store come from."""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from snake_pipe_core import RepositoryUnavailable, Settings, Store, load_settings

__all__ = ["PROJECT_CONFIG", "SnakePipeResource"]

CONFIG_ENV = "SNAKE_PIPE_CONFIG"
# The project's default config, beside workspace.yaml; used when neither SNAKE_PIPE_CONFIG nor
# a ./snake_pipe.toml in the working directory names one (run workers may start elsewhere).
PROJECT_CONFIG = Path(__file__).resolve().parent.parent / "snake_pipe.toml"


class SnakePipeResource(dg.ConfigurableResource):
    """snake-pipe's settings and store, read from the same TOML file the CLI reads.

    The file is found as the engine finds it (``SNAKE_PIPE_CONFIG``, else ``./snake_pipe.toml``),
    falling back to the project's ``snake_pipe.toml``. It is re-read on every call, so an
    edited file takes effect at the next sensor tick or run without reloading the code.
    """

    config_file: str | None = Field(
        default=None, description="TOML config file; default $SNAKE_PIPE_CONFIG or snake_pipe.toml"
    )
    store_path: str | None = Field(default=None, description="Override the config's store path")
    workers: int | None = Field(
        default=None, ge=0, description="Analysis worker processes per run (0: one per core)"
    )
    lock_timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Give up waiting for the store lock after this long (default: wait)",
    )

    def config_path(self) -> str | None:
        """The config file this resource reads, or None for the engine's defaults."""
        if self.config_file:
            return self.config_file
        if os.environ.get(CONFIG_ENV) or Path("snake_pipe.toml").is_file():
            return None  # the engine's own lookup finds it
        return str(PROJECT_CONFIG) if PROJECT_CONFIG.is_file() else None

    def settings(self) -> Settings:
        """The effective settings; raises ``ConfigError`` naming the bad key."""
        return load_settings(self.config_path(), workers=self.workers, store=self.store_path)

    def store(self, settings: Settings | None = None) -> Store:
        """The store; opening it is cheap (connections are made per query or batch)."""
        settings = settings or self.settings()
        return Store(settings.store, lock_timeout=self.lock_timeout_seconds)

    def repository_root(self, settings: Settings, repo: str) -> Path:
        """The root folder of a configured repository, by partition key.

        A repository folder that vanished from a ``repo_roots`` entry (or a whole root that
        is not mounted) is not configured any more, but the usual cause is a missing disk, not
        an edit: the error says which folder is missing, from the store's last known root.
        """
        roots = settings.repositories()
        if repo in roots:
            return roots[repo]
        source = settings.config_file or "the built-in defaults"
        missing_roots = [str(r) for r in settings.repo_roots if not r.is_dir()]
        last_root = self._last_known_root(settings, repo)
        if missing_roots:
            cause = f"repo_roots folder(s) missing (not mounted?): {', '.join(missing_roots)}"
        elif last_root is not None and not Path(last_root).is_dir():
            cause = f"its folder {last_root} is missing (moved, deleted or not mounted?)"
        else:
            cause = f"it is not configured in {source} (removed from repo_roots or [[repos]]?)"
        raise RepositoryUnavailable(
            f"repository {repo!r} cannot be ingested: {cause}. Nothing was changed; its "
            "history stays in the store"
        )

    def _last_known_root(self, settings: Settings, repo: str) -> str | None:
        if not Path(settings.store).exists():
            return None
        rows = self.store(settings).query("SELECT root FROM repos WHERE repo = ?", [repo])
        return str(rows[0][0]) if rows else None
