"""What the CLI prints: names escaped for the terminal, tables, JSON, the progress bar.

Every name that came from a disk (a file name, a repository folder, a quarantine detail) goes
through :func:`safe` before it reaches a terminal: a newline or an ANSI escape in a file name
must not forge rows or move the cursor. JSON output needs no escaping beyond JSON's own.
"""

import sys
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

import click
import orjson

from ..ingest import Progress as IngestProgress

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

# rich is imported where a terminal is written to, not by every command: its import is ~45 ms
# of a command's start, paid for nothing when the output is piped.

__all__ = ["ProgressBar", "cell", "echo_json", "error", "safe", "table"]

# Control characters (C0, C1, DEL), format characters (bidi overrides, zero-width joiners),
# line and paragraph separators: each is shown as an escape, never written as is.
_UNSAFE = {"Cc", "Cf", "Zl", "Zp"}
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def safe(text: object) -> str:
    """``text`` with every character that could act on a terminal written as an escape."""
    s = str(text)
    if s.isprintable() and "\\" not in s:
        return s
    out = []
    for ch in s:
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif unicodedata.category(ch) in _UNSAFE:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def cell(value: object) -> str:
    """A table cell: timestamps to the second, None empty, the rest escaped."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return safe(value)


def error(message: str) -> None:
    """A message on stderr in snake-pipe's words (each line escaped)."""
    click.echo("snake-pipe: " + "\n".join(safe(line) for line in message.split("\n")), err=True)


def echo_json(data: object) -> None:
    click.echo(orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2).decode())


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, empty: str) -> None:
    """Rows as a table: boxed by rich on a terminal, aligned plain text when piped."""
    if not rows:
        click.echo(empty)
        return
    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    numeric = [all(isinstance(r.get(c), int | float) or r.get(c) is None for r in rows)
               for c in columns]  # fmt: skip
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        t = Table(*columns, header_style="bold")
        for i, num in enumerate(numeric):
            t.columns[i].justify = "right" if num else "left"
        for row in cells:
            t.add_row(*(Text(v) for v in row))  # Text: no markup is read from a name
        Console().print(t)
        return
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = (v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric, strict=True))  # fmt: skip
        return "  ".join(parts).rstrip()

    click.echo(line(columns))
    for row in cells:
        click.echo(line(row))


class ProgressBar:
    """The ingest's progress on a terminal: a bar with percentage, files and ETA; silent when
    stderr is not a terminal (piped output stays plain)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        stream = stream or sys.stderr
        self.enabled = stream.isatty()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._repo: str | None = None
        if self.enabled:
            from rich import progress as bar
            from rich.console import Console

            self._progress = bar.Progress(
                bar.TextColumn("{task.description}"),
                bar.BarColumn(),
                bar.TaskProgressColumn(),
                bar.MofNCompleteColumn(),
                bar.TextColumn("{task.fields[mib]:.1f} MiB"),
                bar.TextColumn("ETA"),
                bar.TimeRemainingColumn(),
                console=Console(file=stream),
                transient=True,
            )

    def __call__(self, p: IngestProgress) -> None:
        if self._progress is None:
            return
        if self._task is None or self._repo != p.repo:
            self.close()
            self._progress.start()
            self._repo = p.repo
            self._task = self._progress.add_task(safe(p.repo), total=None, mib=0.0)
        total = p.planned if p.walk_complete else None
        self._progress.update(
            self._task,
            total=total,
            completed=p.done,
            mib=p.bytes_done / 1048576,
            description=safe(p.repo) + ("" if p.walk_complete else f" (walking, {p.discovered})"),
        )

    def close(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.stop()
            self._progress.remove_task(self._task)
            self._task = None
            self._repo = None
