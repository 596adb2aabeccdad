"""A plain reader polling the store while a benchmark runs, as an analyst's notebook does.

The reader is ``tests/fixtures/readers.py`` in a process of its own: one
``connect_readonly()`` connection queried every ``pause`` seconds (``held``), or a new
connection per read (``python``), or DuckDB's CLI with the README's ATTACH (``cli``). It
speaks no snake-pipe lock: what it sees is what users see. :func:`polling_reader` yields the
file its reads go to; :func:`reader_report` sums them up.
"""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["polling_reader", "reader_report"]

PROJECT = Path(__file__).resolve().parent.parent
READER = PROJECT / "tests" / "fixtures" / "readers.py"


@contextmanager
def polling_reader(
    store: Path, work: Path, *, pause: float = 0.05, kind: str = "held"
) -> Iterator[Path]:
    out = work / f"reads-{kind}-{time.monotonic_ns()}.jsonl"
    stop = work / f"stop-{time.monotonic_ns()}"
    duckdb = str(Path(sys.executable).parent / "duckdb") if kind == "cli" else ""
    proc = subprocess.Popen(
        [sys.executable, str(READER), kind, str(store), str(stop), str(out), duckdb, str(pause)]
    )
    try:
        yield out
    finally:
        stop.touch()
        proc.wait(60)


def reader_report(out: Path) -> dict[str, object]:
    reads = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    failed = [r["error"] for r in reads if not r["ok"]]
    return {"reads": len(reads), "failed_reads": len(failed), "errors": failed[:3]}
