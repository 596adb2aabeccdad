"""Verdicts as rows ready for the store: what workers send back and batches commit.

A worker turns each :class:`~snake_pipe_core.models.FileVerdict` into plain tuples — one
manifest row, and a metadata row when the file was parsed — and counts outcomes as it goes.
Tuples pickle in C and become Arrow columns with one ``zip``, so the coordinating process,
which also walks the tree and commits, spends microseconds per file instead of building and
unpickling objects: on small files it was the bottleneck of the whole ingest.
"""

from dataclasses import dataclass, field
from typing import Any

from ..languages import language_from_name
from ..models import AstMetadata, FileState, FileVerdict
from .discovery import storage_path

__all__ = ["MANIFEST_COLUMNS", "METADATA_COLUMNS", "Results"]

# The order of a manifest row and of a metadata row.
MANIFEST_COLUMNS = (
    "path", "size_bytes", "mtime_ns", "content_hash", "format", "name_language", "state",
    "reason", "detail",
)  # fmt: skip
METADATA_COLUMNS = ("content_hash", *AstMetadata._fields)
_EXTRACTED = FileState.EXTRACTED.value


@dataclass(slots=True)
class Results:
    """Rows of a batch of verdicts, and what they add up to."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    metas: list[tuple[Any, ...]] = field(default_factory=list)
    extracted: int = 0
    quarantined: int = 0
    excluded: int = 0
    vanished: int = 0
    reused: int = 0
    bytes_read: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    # Extracted files by language, as ``ast_files`` says it, counted from their analysis here;
    # the stored paths of extracted files analysed before (reused: no analysis here), whose
    # language the store says at the end of the run.
    languages: dict[str, int] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)

    def add(self, v: FileVerdict) -> None:
        path = storage_path(v.path)
        name_language = language_from_name(v.path)
        m = v.metadata
        if m is not None:  # analysed here (a verdict with metadata is extracted): most files
            self.extracted += 1
            self.bytes_read += v.size
            # schema.FILE_LANGUAGE: declared, else the name's, else the format's (each is a
            # non-empty name or None)
            language = m.declared_language or name_language or m.format_language or "unknown"
            self.languages[language] = self.languages.get(language, 0) + 1
            self.rows.append(
                (path, v.size, v.mtime_ns, v.content_hash, v.format, name_language, _EXTRACTED,
                 None, None)
            )  # fmt: skip
            self.metas.append((v.content_hash, *m[:-1], m.node_types.decode()))
            return
        state = v.state
        if state is FileState.EXTRACTED:  # reused: its metadata is in the store
            self.extracted += 1
            self.reused += v.reused
            self.unresolved.append(path)
        elif state is FileState.QUARANTINED:
            self.quarantined += 1
            reason = v.reason.value if v.reason is not None else ""
            self.reasons[reason] = self.reasons.get(reason, 0) + 1
        elif state is FileState.EXCLUDED:
            self.excluded += 1
        else:
            self.vanished += 1
        if v.content_hash is not None:
            self.bytes_read += v.size
        self.rows.append(
            (
                path,
                v.size,
                v.mtime_ns,
                v.content_hash,
                v.format,
                name_language,
                state.value,
                v.reason.value if v.reason is not None else v.excluded_by,
                v.detail,
            )
        )

    def extend(self, other: "Results") -> None:
        self.rows += other.rows
        self.metas += other.metas
        self.extracted += other.extracted
        self.quarantined += other.quarantined
        self.excluded += other.excluded
        self.vanished += other.vanished
        self.reused += other.reused
        self.bytes_read += other.bytes_read
        for reason, n in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n
        for language, n in other.languages.items():
            self.languages[language] = self.languages.get(language, 0) + n
        self.unresolved += other.unresolved

    @classmethod
    def of(cls, verdicts: "list[FileVerdict]") -> "Results":
        results = cls()
        for v in verdicts:
            results.add(v)
        return results

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def analysed(self) -> int:
        """Files looked at (not excluded by a rule), vanished ones included."""
        return len(self.rows) - self.excluded
