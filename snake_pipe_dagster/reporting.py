"""Readable summaries of an ingest: Markdown tables for the UI and plain text for the demo."""

from collections.abc import Mapping, Sequence

__all__ = ["STATES", "markdown_table", "reasons_table", "text_table"]

STATES = ("extracted", "quarantined", "excluded", "deleted")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (``|`` in cells escaped)."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def reasons_table(
    this_run: Mapping[str, int], in_store: Mapping[str, int], *, top: int = 15
) -> str:
    """Quarantine reasons, most frequent first: files quarantined by this run and files of
    the repository waiting in quarantine now."""
    reasons = sorted(
        set(this_run) | set(in_store), key=lambda r: (-in_store.get(r, 0), -this_run.get(r, 0), r)
    )
    if not reasons:
        return "No file is in quarantine."
    rows = [(f"`{r}`", this_run.get(r, 0), in_store.get(r, 0)) for r in reasons[:top]]
    table = markdown_table(("reason", "this run", "in quarantine now"), rows)
    if len(reasons) > top:
        table += f"\n\n…and {len(reasons) - top} more reasons."
    return table


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A fixed-width text table for a terminal; numbers right-aligned."""
    cells = [[str(h) for h in headers], *[[str(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]

    def fmt(row: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(row, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(cells[0]), rule, *(fmt(r) for r in cells[1:])])
