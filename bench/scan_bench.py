"""Scanner benchmarks: the native path against the physical limit, and the hash per file.

Figures and ratios against baselines measured in the same run (contenders interleaved, medians,
page cache warmed); nothing is asserted. See also :mod:`bench.ingest_bench`.

``throughput``  full ingest (``snake-pipe ingest``, native scanner) against DuckDB's C++
                ``json_valid`` over the same files (``read_text``, same number of threads), and
                the baselines of ``ingest_bench``: the same ingest on the pure-Python path
                (``SNAKE_PIPE_SCANNER=off``), the *bare reference* (read + ``orjson.loads`` + an
                iterative node count in as many processes) and the *naive loop* (one process,
                ``json``).
                ``engine-no-store`` is the same walk, pool, read, hash, scan and result rows
                without the store: the analysis side's own cost.
``analysis``    one process, files already in memory: the native scanner (validate + measure +
                metadata) against the Python path (``orjson``/our parsers + the format's walk)
                and ``orjson.loads`` alone, in MB/s.
``hash``        sha256 (OpenSSL; what stores created before BLAKE3 keep) against BLAKE3 (the
                ``blake3`` package, what new stores hash with), single-threaded, over the same
                files (MB/s, µs per file) and by file size.

Usage::

    python -m bench.scan_bench throughput --files 3000
    python -m bench.scan_bench throughput --files 100000 --profile small
    python -m bench.scan_bench analysis --files 2000
    python -m bench.scan_bench hash --files 2000
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.ingest_bench import (
    _BARE,
    _NAIVE,
    BENCH_OUT,
    PROJECT,
    PY,
    Measured,
    _corpus,
    _fresh_store,
    _ingest_cmd,
    _measure,
    _script,
    compile_project,
)

__all__ = ["main"]

# DuckDB's JSON validator over every file, as a scan of the same bytes: read_text reads each
# file whole, json_valid parses it with yyjson. The physical limit the issue measures against.
_DUCKDB = r"""
import sys, duckdb
con = duckdb.connect()
con.execute(f"SET threads = {int(sys.argv[2])}")
n = con.execute(
    "SELECT count(*) FILTER (WHERE json_valid(content)) FROM read_text(?)",
    [sys.argv[1] + "/**/*.json"],
).fetchone()[0]
print(n)
"""


# The engine without the store: the same walk, worker pool, reading, hashing, scanning and
# result rows as an ingest, the rows thrown away. What the analysis side costs on its own.
_ENGINE = r"""
import sys
from snake_pipe_core.analysis import AnalysisSettings, WorkItem
from snake_pipe_core.ingest.workers import Executor, prestart_workers
from snake_pipe_core.config import DiscoverySettings
from snake_pipe_core.ingest.discovery import Rules, Walk, check_root
from snake_pipe_core.hashes import KnownHashes

if __name__ == "__main__":
    root = check_root(sys.argv[1])
    prestart_workers()
    items = (
        WorkItem(e.path, e.size)
        for e in Walk(root, Rules(DiscoverySettings())).entries()
        if e.excluded_by is None and e.problem is None
    )
    executor = Executor(
        root, AnalysisSettings(), workers=int(sys.argv[2]), known_hashes=lambda _: KnownHashes()
    )
    print(sum(len(r.metas) for r in executor.run(items)))
