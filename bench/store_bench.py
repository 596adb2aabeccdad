"""Store benchmarks: many writers and readers at once, and what maintenance buys.

Nothing here asserts: it prints figures and ratios for the README.

``concurrency``  ``--writers`` ingests of different repositories (``snake-pipe ingest``, one
                 process each) at once, while ``--readers`` plain readers in processes of their
                 own query the store every 50 ms (one ``connect_readonly()`` connection each,
                 as a notebook does, and DuckDB's CLI with the README's ATTACH). Reports
                 failed runs, failed reads, and the commits DuckLake's busy catalog made the
                 writers retry; and the wall time against the same ingests one after another
                 (measured in the same run).
``maintenance``  the same ``--files`` files committed one file per run (the watcher's way)
                 into one store, and in one bulk run into another; then typical queries timed
                 on both (median of 5), before and after ``snake-pipe store maintain`` on the
                 first. Target: after maintenance, within 1.5x of the bulk store.

Usage::

    python -m bench.store_bench concurrency --writers 4 --files 3000
    python -m bench.store_bench maintenance --files 1000
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.plain_reader import polling_reader, reader_report  # noqa: E402

__all__ = ["main"]

PY = sys.executable
BENCH_OUT = PROJECT / "bench" / "out"
QUERIES = {
    "files by language": "SELECT language, count(*), sum(function_count) FROM extracted_files "
    "GROUP BY 1",
    "one repository's files": "SELECT state, count(*) FROM ast_files WHERE repo = 'r' GROUP BY 1",
    "quarantine": "SELECT reason, count(*) FROM quarantined_files GROUP BY 1",
    "one file": "SELECT * FROM extracted_files WHERE path = (SELECT min(path) FROM manifest)",
}


def _corpus(work: Path, repos: int, files: int) -> list[Path]:
    out = work / "corpus"
    if not out.exists():
        subprocess.run(
            [PY, "-m", "bench.corpus", str(out), "--files", str(files),
             "--repos", str(repos), "--profile", "small"],
            check=True, cwd=PROJECT, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return sorted(p for p in out.iterdir() if p.is_dir())


def _ingest(root: Path, store: Path) -> list[str]:
    return [PY, "-m", "snake_pipe_core.cli", "ingest", str(root), "--store", str(store),
            "--workers", "1", "--json"]  # fmt: skip


def bench_concurrency(work: Path, writers: int, files: int, readers: int) -> dict[str, object]:
    roots = _corpus(work, writers, files)
    sequential_store = work / "sequential"
    started = time.perf_counter()
    for root in roots:
        subprocess.run(_ingest(root, sequential_store), check=True, capture_output=True)
    sequential = time.perf_counter() - started

    store = work / "concurrent"
    from snake_pipe_core import Store

    Store(store).open().close()  # the readers start on an empty store
    kinds = ["held", "cli"] * readers
    outs: list[Path] = []
    from contextlib import ExitStack

    with ExitStack() as stack:
        outs = [stack.enter_context(polling_reader(store, work, kind=k)) for k in kinds[:readers]]
        time.sleep(1.0)
        started = time.perf_counter()
        procs = [subprocess.Popen(_ingest(r, store), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for r in roots]  # fmt: skip
        results = [p.communicate() for p in procs]
        concurrent = time.perf_counter() - started
        time.sleep(0.5)
    runs = []
    for p, (out, err) in zip(procs, results, strict=True):
        summary = json.loads(out) if p.returncode == 0 else {"status": "failed", "error": err}
        repo = summary.get("repos", [{}])[0] if p.returncode == 0 else {}
        runs.append({"status": summary.get("status"), "files": summary.get("discovered"),
                     "commit_retries": repo.get("commit_retries", 0),
                     "seconds": repo.get("seconds"),
                     "error": err.strip()[-500:] if p.returncode else None})  # fmt: skip
    reads = [reader_report(o) | {"kind": k} for o, k in zip(outs, kinds, strict=False)]
    return {
        "writers": writers,
        "files_per_writer": files,
        "concurrent_s": round(concurrent, 2),
        "sequential_s": round(sequential, 2),
        "speedup": round(sequential / concurrent, 2),
        "failed_runs": sum(r["status"] != "succeeded" for r in runs),
        "commit_retries": sum(int(r["commit_retries"] or 0) for r in runs),
        "runs": runs,
        "readers": reads,
        "failed_reads": sum(int(r["failed_reads"]) for r in reads),  # type: ignore[call-overload]
    }


def _time_queries(store: Path) -> dict[str, float]:
    from snake_pipe_core import connect_readonly

    con = connect_readonly(store)
    out = {}
    for name, sql in QUERIES.items():
        con.execute(sql).fetchall()  # warm
        times = []
        for _ in range(5):
            t = time.perf_counter()
            con.execute(sql).fetchall()
            times.append(time.perf_counter() - t)
        out[name] = statistics.median(times)
    t = time.perf_counter()
    connect_readonly(store).close()
    out["attach"] = time.perf_counter() - t
    con.close()
    return out


def bench_maintenance(work: Path, files: int) -> dict[str, object]:
    from snake_pipe_core import Store, ingest_repository, load_settings, maintain

    [root] = _corpus(work, 1, files)
    settings = load_settings(env={}, workers=1)
    paths = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    small = Store(work / "one-file-commits")
    started = time.perf_counter()
    for path in paths:
        ingest_repository(root, store=small, settings=settings, repo="r", paths=[path])
    one_by_one = time.perf_counter() - started
    bulk = Store(work / "bulk")
    ingest_repository(root, store=bulk, settings=settings, repo="r")
    small.close()
    bulk.close()
    bulk_q = _time_queries(work / "bulk")
    before_q = _time_queries(work / "one-file-commits")
    report = maintain(small, keep_snapshots_days=0)
    small.close()
    after_q = _time_queries(work / "one-file-commits")
    ratios = {
        name: {"bulk_ms": round(bulk_q[name] * 1000, 1),
               "small_commits_ms": round(before_q[name] * 1000, 1),
               "after_maintenance_ms": round(after_q[name] * 1000, 1),
               "before_vs_bulk": round(before_q[name] / bulk_q[name], 2),
               "after_vs_bulk": round(after_q[name] / bulk_q[name], 2)}
        for name in bulk_q
    }  # fmt: skip
    return {
        "files": len(paths),
        "one_file_runs_s": round(one_by_one, 1),
        "maintenance": report.as_dict(),
        "queries": ratios,
        "worst_after_vs_bulk": max(r["after_vs_bulk"] for r in ratios.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("what", choices=["concurrency", "maintenance"])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--files", type=int, help="files per writer (concurrency: 3000) or in "
                        "all (maintenance: 1000)")  # fmt: skip
    parser.add_argument("--work", type=Path, help="folder for the corpus and stores (kept)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="snake-pipe-store-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.what == "concurrency":
            result = bench_concurrency(work, args.writers, args.files or 3000, args.readers)
            print(
                f"{result['writers']} concurrent ingests of {result['files_per_writer']} files "
                f"each, {args.readers} plain readers polling every 50 ms:\n"
                f"  wall {result['concurrent_s']} s together vs {result['sequential_s']} s one "
                f"after another ({result['speedup']}x)\n"
                f"  failed runs {result['failed_runs']}, failed reads {result['failed_reads']}, "
                f"commits retried on a busy catalog {result['commit_retries']}"
            )
            for r in result["readers"]:  # type: ignore[attr-defined]
                print(f"  reader {r['kind']}: {r['reads']} reads, {r['failed_reads']} failed")
        else:
            result = bench_maintenance(work, args.files or 1000)
            m = result["maintenance"]
            print(
                f"{result['files']} files committed one per run ({result['one_file_runs_s']} s) "
                f"vs one bulk run; maintenance: {m['files_before']} → {m['files_after']} data "
                f"files, {m['seconds']} s"
            )
            for name, r in result["queries"].items():  # type: ignore[attr-defined]
                print(f"  {name:<24} bulk {r['bulk_ms']:7.1f} ms   one-file commits "
                      f"{r['small_commits_ms']:7.1f} ms ({r['before_vs_bulk']}x)   after "
                      f"maintenance {r['after_maintenance_ms']:7.1f} ms "
                      f"({r['after_vs_bulk']}x)")  # fmt: skip
        BENCH_OUT.mkdir(parents=True, exist_ok=True)
        target = BENCH_OUT / f"store-{args.what}.json"
        target.write_text(json.dumps(result, indent=2) + "\n")
        print(f"(written to {target.relative_to(PROJECT)})")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
