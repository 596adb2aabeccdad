"""Ingest benchmarks: figures and ratios against baselines measured in the same run.

Every figure is a median of ``--repeat`` runs, timed from outside the measured process (Python
start-up included on both sides), with the page cache warmed first, so ratios compare like with
like on a shared machine. Nothing here asserts: the README quotes what this prints.

``throughput``  full ingest (discovery → committed DuckLake store, ``snake-pipe ingest``) against
                (a) the *bare reference*: the same number of processes doing only read +
                ``orjson.loads`` + an iterative node count, no store; and (b) a *naive loop*:
                one process, the standard ``json`` module, the same count.
``noop``        a re-run of an unchanged repository against a bare ``os.scandir`` stat walk.
``memory``      peak memory of all processes of an ingest (RSS summed over the process tree,
                sampled every 20 ms) on many small files and on a repository of large files.
``resume``      kill an ingest with SIGKILL after its first commits; time from the next run's
                start to its first new commit.
``onefile``     the watcher's and the sensor's kind of run: one changed file of a big
                repository (``ingest_repository(paths=[...])``, in one warm process), against a
                no-op run of the whole repository in the same process. Then the same run in a
                new process each time, as a Dagster run or a ``snake-pipe`` command makes it:
                the package's import, and the run (the store attached, the first commit).

Usage::

    python -m bench.ingest_bench throughput --files 20000
    python -m bench.ingest_bench noop --files 100000
    python -m bench.ingest_bench memory --files 1000000 --profile small
    python -m bench.ingest_bench memory --files 40 --profile large
    python -m bench.ingest_bench resume --files 50000
    python -m bench.ingest_bench onefile --files 100000 --profile small
"""

import argparse
import compileall
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["main"]

PROJECT = Path(__file__).resolve().parent.parent
BENCH_OUT = PROJECT / "bench" / "out"
PY = sys.executable

# The bare reference and the naive loop, as scripts run in their own processes; both count
# nodes with the same iterative walk.
_COUNT = r"""
def count(doc):
    n, stack = 0, [doc]
    while stack:
        o = stack.pop()
        if type(o) is dict:
            n += 1
            stack.extend(o.values())
        elif type(o) is list:
            stack.extend(o)
    return n
"""

_BARE = (
    r"""
import os, sys, orjson
from concurrent.futures import ProcessPoolExecutor
"""
    + _COUNT
    + r"""
def work(paths):
    total = 0
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        try:
            total += count(orjson.loads(data))
        except orjson.JSONDecodeError:
            pass
    return total

def walk(root):
    out, stack = [], [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif e.name.endswith(".json"):
                    out.append(e.path)
    return out

if __name__ == "__main__":
    files = walk(sys.argv[1])
    workers = int(sys.argv[2])
    chunks = [files[i:i + 64] for i in range(0, len(files), 64)]
    with ProcessPoolExecutor(workers) as pool:
        print(sum(pool.map(work, chunks)))
"""
)

_NAIVE = (
    r"""
import json, os, sys
"""
    + _COUNT
    + r"""
total = 0
for dirpath, _, names in os.walk(sys.argv[1]):
    for name in names:
        if name.endswith(".json"):
            with open(os.path.join(dirpath, name), "rb") as f:
                try:
                    total += count(json.loads(f.read()))
                except (ValueError, RecursionError):
                    pass
print(total)
"""
)

_STAT_WALK = r"""
import os, sys
n, stack = 0, [sys.argv[1]]
while stack:
    with os.scandir(stack.pop()) as it:
        for e in it:
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            else:
                e.stat(follow_symlinks=False)
                n += 1
print(n)
"""


def compile_project() -> None:
    """Compile snake-pipe's modules to bytecode first, as an installed package has them.
    Where ``PYTHONDONTWRITEBYTECODE`` is set (this project's development machine sets it),
    every process of every measured run would otherwise compile them again: ~45 ms of the
    coordinating process's start (the self time of our modules on import, 80 against 36 ms),
    which no user pays."""
    compileall.compile_dir(PROJECT / "snake_pipe_core", quiet=1)


def _run(cmd: Sequence[str], **kw: object) -> float:
    """Wall seconds of one command; fails loudly if it fails."""
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    return time.perf_counter() - t


def _script(code: str, *args: str) -> list[str]:
    return [PY, "-c", code, *args]


