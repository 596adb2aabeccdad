"""Run analysis over many files: worker processes, byte-sized chunks, back-pressure.

The caller feeds work items as the walk finds them; they are grouped into chunks of bounded
bytes and file count and submitted to a pool of worker processes, with at most a few chunks
and a bounded number of bytes in flight, so memory stays bounded however big the repository.
Small jobs never start a pool: they run in the calling process, which is faster for the
near-real-time path and for tests.

A worker's results come back as a file, and only the file's name through the pool:
``ProcessPoolExecutor`` reads every worker's results from one shared pipe, and a worker killed
(by the OOM killer, say) while writing a message longer than the pipe holds leaves half a
message in it, on which the pool's manager thread waits forever: the run hung instead of
failing. A name is written whole or not at all (a pipe write of at most ``PIPE_BUF`` bytes
is atomic), so a dead worker is only ever seen as dead, and the run fails and is retried.
"""

import gc
import itertools
import logging
import os
import pickle
import shutil
import sys
import tempfile
import types
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import BinaryIO

from ..analysis import AnalysisSettings, Analyzer, FileRead, WorkItem
from ..analysis.beneath import forget_folder
from ..hashes import KnownHashes
from ..models import FileVerdict
from ..processes import pid_alive
from .lifeline import die_with
from .results import Results
from .spawn import mp_context, prestart_workers

__all__ = ["BatchTuning", "Executor", "prestart_workers"]

log = logging.getLogger(__name__)

# A file to analyse: a new one, which discovery did not stat, travels as its bare relative
# path (cheaper to make and to pickle than a WorkItem).
Work = WorkItem | str

# Worker-process globals, set once by the initializer.
_worker_analyzer: Analyzer | None = None
_worker_root = ""
_worker_chunks = itertools.count()
# The folders a run's workers write their results into: one per pool, named after the process
# that reads them (so that a later run removes the folders of a run that was killed).
_RESULTS_PREFIX = "snake-pipe-results-"


@dataclass(frozen=True, slots=True)
class BatchTuning:
    """Knobs of the batch engine (keyword-only everywhere they are passed)."""

    # A chunk is one task of a worker: each costs a round trip through the pool, a results
    # file and a wake-up of the coordinating process, ~0.5 ms in all, against ~30 µs of
    # analysis for a 4 KB file. 1,024 files or 8 MiB against 128 files or 2 MiB: 100,000
    # small files 3.07 -> 2.58 s, 4,600 realistic ones 1.32 -> 1.20 s (medians of 9 and 7).
    # (What a worker holds is one file at a time, whatever the chunk's size.)
    chunk_bytes: int = 8 * 1024 * 1024
    chunk_files: int = 1024
    # Bytes of file content in flight across all workers; a bigger file runs alone.
    inflight_bytes: int = 64 * 1024 * 1024
    # Below this much work the calling process analyses the files itself.
    pool_min_files: int = 64
    pool_min_bytes: int = 8 * 1024 * 1024


def _init_worker(
    settings: AnalysisSettings, root: str, known: KnownHashes, owner: int | None = None
) -> None:
    global _worker_analyzer, _worker_root
    if owner is not None:
        die_with(owner)
    # Analysis allocates only acyclic trees; the cyclic collector only costs time here.
    gc.disable()
    _worker_analyzer = Analyzer(settings, known)
    _worker_root = root
    gc.freeze()


def _work_item(item: Work) -> WorkItem:
    return WorkItem(item, 0) if isinstance(item, str) else item


def _analyze_chunk(items: list[Work], out: str) -> str:
    """Analyse a chunk; its results go to a new file in ``out``, whose name is returned."""
    analyzer = _worker_analyzer
    assert analyzer is not None, "worker not initialised"
    results = Results()
    try:
        for item in items:
            results.add(analyzer.analyze_file(_worker_root, _work_item(item)))
    finally:
        forget_folder()
    path = os.path.join(out, f"{os.getpid()}-{next(_worker_chunks)}")
    with open(path, "wb") as f:
        _pickler(f).dump(results)
    return path


