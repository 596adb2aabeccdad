"""Watcher benchmarks: change → row latency, idle CPU and start-up of ``snake-pipe watch``.

Issue 4's targets: a file closed → its row visible in ``extracted_files`` in p95 ≤ 1 s with
``snake-pipe watch --ingest``; with 100,000 files watched, the watcher uses under 1% of a core
when idle and starts in under 2 s. Nothing here asserts: it prints figures for the README.

``latency``  starts ``snake-pipe watch --ingest`` (default settings: settle 0.2 s) on a
             generated repository, waits for its start-up rescan, then writes files one at a
             time, each with new content, and times close → the row is visible to a reader.
             Visibility is polled every ``--poll`` seconds (the figure is that coarse) on a
             plain ``connect_readonly()`` connection. Meanwhile another process, a plain
             reader, queries the store every ``--reader-poll`` seconds (0: none), and its
             failed reads are counted.
``idle``     generates ``--watched`` files, starts ``snake-pipe watch`` (no ingest: the process
             the Dagster sensor keeps alive) and reports its start-up — launch (Python start-up
             included) → the start-up rescan marker committed, i.e. every watch in place — and
             its CPU from ``/proc/<pid>/stat`` over ``--seconds`` of quiet.

Usage::

    python -m bench.watch_latency latency --files 100
    python -m bench.watch_latency idle --watched 100000 --seconds 10
    python -m bench.watch_latency all                      # both, at those sizes
    python -m bench.watch_latency all --small              # a quick check that it works
"""

import argparse
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import orjson

__all__ = ["main"]

PROJECT = Path(__file__).resolve().parent.parent
PY = sys.executable
FILES_PER_FOLDER = 100


def ast_document(i: int, functions: int = 6) -> bytes:
    """A small ESTree program; ``i`` makes its content (and hash) unique."""
    body = [
        {
            "type": "FunctionDeclaration",
            "id": {"type": "Identifier", "name": f"f{i}_{n}"},
            "params": [{"type": "Identifier", "name": "x"}],
            "body": {
                "type": "BlockStatement",
                "body": [
                    {
                        "type": "IfStatement",
                        "test": {"type": "Identifier", "name": "x"},
                        "consequent": {"type": "ReturnStatement", "argument": None},
                        "alternate": None,
                    }
                ],
            },
        }
        for n in range(functions)
    ]
    return orjson.dumps({"type": "Program", "sourceType": "module", "body": body})


def generate(root: Path, n: int) -> None:
    """``n`` files, ``FILES_PER_FOLDER`` to a folder, two folder levels."""
    for i in range(n):
        folder = root / f"pkg{i // (FILES_PER_FOLDER * 100)}" / f"mod{i // FILES_PER_FOLDER}"
        if i % FILES_PER_FOLDER == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{i}.js.ast.json").write_bytes(ast_document(i, functions=2))


def write_config(work: Path, root: Path) -> Path:
    config = work / "snake_pipe.toml"
    config.write_text(f'store = "{work / "store"}"\n\n[[repos]]\nname = "bench"\npath = "{root}"\n')
    return config


