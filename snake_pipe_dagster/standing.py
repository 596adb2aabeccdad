"""How a repository stands: the numbers a partition's page shows first.

A materialization's metadata is read as a page and plotted over time. So the numbers are
the repository's totals now (files by state, functions, classes, languages, the quarantine
rate) and rates, whose plots mean something; what one run changed is one JSON entry, read on
the page and not plotted (a no-op run would draw zeros)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from snake_pipe_core import IngestSummary, Store

from .reporting import STATES, markdown_table, reasons_table

__all__ = ["Standing", "quarantine_pointer", "quarantine_section", "read_standing", "this_run"]

_STATES_SQL = "SELECT state, count(*) FROM manifest WHERE repo = ? GROUP BY 1"
_LANGUAGES_SQL = """
SELECT coalesce(language, 'unknown'), count(*), coalesce(sum(function_count), 0),
       coalesce(sum(class_count), 0)
FROM extracted_files WHERE repo = ? GROUP BY 1 ORDER BY 2 DESC, 1
"""
_REASONS_SQL = "SELECT reason, count(*) FROM quarantined_files WHERE repo = ? GROUP BY 1"


@dataclass(frozen=True, slots=True)
class Standing:
    """A repository's totals in the store now."""

    repo: str
    files: dict[str, int]
    languages: list[tuple[str, int, int, int]]  # language, files, functions, classes
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def quarantine_rate(self) -> float:
        live = self.files["extracted"] + self.files["quarantined"]
        return round(self.files["quarantined"] / live, 4) if live else 0.0

    def file_totals(self) -> dict[str, int]:
        return {f"files_{state}": n for state, n in self.files.items()}

    def code_totals(self) -> dict[str, int]:
        return {
            "functions": sum(f for _, _, f, _ in self.languages),
            "classes": sum(c for _, _, _, c in self.languages),
            "languages_count": len(self.languages),
        }

    def languages_table(self, this_run: Mapping[str, int]) -> str:
        if not self.languages:
            return "No file has been extracted."
        rows = [(lang, n, f, c, this_run.get(lang, 0)) for lang, n, f, c in self.languages]
        headers = ("language", "files", "functions", "classes", "extracted this run")
        return markdown_table(headers, rows)


def read_standing(store: Store, repo: str) -> Standing:
    """The repository's totals, read from the store's views (read-only)."""
    by_state = dict(store.query(_STATES_SQL, [repo]))
    languages = [
        (str(a), int(b), int(c), int(d)) for a, b, c, d in store.query(_LANGUAGES_SQL, [repo])
    ]
    return Standing(
        repo=repo,
        files={state: int(by_state.get(state, 0)) for state in STATES},
        languages=languages,
        reasons={str(r): int(n) for r, n in store.query(_REASONS_SQL, [repo])},
    )


def quarantine_pointer(repo: str) -> str:
    """Where a person finds the quarantined files and their details."""
    return (
        f"Files and details: `snake-pipe quarantine list --repo {repo}`, or SQL "
        f"`SELECT path, reason, detail FROM quarantined_files WHERE repo = '{repo}'`."
    )


def quarantine_section(s: IngestSummary, standing: Standing) -> dg.MetadataValue:
    table = reasons_table(s.reasons, standing.reasons)
    if standing.reasons or s.reasons:
        table += "\n\n" + quarantine_pointer(standing.repo)
    return dg.MetadataValue.md(table)


def this_run(s: IngestSummary) -> dict[str, Any]:
    """What one run changed (not plotted: a no-op run would draw zeros)."""
    return {
        "discovered": s.discovered,
        "new": s.new,
        "changed": s.changed,
        "unchanged": s.unchanged,
        "deleted": s.deleted,
        "extracted": s.extracted,
        "quarantined": s.quarantined,
        "excluded": s.excluded,
        "reused": s.reused,
        "bytes_read": s.bytes_read,
    }