def _ingest_cmd(root: Path, store: Path, *extra: str) -> list[str]:
    return [PY, "-m", "snake_pipe_core.cli", "ingest", str(root), "--store", str(store), *extra]


def _fresh_store(work: Path) -> Path:
    store = work / "store"
    if store.exists():
        shutil.rmtree(store)
    return store


def _median(f: Callable[[], float], repeat: int) -> tuple[float, list[float]]:
    times = [f() for _ in range(repeat)]
    return statistics.median(times), times


def _corpus(args: argparse.Namespace, work: Path) -> tuple[Path, int, int]:
    from bench.corpus import generate

    root = args.corpus or work / "repo"
    if not root.exists():
        t = time.perf_counter()
        stats = generate(
            root, files=args.files, seed=args.seed, profile=args.profile, bad_share=0.0
        )
        print(
            f"corpus: {stats.files} files, {stats.bytes / 1e6:.1f} MB "
            f"({args.profile}) written in {time.perf_counter() - t:.0f} s"
        )
    files = sum(1 for _ in root.rglob("*.json"))
    size = sum(p.stat().st_size for p in root.rglob("*.json"))
    # Warm the page cache so every contender reads from memory.
    subprocess.run(["bash", "-c", 'find "$0" -type f -print0 | xargs -0 cat > /dev/null', root])
    return root, files, size


def bench_throughput(args: argparse.Namespace, work: Path) -> dict[str, object]:
    root, files, size = _corpus(args, work)
    w = str(args.workers)
    contenders: dict[str, Callable[[], list[str]]] = {
        "snake-pipe": lambda: _ingest_cmd(root, _fresh_store(work), "--workers", w),
        "bare": lambda: _script(_BARE, str(root), w),
        "naive": lambda: _script(_NAIVE, str(root)),
    }
    runs: dict[str, list[Measured]] = {k: [] for k in contenders}
    for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits all alike
        for name, cmd in contenders.items():
            runs[name].append(_measure(cmd()))
    wall = {k: statistics.median(m.seconds for m in v) for k, v in runs.items()}
    cpu = {k: statistics.median(m.cpu_seconds for m in v) for k, v in runs.items()}
    per_min = {k: files / v * 60 for k, v in wall.items()}
    result = {
        "files": files,
        "mb": round(size / 1e6, 1),
        "avg_kb": round(size / files / 1e3, 1),
        "workers": args.workers,
        "seconds": {k: [round(m.seconds, 2) for m in v] for k, v in runs.items()},
        "cpu_seconds": {k: [round(m.cpu_seconds, 2) for m in v] for k, v in runs.items()},
        "files_per_min": {k: round(v) for k, v in per_min.items()},
        "ratio_vs_bare": round(wall["bare"] / wall["snake-pipe"], 3),
        "ratio_vs_naive": round(wall["naive"] / wall["snake-pipe"], 3),
        "cpu_ratio_vs_bare": round(cpu["bare"] / cpu["snake-pipe"], 3),
    }
    lines = [
        f"throughput on {files} files ({size / 1e6:.0f} MB, avg {size / files / 1e3:.0f} KB), "
        f"{args.workers} workers, median of {args.repeat} (wall, CPU of all processes):"
    ]
    labels = {"snake-pipe": "snake-pipe ingest", "bare": "bare reference", "naive": "naive loop"}
    for k, label in labels.items():
        lines.append(
            f"  {label:<18} {wall[k]:7.2f} s  {per_min[k]:>9,.0f} files/min  cpu {cpu[k]:6.1f} s"
        )
    lines.append(
        f"  ratio vs bare {result['ratio_vs_bare']:.2f}x (cpu {result['cpu_ratio_vs_bare']:.2f}x)"
        f"   vs naive {result['ratio_vs_naive']:.2f}x"
    )
    print("\n".join(lines))
    return result


