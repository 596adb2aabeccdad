import subprocess
import sys

import pytest

import snake_pipe_core

pytestmark = pytest.mark.unit


def test_engine_never_imports_dagster() -> None:
    code = (
        "import sys, snake_pipe_core, snake_pipe_core.cli, snake_pipe_core.ingest.workers, "
        "snake_pipe_core.ingest\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster'))\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_analysis_worker_loads_neither_the_store_nor_the_journal() -> None:
    """The fork server preloads the workers' module: without DuckDB, Arrow, the store and the
    journal it is ready before the store is open (docs/decisions.md)."""
    code = (
        "import sys, snake_pipe_core.ingest.workers\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('duckdb', 'pyarrow') "
        "or m.startswith(('snake_pipe_core.store', 'snake_pipe_core.journal', "
        "'snake_pipe_core.ingest.run')))\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_command_line_starts_an_ingest_before_it_imports_the_rest_of_itself() -> None:
    """``snake_pipe_core.cli`` is light (its commands load on first use) and so is the module
    that starts the workers' fork server: ``main`` starts the server for an ingest while the
    command line still has click, rich, pydantic, DuckDB and Arrow to import."""
    code = (
        "import sys, snake_pipe_core.cli, snake_pipe_core.ingest.spawn\n"
        "heavy = ('click', 'rich', 'pydantic', 'duckdb', 'pyarrow', 'orjson')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in heavy "
        "or m.startswith(('snake_pipe_core.cli.', 'snake_pipe_core.ingest.workers')))\n"
        "assert not bad, bad\n"
        "from snake_pipe_core.ingest import spawn, workers\n"  # what the server preloads
        "assert spawn.WORKERS_MODULE == workers.__name__\n"
        "from snake_pipe_core.cli import cli\n"  # the group, on first use
        "assert cli.name == 'cli' and 'ingest' in cli.commands"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api_is_pinned() -> None:
    assert sorted(snake_pipe_core.__all__) == sorted(
        [
            "AnalysisSettings", "Analyzer", "AstFormat", "AstMetadata", "Change",
            "ChangeJournal", "ConfigError", "FileChange", "FileState", "FileVerdict",
            "FormatRegistry", "GenericFormat", "IngestSummary", "JournalRecord",
            "MassDeletionRefused", "Progress", "Reason", "RepoChanges", "RepositoryBusy",
            "RepositoryError", "RepositoryUnavailable", "ScanEntry", "Settings",
            "SnakePipeError", "Store", "StoreBusy", "StoreDamaged", "StoreError", "StoreFull",
            "StoreLocation", "StoreSchemaError", "WatcherStatus", "WorkItem", "connect_readonly",
            "group_changes", "ingest_repository", "load_settings", "maintain", "slugify",
        ]
    )  # fmt: skip
    for name in snake_pipe_core.__all__:
        assert getattr(snake_pipe_core, name) is not None


def test_reason_codes_keep_their_names() -> None:
    assert {r.value for r in snake_pipe_core.Reason} >= {
        "unreadable", "empty", "encoding", "invalid_json", "not_object", "unknown_format",
        "schema", "too_deep", "too_large", "changed_during_read", "symlink_loop",
        "outside_root", "dangling_symlink", "not_regular_file",
    }  # fmt: skip