@contextmanager
def watcher(config: Path, log: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [PY, "-m", "snake_pipe_core.cli", "--config", str(config), "watch", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def journal_last_seq(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_latency(work: Path, files: int, base: int, poll: float, reader_poll: float) -> None:
    sys.path.insert(0, str(PROJECT))
    from bench.plain_reader import polling_reader, reader_report
    from snake_pipe_core import Store, connect_readonly

    root = work / "latency-repo"
    generate(root, base)
    config = write_config(work, root)
    Store(work / "store").open()
    con = connect_readonly(work / "store")

    def visible(path: str) -> bool:
        sql = "SELECT count(*) FROM extracted_files WHERE path = ?"
        return bool(con.execute(sql, [path]).fetchall()[0][0])

    reader = (
        polling_reader(work / "store", work, pause=reader_poll)
        if reader_poll > 0
        else nullcontext(None)
    )
    with reader as reads, watcher(config, work / "latency.log", "--ingest"):
        deadline = time.monotonic() + 600
        while not visible(f"pkg0/mod{(base - 1) // FILES_PER_FOLDER}/file{base - 1}.js.ast.json"):
            if time.monotonic() > deadline:
                raise SystemExit("the start-up rescan did not finish in 10 minutes")
            time.sleep(0.2)
        time.sleep(1.0)
        latencies: list[float] = []
        for i in range(files):
            rel = f"new/file{i}.js.ast.json"
            (root / "new").mkdir(exist_ok=True)
            with (root / rel).open("wb") as f:
                f.write(ast_document(base + i))
            closed = time.monotonic()
            while not visible(rel):
                if time.monotonic() - closed > 30:
                    raise SystemExit(f"{rel} never became visible")
                time.sleep(poll)
            latencies.append(time.monotonic() - closed)
            time.sleep(0.05)  # one at a time: the next change arrives after a quiet moment
    con.close()
    ms = [x * 1000 for x in latencies]
    print(
        f"latency, close → row in extracted_files ({files} files, {base} already in the "
        f"repository, polled every {poll * 1000:.0f} ms): p50 {percentile(ms, 0.5):.0f} ms, "
        f"p95 {percentile(ms, 0.95):.0f} ms, max {max(ms):.0f} ms, "
        f"mean {statistics.fmean(ms):.0f} ms"
    )
    if reads is not None:
        report = reader_report(reads)
        print(
            f"  meanwhile a plain reader in another process queried the store every "
            f"{reader_poll * 1000:.0f} ms: {report['reads']} reads, {report['failed_reads']} "
            f"failed {report['errors'] or ''}"
        )


def bench_idle(work: Path, watched: int, seconds: float) -> None:
    root = work / "idle-repo"
    t = time.perf_counter()
    generate(root, watched)
    print(f"generated {watched} files in {time.perf_counter() - t:.1f} s")
    config = write_config(work, root)
    journal = work / "store" / "journal.sqlite"
    log = work / "idle.log"
    hz = os.sysconf("SC_CLK_TCK")
    # twice: the first start also creates the journal; the second is the one reported
    for attempt in (1, 2):
        started = time.perf_counter()
        before = journal_last_seq(journal)
        with watcher(config, log) as proc:
            while journal_last_seq(journal) <= before:
                if proc.poll() is not None or time.perf_counter() - started > 120:
                    raise SystemExit(f"the watcher did not start; see {log}")
                time.sleep(0.005)
            startup = time.perf_counter() - started
            if attempt == 1:
                continue
            time.sleep(1.0)
            ticks, t0 = cpu_ticks(proc.pid), time.perf_counter()
            time.sleep(seconds)
            used = (cpu_ticks(proc.pid) - ticks) / hz
            elapsed = time.perf_counter() - t0
    setup = [ln for ln in log.read_text().splitlines() if "repositories in" in ln]
    print(
        f"start-up with {watched} files ({watched // FILES_PER_FOLDER} folders) watched: "
        f"{startup:.2f} s from launch to every watch in place (Python start-up included)"
    )
    if setup:
        print(f"  the watcher's own log: {setup[-1].split(': ', 1)[-1]}")
    print(
        f"idle CPU over {elapsed:.1f} s: {used:.2f} s of CPU = {100 * used / elapsed:.2f}% "
        f"of a core (clock tick {1000 / hz:.0f} ms)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.watch_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=["latency", "idle", "all"])
    parser.add_argument("--files", type=int, default=100, help="files timed for latency")
    parser.add_argument("--base", type=int, default=2000, help="files in the latency repository")
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between checks")
    parser.add_argument("--reader-poll", type=float, default=0.05,
                        help="a plain reader in another process queries the store this often "
                        "(seconds; 0: no reader)")  # fmt: skip
    parser.add_argument("--watched", type=int, default=100_000, help="files watched (idle)")
    parser.add_argument("--seconds", type=float, default=10.0, help="idle CPU window")
    parser.add_argument("--small", action="store_true", help="a quick check at a tiny scale")
    parser.add_argument("--workdir", type=Path, help="where to generate (default: a temp folder, "
                        "removed afterwards)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.small:
        args.files, args.base, args.watched, args.seconds = 10, 50, 2000, 2.0
    work = args.workdir or Path(tempfile.mkdtemp(prefix="snake-pipe-watch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.what in ("latency", "all"):
            bench_latency(work, args.files, args.base, args.poll, args.reader_poll)
        if args.what in ("idle", "all"):
            bench_idle(work, args.watched, args.seconds)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