def bench_noop(args: argparse.Namespace, work: Path) -> dict[str, object]:
    root, files, _ = _corpus(args, work)
    store = _fresh_store(work)
    _run(_ingest_cmd(root, store, "--workers", str(args.workers)))
    walk, walk_all = _median(lambda: _run(_script(_STAT_WALK, str(root))), args.repeat)
    noop, noop_all = _median(lambda: _run(_ingest_cmd(root, store)), args.repeat)
    budget = 1.5 * walk + 1.0
    print(
        f"no-op re-run of {files} unchanged files, median of {args.repeat}:\n"
        f"  snake-pipe ingest (no-op)  {noop:6.2f} s\n"
        f"  bare os.scandir stat walk  {walk:6.2f} s\n"
        f"  budget 1.5 x walk + 1 s    {budget:6.2f} s   → {noop / budget:.2f} of the budget"
    )
    return {
        "files": files,
        "noop_s": noop_all,
        "walk_s": walk_all,
        "budget_s": budget,
        "share_of_budget": round(noop / budget, 3),
    }


_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree(pid: int) -> dict[int, tuple[int, int]]:
    """``pid`` and its descendants: resident bytes and CPU ticks (user + system) of each."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[bytes]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, stack = {}, [pid]
    while stack:
        p = stack.pop()
        stack.extend(children.get(p, []))
        if p in stats:
            fields = stats[p]
            # after the name: state ppid … utime (12th) stime (13th) … rss (22nd), in pages
            out[p] = (int(fields[21]) * _PAGE, int(fields[11]) + int(fields[12]))
    return out


@dataclass
class Measured:
    seconds: float
    peak_rss: int
    cpu_seconds: float


def _measure(cmd: Sequence[str], *, every: float = 0.05) -> Measured:
    """Run ``cmd``; sample its process tree: peak resident memory (summed over processes)
    and CPU time (each process's last sample, so a process living less than ``every``
    may be missed)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak, ticks = 0, {}
    t = time.perf_counter()
    while proc.poll() is None:
        tree = _tree(proc.pid)
        peak = max(peak, sum(rss for rss, _ in tree.values()))
        for p, (_, cpu) in tree.items():
            ticks[p] = max(ticks.get(p, 0), cpu)
        time.sleep(every)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed with {proc.returncode}")
    return Measured(seconds, peak, sum(ticks.values()) / _TICK)


def _peak_rss(cmd: Sequence[str]) -> tuple[float, int]:
    m = _measure(cmd, every=0.02)
    return m.seconds, m.peak_rss


def bench_memory(args: argparse.Namespace, work: Path) -> dict[str, object]:
    root, files, size = _corpus(args, work)
    store = _fresh_store(work)
    seconds, peak = _peak_rss(_ingest_cmd(root, store, "--workers", str(args.workers)))
    again, peak_again = _peak_rss(_ingest_cmd(root, store, "--workers", str(args.workers)))
    print(
        f"peak memory, all processes, {files} files ({size / 1e6:.0f} MB, {args.profile}):\n"
        f"  first ingest   {peak / 2**20:7.0f} MiB  ({seconds:.1f} s)\n"
        f"  no-op re-run   {peak_again / 2**20:7.0f} MiB  ({again:.1f} s)"
    )
    return {
        "files": files,
        "mb": round(size / 1e6, 1),
        "peak_mib": round(peak / 2**20),
        "noop_peak_mib": round(peak_again / 2**20),
        "seconds": round(seconds, 1),
    }


def _first_commit_after(store: Path, started_runs: int, deadline: float) -> float | None:
    from snake_pipe_core import Store

    while time.perf_counter() < deadline:
        try:
            rows = Store(store).query(
                "SELECT count(*) FROM checkpoints c JOIN runs r USING (run_id) "
                "WHERE c.done > 0 AND r.status = 'running'"
            )
            if rows[0][0] > 0 and Store(store).query("SELECT count(*) FROM runs")[0][0] > (
                started_runs
            ):
                return time.perf_counter()
        except Exception:  # the store may not exist yet
            pass
        time.sleep(0.01)
    return None