"""


def _files(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(root.rglob("*.json"))]


def bench_throughput(args: argparse.Namespace, work: Path) -> dict[str, object]:
    root, files, size = _corpus(args, work)
    w = str(args.workers)
    python_env = {**os.environ, "SNAKE_PIPE_SCANNER": "off"}
    contenders: dict[str, tuple[Callable[[], list[str]], dict[str, str] | None]] = {
        "snake-pipe": (lambda: _ingest_cmd(root, _fresh_store(work), "--workers", w), None),
        "snake-pipe-python": (
            lambda: _ingest_cmd(root, _fresh_store(work), "--workers", w),
            python_env,
        ),
        "engine-no-store": (lambda: _script(_ENGINE, str(root), w), None),
        "duckdb-json_valid": (lambda: _script(_DUCKDB, str(root), w), None),
        "bare": (lambda: _script(_BARE, str(root), w), None),
        "naive": (lambda: _script(_NAIVE, str(root)), None),
    }
    if args.skip:
        for name in args.skip.split(","):
            contenders.pop(name, None)
    runs: dict[str, list[Measured]] = {k: [] for k in contenders}
    for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits all alike
        for name, (cmd, env) in contenders.items():
            runs[name].append(_measure_env(cmd(), env))
    wall = {k: statistics.median(m.seconds for m in v) for k, v in runs.items()}
    cpu = {k: statistics.median(m.cpu_seconds for m in v) for k, v in runs.items()}
    sp = wall.get("snake-pipe", float("nan"))
    result: dict[str, object] = {
        "files": files,
        "mb": round(size / 1e6, 1),
        "avg_kb": round(size / files / 1e3, 1),
        "workers": args.workers,
        "seconds": {k: [round(m.seconds, 3) for m in v] for k, v in runs.items()},
        "cpu_seconds": {k: [round(m.cpu_seconds, 2) for m in v] for k, v in runs.items()},
        "median_seconds": {k: round(v, 3) for k, v in wall.items()},
        "ingest_over_duckdb": round(sp / wall["duckdb-json_valid"], 3)
        if "duckdb-json_valid" in wall
        else None,
        "ratio_vs_bare": round(wall["bare"] / sp, 3) if "bare" in wall else None,
        "ratio_vs_naive": round(wall["naive"] / sp, 3) if "naive" in wall else None,
        "ratio_vs_python_path": round(wall["snake-pipe-python"] / sp, 3)
        if "snake-pipe-python" in wall
        else None,
        "engine_over_duckdb": round(wall["engine-no-store"] / wall["duckdb-json_valid"], 3)
        if "engine-no-store" in wall and "duckdb-json_valid" in wall
        else None,
        "engine_vs_bare": round(wall["bare"] / wall["engine-no-store"], 3)
        if "engine-no-store" in wall and "bare" in wall
        else None,
        # The same, round by round: the median of each round's ratio. Rounds are
        # interleaved, so drift on a shared machine (a slow minute) hits both sides of a
        # round alike; the ratio of the medians mixes rounds of different speed.
        "paired_vs_bare": _paired(runs, "bare", "snake-pipe"),
        "paired_engine_vs_bare": _paired(runs, "bare", "engine-no-store"),
    }
    print(
        f"throughput on {files} files ({size / 1e6:.0f} MB, avg {size / files / 1e3:.1f} KB), "
        f"{args.workers} workers/threads, median of {args.repeat} (wall, CPU of all processes):"
    )
    for k in contenders:
        print(
            f"  {k:<20} {wall[k]:7.2f} s  {files / wall[k] * 60:>10,.0f} files/min  "
            f"cpu {cpu[k]:6.1f} s"
        )
    for key in (
        "ingest_over_duckdb",
        "ratio_vs_bare",
        "ratio_vs_naive",
        "ratio_vs_python_path",
        "engine_over_duckdb",
        "engine_vs_bare",
        "paired_vs_bare",
        "paired_engine_vs_bare",
    ):
        if result[key] is not None:
            print(f"  {key:<22} {result[key]:.2f}x")
    return result


def _paired(runs: dict[str, list[Measured]], base: str, other: str) -> float | None:
    """The median over rounds of ``base``'s time over ``other``'s in the same round."""
    if base not in runs or other not in runs:
        return None
    ratios = [b.seconds / o.seconds for b, o in zip(runs[base], runs[other], strict=True)]
    return round(statistics.median(ratios), 3)


def _measure_env(cmd: list[str], env: dict[str, str] | None) -> Measured:
    if env is None:
        return _measure(cmd)
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return _measure(cmd)
    finally:
        os.environ.clear()
        os.environ.update(old)


def _best(f: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_analysis(args: argparse.Namespace, work: Path) -> dict[str, object]:
    import orjson

    from snake_pipe_core.analysis import AnalysisSettings, Analyzer

    root, files, size = _corpus(args, work)
    docs = _files(root)
    native = Analyzer(AnalysisSettings())
    python = Analyzer(AnalysisSettings(native=False))
    if native.native is None:
        raise SystemExit("the native scanner is not built")

    def run(a: Analyzer) -> Callable[[], None]:
        def go() -> None:
            for d in docs:
                a.analyze_bytes(d, path="x.json", size=len(d), mtime_ns=0, digest="h")

        return go

    def loads() -> None:
        for d in docs:
            try:
                orjson.loads(d)
            except orjson.JSONDecodeError:
                pass

    timings = {
        "native": _best(run(native), args.repeat),
        "python": _best(run(python), args.repeat),
        "orjson.loads": _best(loads, args.repeat),
    }
    print(f"analysis in one process, {files} files, {size / 1e6:.0f} MB, median of {args.repeat}:")
    for k, v in timings.items():
        print(f"  {k:<14} {v:7.3f} s  {size / v / 1e6:8.0f} MB/s  {v / files * 1e6:8.1f} µs/file")
    print(f"  native is {timings['python'] / timings['native']:.1f}x the Python path")
    return {"files": files, "mb": round(size / 1e6, 1), "seconds": timings}


def bench_hash(args: argparse.Namespace, work: Path) -> dict[str, object]:
    import blake3

    root, files, size = _corpus(args, work)
    docs = _files(root)
    hashers: dict[str, Callable[[bytes], bytes]] = {
        "sha256": lambda b: hashlib.sha256(b).digest(),
        "blake3": lambda b: blake3.blake3(b).digest(),
    }
    out: dict[str, object] = {"files": files, "mb": round(size / 1e6, 1)}
    print(
        f"hashing, one thread, {files} files ({size / 1e6:.0f} MB, avg "
        f"{size / files / 1e3:.1f} KB), best of {args.repeat}:"
    )
    for name, h in hashers.items():
        t = _best(lambda h=h: [h(d) for d in docs], args.repeat)
        out[name] = {"mb_per_s": round(size / t / 1e6), "us_per_file": t / files * 1e6}
        print(f"  {name:<8} {size / t / 1e6:7.0f} MB/s   {t / files * 1e6:8.2f} µs per file")
    # BLAKE3 hashes 1 KB chunks side by side with SIMD; below a few KB, and for a last
    # partial group of chunks, it works serially, so small files are where sha256 can win.
    print("  by size (random bytes), µs per file:")
    by_size: dict[int, dict[str, float]] = {}
    for n in (1024, 2048, 3400, 4096, 8192, 16384, 65536, 1 << 20):
        blobs = [os.urandom(n) for _ in range(max(20, (8 << 20) // n))]
        row = {
            name: _best(lambda h=h, bs=blobs: [h(b) for b in bs], args.repeat) / len(blobs) * 1e6
            for name, h in hashers.items()
        }
        by_size[n] = row
        print(
            f"  {n:>9,} B  sha256 {row['sha256']:8.2f}   blake3 {row['blake3']:8.2f}   "
            f"({row['sha256'] / row['blake3']:.2f}x)"
        )
    out["by_size_us"] = by_size
    return out


BENCHES = {"throughput": bench_throughput, "analysis": bench_analysis, "hash": bench_hash}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scan_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bench", choices=sorted(BENCHES))
    parser.add_argument("--files", type=int, default=3_000)
    parser.add_argument("--profile", default="realistic", choices=["realistic", "small", "large"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", default="", help="contenders to leave out, comma-separated")
    parser.add_argument("--work", type=Path, help="folder for the corpus and stores (kept)")
    parser.add_argument("--corpus", type=Path, help="an existing repository instead of a new one")
    args = parser.parse_args(argv)
    compile_project()
    work = args.work or Path(tempfile.mkdtemp(prefix="snake-scan-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = BENCHES[args.bench](args, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    BENCH_OUT.mkdir(parents=True, exist_ok=True)
    kind = args.corpus.name if args.corpus else args.profile  # a given corpus: its folder's name
    out = BENCH_OUT / f"scan-{args.bench}-{result.get('files', args.files)}-{kind}.json"
    out.write_text(json.dumps({"bench": args.bench, "python": PY, **result}, indent=2) + "\n")
    print(f"(written to {out.relative_to(PROJECT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