def _pickler(f: BinaryIO) -> pickle.Pickler:
    """A pickler without a memo: a chunk's results are acyclic rows, whose few shared strings
    (format and language names) are cheaper written twice than looked up for every object:
    1,024 small files' rows 1.2 -> 0.3-0.5 us a file to write, 0.32 -> 0.42 us to read."""
    pickler = pickle.Pickler(f, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        pickler.fast = True  # documented as deprecated since 3.0, and still there
    except AttributeError:  # gone: the memo costs time, nothing else
        pass
    return pickler


def _take_results(path: str) -> Results:
    """The results a worker wrote (the file is removed)."""
    with open(path, "rb") as f:
        results: Results = pickle.load(f)
    os.unlink(path)
    return results


def _results_folder() -> str:
    """A new folder for a pool's results; first the folders of runs that died are removed."""
    base = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(base) if n.startswith(_RESULTS_PREFIX)]
    except OSError:
        names = []
    for name in names:
        owner = name[len(_RESULTS_PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not pid_alive(int(owner)):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{_RESULTS_PREFIX}{os.getpid()}-")


def _start_pool(
    workers: int, settings: AnalysisSettings, root: str, known: KnownHashes
) -> ProcessPoolExecutor:
    """A pool with every worker started.

    A new worker re-imports its parent's ``__main__`` (forkserver and spawn do): under
    Dagster that is Dagster's whole command line, seconds and ~100 MB per worker for
    nothing; from a notebook or ``python -`` there is no file to import and the pool breaks.
    Workers need only this module, so they start with a bare ``__main__`` in its place: one
    no-op task each, submitted while it stands in (3.11 starts workers on submit; real work
    queues behind them without waiting).
    """
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp_context(),
        initializer=_init_worker,
        initargs=(settings, root, known, os.getpid()),
    )
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        for _ in range(workers):
            pool.submit(os.getpid)
    finally:
        if main is not None:
            sys.modules["__main__"] = main
    return pool


class Executor:
    """Analyse a stream of work items; yields verdicts in completion order.

    ``known_hashes(among)`` gives the content hashes analysed before: every one (``among`` is
    None) when a big job starts, or only those among a small job's hashes.
    """

    def __init__(
        self,
        root: str,
        settings: AnalysisSettings,
        *,
        workers: int,
        known_hashes: Callable[[Collection[str] | None], KnownHashes],
        tuning: BatchTuning | None = None,
    ) -> None:
        self.root = root
        self.settings = settings
        self.workers = max(1, workers)
        self.known_hashes = known_hashes
        self.tuning = tuning or BatchTuning()
        self.used_pool = False
        # What the files analysed so far weigh on average (first guessed from the files
        # statted before the pool starts).
        self._seen_files = self._seen_bytes = 0
        self._mean_size = self.tuning.chunk_bytes // 32

    def run(self, items: Iterator[Work]) -> Iterator[Results]:
        """Analyse every item; yields the results of chunks of them as they complete."""
        t = self.tuning
        head: list[Work] = []
        head_bytes = 0
        for work in items:
            # The first files are statted here when the walk did not: whether a pool is
            # worth starting depends on their sizes (25 files of 40 MB are not a small job),
            # and they are the first guess of the mean size of the files still unknown.
            item = self._stat(work) if isinstance(work, str) else work
            head.append(item)
            head_bytes += item.size
            if len(head) >= t.pool_min_files or head_bytes >= t.pool_min_bytes:
                break
        else:  # the whole job is small
            if head:
                yield self._run_small(head)
            return
        self._mean_size = max(1, head_bytes // len(head))
        if self.workers <= 1:
            yield from self._run_inline(itertools.chain(head, items), self.known_hashes(None))
        else:
            yield from self._run_pool(head, items)

    def _stat(self, path: str) -> WorkItem:
        try:
            st = os.stat(os.path.join(self.root, path), follow_symlinks=False)
        except (OSError, ValueError):
            return WorkItem(path, 0)  # the read will say what happened to it
        return WorkItem(path, st.st_size, st.st_dev, st.st_ino)

    def _run_small(self, work: list[Work]) -> Results:
        """A few files in this process: read and hash them all, ask for just their hashes
        (one query instead of every hash of the store), then analyse what is new."""
        analyzer = Analyzer(self.settings)
        items = [_work_item(w) for w in work]
        try:
            reads = [analyzer.read_file(self.root, item) for item in items]
        finally:
            forget_folder()
        digests = [r.digest.hex() for r in reads if isinstance(r, FileRead)]
        if digests and self.settings.reuse:
            analyzer.known_hashes = self.known_hashes(digests)
        return Results.of(
            [r if isinstance(r, FileVerdict) else analyzer.analyze_read(r) for r in reads]
        )

    def _run_inline(self, items: Iterable[Work], known: KnownHashes) -> Iterator[Results]:
        analyzer = Analyzer(self.settings, known)
        chunk = Results()
        try:
            for item in items:
                chunk.add(analyzer.analyze_file(self.root, _work_item(item)))
                if len(chunk) >= self.tuning.chunk_files:
                    forget_folder()  # nothing held while the caller commits
                    yield chunk
                    chunk = Results()
        finally:
            forget_folder()
        if chunk:
            yield chunk

    def _learn(self, results: Results) -> Results:
        """Note what the files of these results weighed (for the mean size); pass them on."""
        self._seen_files += len(results.rows)
        self._seen_bytes += results.bytes_read
        if self._seen_files:
            self._mean_size = max(1, self._seen_bytes // self._seen_files)
        return results

    def _chunks(self, head: list[Work], rest: Iterator[Work]) -> Iterator[tuple[list[Work], int]]:
        """Chunks of at most ``chunk_files`` files and about ``chunk_bytes``, with their size.
        A new file (a bare path) weighs the mean size seen so far."""
        t = self.tuning
        chunk: list[Work] = []
        size = 0
        for source in (head, rest):
            for item in source:
                item_size = self._mean_size if isinstance(item, str) else item.size
                if chunk and (size + item_size > t.chunk_bytes or len(chunk) >= t.chunk_files):
                    yield chunk, size
                    chunk, size = [], 0
                chunk.append(item)
                size += item_size
        if chunk:
            yield chunk, size

    def _run_pool(self, head: list[Work], rest: Iterator[Work]) -> Iterator[Results]:
        self.used_pool = True
        t = self.tuning
        known = self.known_hashes(None)
        log.debug("starting %d analysis workers (%d known hashes)", self.workers, len(known))
        out = _results_folder()
        try:
            pool = _start_pool(self.workers, self.settings, os.fspath(self.root), known)
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)
            raise
        del known
        inflight: dict[Future[str], int] = {}
        inflight_bytes = 0
        max_chunks = 2 * self.workers
        try:
            for chunk, chunk_bytes in self._chunks(head, rest):
                # Back-pressure: wait while too many chunks or bytes are in flight.
                while inflight and (
                    len(inflight) >= max_chunks or inflight_bytes + chunk_bytes > t.inflight_bytes
                ):
                    done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for fut in done:
                        inflight_bytes -= inflight.pop(fut)
                        yield self._learn(_take_results(fut.result()))
                inflight[pool.submit(_analyze_chunk, chunk, out)] = chunk_bytes
                inflight_bytes += chunk_bytes
            while inflight:
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in done:
                    inflight_bytes -= inflight.pop(fut)
                    yield self._learn(_take_results(fut.result()))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            shutil.rmtree(out, ignore_errors=True)