def bench_resume(args: argparse.Namespace, work: Path) -> dict[str, object]:
    from snake_pipe_core import Store

    root, files, _ = _corpus(args, work)
    delays = []
    for _ in range(args.repeat):
        store = _fresh_store(work)
        proc = subprocess.Popen(
            _ingest_cmd(root, store, "--workers", str(args.workers)),
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        # let it commit for a while, then kill the whole process group
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline and proc.poll() is None:
            try:
                done = Store(store).query("SELECT max(done) FROM checkpoints")[0][0] or 0
            except Exception:
                done = 0
            if done >= files // 3:
                break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        runs = Store(store).query("SELECT count(*) FROM runs")[0][0]
        t0 = time.perf_counter()
        nxt = subprocess.Popen(
            _ingest_cmd(root, store, "--workers", str(args.workers)), stdout=subprocess.DEVNULL
        )
        first = _first_commit_after(store, runs, t0 + 60)
        nxt.wait()
        if first is not None:
            delays.append(first - t0)
    delay = statistics.median(delays)
    print(
        f"resume after SIGKILL at ~1/3 of {files} files: first new commit after "
        f"{delay:.2f} s (median of {len(delays)}: {', '.join(f'{d:.2f}' for d in delays)})"
    )
    return {"files": files, "first_commit_s": delays}


def bench_onefile(args: argparse.Namespace, work: Path) -> dict[str, object]:
    from snake_pipe_core import Store, ingest_repository, load_settings

    root, files, _ = _corpus(args, work)
    store_path = _fresh_store(work)
    _run(_ingest_cmd(root, store_path, "--workers", str(args.workers)))
    store = Store(store_path)
    settings = load_settings(env={}, store=store_path)
    rel = next(p for p in sorted(root.rglob("*.json")) if p.is_file()).relative_to(root)

    def one() -> float:
        target = root / rel
        target.write_bytes(target.read_bytes())  # a new mtime: changed, read again
        t = time.perf_counter()
        ingest_repository(root, store=store, settings=settings, paths=[str(rel)], workers=1)
        return time.perf_counter() - t

    def whole() -> float:
        t = time.perf_counter()
        ingest_repository(root, store=store, settings=settings)
        return time.perf_counter() - t

    def fresh() -> tuple[float, float]:
        target = root / rel
        target.write_bytes(target.read_bytes())
        out = subprocess.run(_script(_FRESH_ONE, str(root), str(store_path), str(rel)),
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        imported, ran = out.split()
        return float(imported), float(ran)

    one()  # the store attached, the code imported: the watcher's process is warm
    single, single_all = _median(one, args.repeat)
    noop, noop_all = _median(whole, args.repeat)
    fresh_all = [fresh() for _ in range(args.repeat)]
    fresh_import = statistics.median(i for i, _ in fresh_all)
    fresh_run = statistics.median(r for _, r in fresh_all)
    print(
        f"one changed file of {files}, in one warm process, median of {args.repeat}:\n"
        f"  run of that file (paths=[...])   {single:6.3f} s\n"
        f"  no-op run of the whole repository {noop:6.3f} s   → {single / noop:.2f} of it\n"
        f"the same run in a new process each time, median of {args.repeat}:\n"
        f"  import of snake_pipe_core         {fresh_import:6.3f} s\n"
        f"  run of that file                  {fresh_run:6.3f} s   → {fresh_run / single:.2f}x "
        "the warm process's"
    )
    return {
        "files": files,
        "onefile_s": single_all,
        "noop_s": noop_all,
        "fresh_process_import_s": [i for i, _ in fresh_all],
        "fresh_process_run_s": [r for _, r in fresh_all],
    }


# One run of one changed file in a new process: the package's import, then the run.
_FRESH_ONE = r"""
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from snake_pipe_core import Store, ingest_repository, load_settings
t1 = time.perf_counter()
root, store_path, rel = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
settings = load_settings(env={}, store=store_path)
ingest_repository(root, store=Store(store_path), settings=settings, paths=[rel], workers=1)
print(t1 - t0, time.perf_counter() - t1)
"""


BENCHES = {
    "throughput": bench_throughput,
    "noop": bench_noop,
    "memory": bench_memory,
    "resume": bench_resume,
    "onefile": bench_onefile,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bench", choices=sorted(BENCHES))
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--profile", default="realistic", choices=["realistic", "small", "large"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, help="folder for the corpus and stores (kept)")
    parser.add_argument(
        "--corpus", type=Path, help="an existing repository to use instead of generating one"
    )
    args = parser.parse_args(argv)
    compile_project()
    work = args.work or Path(tempfile.mkdtemp(prefix="snake-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = BENCHES[args.bench](args, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    BENCH_OUT.mkdir(parents=True, exist_ok=True)
    out = BENCH_OUT / f"{args.bench}-{result.get('files', args.files)}-{args.profile}.json"
    out.write_text(json.dumps({"bench": args.bench, **result}, indent=2) + "\n")
    print(f"(written to {out.relative_to(PROJECT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
