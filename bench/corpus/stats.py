"""What a repository holds: :class:`CorpusStats`, counted while :func:`generate` writes."""

import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

from .kinds import Kind, MiB

__all__ = ["CorpusStats"]


@dataclass(slots=True)
class CorpusStats:
    """What :func:`generate` wrote.

    Attributes:
        root: the repository root.
        files: every file written (AST files, non-AST JSON, editor temp files).
        bytes: their total size.
        ast_files: ``.ast.json`` files, valid or bad.
        by_kind: valid AST files per kind (duplicates and deep files included).
        by_format: valid AST files per snake-pipe format.
        by_language: valid AST files per language.
        bad: bad files per quarantine reason snake-pipe should give them.
        bad_variants: bad files per variant (see :data:`BAD_VARIANTS`).
        duplicates: files whose content is another file's (``.d.cts`` twins, vendored copies).
        deep: Go files whose tree is over 14,000 levels deep.
        non_ast: non-AST JSON files (``package.json``…), excluded by discovery rules.
        temp: editor temp files, excluded by discovery rules.
        seconds: time taken.
        sizes: bytes of every valid AST file, per kind.
    """

    root: str
    files: int = 0
    bytes: int = 0
    ast_files: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_format: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, int] = field(default_factory=dict)
    bad: dict[str, int] = field(default_factory=dict)
    bad_variants: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    deep: int = 0
    non_ast: int = 0
    temp: int = 0
    seconds: float = 0.0
    sizes: "dict[str, array[int]]" = field(default_factory=dict, repr=False)

    def percentiles(self, kind: str, qs: Sequence[float] = (50, 90, 99, 100)) -> list[int]:
        """Size percentiles (bytes) of the valid files of ``kind``."""
        values = sorted(self.sizes.get(kind, ()))
        if not values:
            return [0 for _ in qs]
        return [values[min(len(values) - 1, int(len(values) * q / 100))] for q in qs]

    def summary(self) -> str:
        """One line: files, MB, time, and files by kind."""
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.by_kind.items()))
        extra = [f"bad {sum(self.bad.values())}"] if self.bad else []
        extra += [f"dup {self.duplicates}", f"deep {self.deep}"]
        if self.non_ast or self.temp:
            extra.append(f"non-ast {self.non_ast}, temp {self.temp}")
        rate = self.files / self.seconds if self.seconds else 0.0
        return (
            f"{os.path.basename(self.root)}: {self.files} files, {self.bytes / MiB:.1f} MB, "
            f"{self.seconds:.1f} s ({rate:.0f} files/s) | {kinds} | {', '.join(extra)}"
        )

    def _count(self, kind: Kind, size: int) -> None:
        self.by_kind[kind.name] = self.by_kind.get(kind.name, 0) + 1
        self.by_format[kind.format] = self.by_format.get(kind.format, 0) + 1
        self.by_language[kind.language] = self.by_language.get(kind.language, 0) + 1
        self.sizes.setdefault(kind.name, array("Q")).append(size)
