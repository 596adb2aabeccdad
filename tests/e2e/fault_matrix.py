"""The change path's fault matrix, shared by its two consumers' tests: ``snake-pipe watch
--ingest`` and ``ast_change_sensor`` under a real ``dagster dev``.

A site of three repositories — ``alpha`` and ``beta`` (``beta`` a git repository with two
branches), and ``gamma`` bind-mounted from a tmpfs "disk" when this runs as root — a config
with short watcher and retry tunings, and the scenarios of issue 7. Each scenario does its
fault on real files and real processes, and returns the seconds from the end of the fault to
the store equal to a fresh ingest of the same trees (measured by :class:`StorePoller`, which
reads the store's views from the moment the fault ends; the reference is computed meanwhile).

The consumer's processes run without ``CAP_DAC_OVERRIDE`` and ``CAP_DAC_READ_SEARCH`` when
this runs as root (``nodac/sitecustomize.py`` drops them at interpreter start, through
``PYTHONPATH``), so that a folder made unreadable is unreadable to them, as it is to an
unprivileged deployment. Nothing here imports pytest.
"""

import collections
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from snake_pipe_core import ChangeJournal, Settings, Store, ingest_repository, load_settings
from snake_pipe_core.errors import StoreError
from snake_pipe_core.guard import GuardState, Refusal
from tests.e2e.harness import ROOT
from tests.fixtures.asts import babel, clang, dumps, estree, python_envelope, tree_sitter

__all__ = [
    "SCENARIOS",
    "Consumer",
    "FaultSite",
    "Result",
    "StorePoller",
    "can_mount",
    "make_fault_site",
    "tail",
]

NODAC = Path(__file__).resolve().parent / "nodac"
QUERIES = {
    "ast_files": "SELECT repo, path, state, reason, content_hash, language, format "
    "FROM ast_files WHERE state <> 'deleted' ORDER BY ALL",
    "extracted_files": "SELECT repo, path, content_hash, language, format, node_count, "
    "max_depth, function_count, class_count, import_count, branch_count "
    "FROM extracted_files ORDER BY ALL",
    "quarantined_files": "SELECT repo, path, reason FROM quarantined_files ORDER BY ALL",
}
WATCH_TUNING = """
[watch]
settle_s = 0.05
heartbeat_s = 0.5
stale_after_s = 3
self_check_s = 2
self_check_timeout_s = 3
retry_base_s = 0.5
retry_max_s = 4
max_run_paths = 100

[commit]
files = 2000
"""
# (commits of 2,000 files: a run of the 20,000 new files of `sigkill_run_mid_run` commits
# several times, so that it can be killed after its first commit and before its end.)


def can_mount() -> bool:
    """Root, and a tmpfs can really be mounted here (a container may forbid it)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path(tempfile.mkdtemp(prefix="snake-pipe-mount-probe-"))
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)],
                                 capture_output=True, check=False).returncode == 0  # fmt: skip
        if mounted:
            subprocess.run(["umount", str(probe)], check=True)
        return mounted
    finally:
        probe.rmdir()


def _doc(i: int, kind: int) -> bytes:
    """A distinct document of one of five formats."""
    tag = 1_000_000 + i
    docs = [
        lambda: estree(1 + i % 4) | {"end": tag},
        lambda: babel() | {"end": tag},
        lambda: clang() | {"id": f"0x{tag:x}"},
        lambda: python_envelope() | {"source": {"path": f"m{tag}.py"}},
        lambda: tree_sitter("go", depth=2 + i % 5) | {"source": {"path": f"g{tag}.go"}},
    ]
    return dumps(docs[kind % len(docs)]())


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _tree(prefix: str, n: int, start: int) -> dict[str, bytes]:
    return {f"{prefix}/d{j % 5}/f{j}.js.ast.json": _doc(start + j, j) for j in range(n)}


@dataclass
class FaultSite:
    base: Path
    repos: dict[str, Path]
    config: Path
    home: Path
    disk: Path | None = None  # the tmpfs gamma lives on, when mounted
    mounted: list[Path] = field(default_factory=list)
    # What the consumer's test adds to a failure of convergence: its processes' logs (and
    # their threads' stacks), so that a failure in CI says what the consumer was doing.
    diagnostics: list[Callable[[], str]] = field(default_factory=list)

    def diagnose(self) -> str:
        parts = []
        for probe in self.diagnostics:
            try:
                parts.append(probe())
            except Exception as e:  # a diagnosis never hides the failure it explains
                parts.append(f"(diagnosis failed: {e!r})")
        return "\n".join(parts)

    @property
    def settings(self) -> Settings:
        return load_settings(self.config, env={})

    @property
    def store(self) -> Store:
        return Store(self.settings.store)

    @property
    def journal_path(self) -> Path:
        return self.settings.journal_path

    @property
    def guard(self) -> GuardState:
        return GuardState(self.store.path)

    def process_env(self) -> dict[str, str]:
        """What the consumer's processes get: the config, and no DAC override as root."""
        env = {"SNAKE_PIPE_CONFIG": str(self.config), "SNAKE_PIPE_NO_DAC": "1"}
        env["PYTHONPATH"] = os.pathsep.join([str(NODAC), str(ROOT)])
        return env

    def refusal(self, repo: str) -> Refusal | None:
        return self.guard.refusal(repo)

    # -- gamma's disk --------------------------------------------------------------------------

    def unmount_gamma(self) -> None:
        subprocess.run(["umount", str(self.repos["gamma"])], check=True)
        self.mounted.remove(self.repos["gamma"])

    def mount_gamma(self) -> None:
        assert self.disk is not None
        subprocess.run(["mount", "--bind", str(self.disk / "gamma"), str(self.repos["gamma"])],
                       check=True)  # fmt: skip
        self.mounted.append(self.repos["gamma"])

    def source_of(self, name: str) -> Path:
        """Where a repository's files are now (gamma's disk while it is unmounted)."""
        if name == "gamma" and self.disk is not None and self.repos["gamma"] not in self.mounted:
            return self.disk / "gamma"
        return self.repos[name]

    def close(self) -> None:
        for point in reversed(self.mounted):
            subprocess.run(["umount", "-l", str(point)], check=False)
        self.mounted.clear()
        if self.disk is not None:
            subprocess.run(["umount", "-l", str(self.disk)], check=False)


def make_fault_site(base: Path, *, workers: int, gamma: bool) -> FaultSite:
    repos = {"alpha": base / "repos" / "alpha", "beta": base / "repos" / "beta"}
    for rel, data in {**_tree("src", 100, 0), **_tree("lib", 50, 100)}.items():
        _write(repos["alpha"], rel, data)
    _write(repos["alpha"], "package.json", b'{"name": "alpha"}')
    _write(repos["alpha"], "broken/bad.js.ast.json", b'{"type": "Program", "body": [')
    _git_repo(repos["beta"])
    site = FaultSite(base, repos, base / "snake_pipe.toml", base / "dagster_home")
    if gamma:
        disk = base / "disk"
        disk.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], check=True)
        site.disk = disk
        for rel, data in _tree("pkg", 40, 5000).items():
            _write(disk / "gamma", rel, data)
        site.repos["gamma"] = base / "repos" / "gamma"
        site.repos["gamma"].mkdir()
        site.mount_gamma()
    site.config.write_text(
        f'store = "store/snake"\nrepo_roots = ["repos"]\nworkers = {workers}\n' + WATCH_TUNING,
        encoding="utf-8",
    )
    site.home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", site.home / "dagster.yaml")
    return site


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}  # fmt: skip
    subprocess.run(["git", "-C", str(root), *args], check=True, env=env, capture_output=True)


def _git_repo(root: Path) -> None:
    """beta: branch ``main`` and branch ``other`` with none of main's files (other paths)."""
    for rel, data in _tree("pkg", 120, 2000).items():
        _write(root, rel, data)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "main")
    _git(root, "checkout", "-q", "-b", "other")
    _git(root, "rm", "-q", "-r", "pkg")
    for j in range(130):  # in 130 folders of the root: more paths than a run takes (100)
        _write(root, f"m{j}/f{j}.js.ast.json", _doc(3000 + j, j))
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "other")
    _git(root, "checkout", "-q", "main")


# -- measuring ---------------------------------------------------------------------------------


def views(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {view: store.query(sql) for view, sql in QUERIES.items()}


def digest(snapshot: dict[str, list[tuple[Any, ...]]]) -> str:
    return hashlib.sha256(repr(sorted(snapshot.items())).encode()).hexdigest()


def reference(site: FaultSite, scratch: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The store a fresh ingest of the trees as they are now would hold."""
    scratch.mkdir(parents=True, exist_ok=True)
    ref = Store(scratch / f"reference-{time.monotonic_ns()}")
    settings = site.settings
    for name in site.repos:
        ingest_repository(site.source_of(name), store=ref, settings=settings, repo=name,
                          workers=1)  # fmt: skip
    return views(ref)


class StorePoller:
    """Reads the store's views in a thread from :meth:`start`, and tells when they became
    (and stayed) equal to an expected snapshot. A read that fails (the store not there yet,
    or anything else) is an empty sample, counted by its error; the thread never dies of it.
    """

    def __init__(
        self, store: Store, every: float = 0.2, *, diagnose: Callable[[], str] | None = None
    ) -> None:
        self.store, self.every = store, every
        self.diagnose = diagnose
        self.samples: list[tuple[float, str]] = []
        self.last: dict[str, list[tuple[Any, ...]]] = {}
        self.errors: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = 0.0

    def start(self) -> "StorePoller":
        self.t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                snapshot = views(self.store)
            except Exception as e:
                snapshot = {}
                if not isinstance(e, StoreError) or "no store at" not in str(e):
                    lines = str(e).strip().splitlines() or [""]
                    self.errors[f"{type(e).__name__}: {lines[0][:200]}"] += 1
            self.last = snapshot
            self.samples.append((t, digest(snapshot)))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def converged(self, expected: dict[str, list[tuple[Any, ...]]], *, timeout: float) -> float:
        """Seconds from :meth:`start` to the first sample of the final run of samples equal
        to ``expected`` (held for a second); raises with the difference on time-out."""
        want = digest(expected)
        deadline = self.t0 + timeout
        try:
            while time.monotonic() < deadline:
                samples = list(self.samples)
                streak = [t for t, d in _tail_equal(samples, want)]
                if streak and samples[-1][0] - streak[0] >= 1.0:
                    return round(streak[0] - self.t0, 2)
                time.sleep(0.1)
        finally:
            self.stop()
        got = self.last
        diff = {
            view: {
                "extra": sorted(set(got.get(view, [])) - set(rows))[:5],
                "missing": sorted(set(rows) - set(got.get(view, [])))[:5],
            }
            for view, rows in expected.items()
        }
        failed = "; ".join(f"{n} x {e}" for e, n in self.errors.most_common(3)) or "none"
        latest = f"{time.monotonic() - self.samples[-1][0]:.1f} s ago" if self.samples else "never"
        details = self.diagnose() if self.diagnose is not None else ""
        raise AssertionError(
            f"the store did not equal a fresh ingest in {timeout:.0f} s "
            f"({len(self.samples)} reads, the last {latest}; failed reads: {failed}): {diff}"
            + (f"\n{details}" if details else "")
        )


def _tail_equal(samples: list[tuple[float, str]], want: str) -> list[tuple[float, str]]:
    tail: list[tuple[float, str]] = []
    for sample in reversed(samples):
        if sample[1] != want:
            break
        tail.append(sample)
    return list(reversed(tail))


def tail(path: Path, lines: int = 120) -> str:
    """The last ``lines`` lines of a log, headed by its name."""
    text = path.read_text(errors="replace").splitlines() if path.exists() else ["(no such file)"]
    return f"--- the last {min(len(text), lines)} lines of {path}:\n" + "\n".join(text[-lines:])


def wait_until(what: str, probe: Callable[[], Any], timeout: float, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


# -- the consumers -------------------------------------------------------------------------


class Consumer(Protocol):
    """What a scenario does to a consumer; one implementation per way of applying the
    journal (the test modules)."""

    name: str

    def watcher_pid(self) -> int: ...

    def kill_watcher(self) -> None:
        """SIGKILL the watcher (and what runs in its process)."""

    def restart_watcher(self) -> None:
        """What brings a watcher back: a person (``watch --ingest``), or nobody (the sensor
        restarts it)."""

    def kill_run(self, repo: str, since: float) -> int | None:
        """SIGKILL the process doing the analysis of a run of ``repo`` in progress (one
        started after unix time ``since``) once it has committed a batch; its pid, or None
        when the run ended before a process to kill was seen."""

    def kill_landed(self, repo: str, since: float) -> bool:
        """Whether the run :meth:`kill_run` killed failed of it (it may have ended first)."""

    def failed_runs(self, repo: str, since: float) -> int:
        """Runs of ``repo`` that failed since unix time ``since``."""


def running_run(site: FaultSite, repo: str, since: float) -> tuple[str, int] | None:
    """A run of ``repo`` in progress that started after ``since`` and committed a batch."""
    try:
        rows = site.store.query(
            "SELECT r.run_id, r.pid FROM runs r JOIN checkpoints c USING (run_id) "
            "WHERE r.repo = ? AND r.status = 'running' AND epoch(r.started_at) > ? "
            "AND c.done > 0",
            [repo, since],
        )
    except StoreError:
        return None
    return (str(rows[0][0]), int(rows[0][1])) if rows else None


def run_ended(site: FaultSite, repo: str, since: float) -> bool:
    """Every run of ``repo`` that started after ``since`` has ended (and there is one)."""
    try:
        rows = site.store.query(
            "SELECT status FROM runs WHERE repo = ? AND epoch(started_at) > ?", [repo, since]
        )
    except StoreError:
        return False
    return bool(rows) and all(r[0] != "running" for r in rows)


def run_status(site: FaultSite, run_id: str) -> str:
    return str(site.store.query("SELECT status FROM runs WHERE run_id = ?", [run_id])[0][0])


def journal_watcher_pid(site: FaultSite) -> int | None:
    with ChangeJournal(site.settings.journal_path) as journal:
        status = journal.watcher_status()
    return status.pid if status is not None else None


def stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


# -- the scenarios ---------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    consumer: str
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)


Scenario = Callable[[FaultSite, Consumer, Path], Result]


def _converge(site: FaultSite, scratch: Path, *, timeout: float = 180.0) -> float:
    poller = StorePoller(site.store, diagnose=site.diagnose).start()
    return poller.converged(reference(site, scratch), timeout=timeout)


def sigstop_during_deletes_and_renames(site: FaultSite, c: Consumer, scratch: Path) -> Result:
    """SIGSTOP the watcher; delete, rename folders and add files in two repositories;
    SIGCONT. (Issue 7's first finding: deletions lost behind a refused rescan.)"""
    alpha, beta = site.repos["alpha"], site.repos["beta"]
    pid = c.watcher_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_until("the watcher to stop", lambda: stopped(pid), 10)
        for p in sorted((alpha / "src").rglob("*.json"))[:50]:
            p.unlink()
        (alpha / "lib").rename(alpha / "lib-renamed")  # a folder of 50 files
        (beta / "pkg" / "d1").rename(beta / "pkg" / "d1-moved")
        for p in sorted((beta / "pkg" / "d2").glob("*.json"))[:10]:
            p.unlink()
        for rel, data in _tree("added", 400, 9000).items():
            _write(beta, rel, data)
        time.sleep(1.0)
    finally:
        os.kill(pid, signal.SIGCONT)
    seconds = _converge(site, scratch)
    return Result("SIGSTOP of the watcher during deletes and folder renames", c.name, seconds)


def sigkill_watcher_and_restart(site: FaultSite, c: Consumer, scratch: Path) -> Result:
    """SIGKILL the watcher in the middle of a burst of new files and deletions; restart."""
    alpha = site.repos["alpha"]
    victims = sorted((alpha / "src").rglob("*.json"))[:20]

    def burst() -> None:
        for i, (rel, data) in enumerate(_tree("burst", 1500, 20_000).items()):
            _write(alpha, rel, data)
            if i % 75 == 0 and victims:
                victims.pop().unlink()
            time.sleep(0.001)

    writer = threading.Thread(target=burst)
    writer.start()
    time.sleep(0.8)
    c.kill_watcher()
    killed_mid_burst = writer.is_alive()
    writer.join()
    c.restart_watcher()
    seconds = _converge(site, scratch)
    return Result("SIGKILL of the watcher with a restart", c.name, seconds,
                  {"killed_mid_burst": killed_mid_burst})  # fmt: skip


def sigkill_run_mid_run(site: FaultSite, c: Consumer, scratch: Path) -> Result:
    """SIGKILL the process of a run in progress, after its first commit. A run can end
    between the sight of its first commit and the kill (20,000 small files take about a
    second): then another folder of twice as many new files comes, up to three times."""
    pid, first = None, 100_000  # past the tags of the other scenarios' files
    for attempt in range(1, 4):
        files = 20_000 * 2 ** (attempt - 1)
        staging = site.base / "staging" / f"bulk{attempt}"
        for i in range(40):
            (staging / f"d{i}").mkdir(parents=True)
        for i in range(files):  # small files: a run of seconds, mostly per-file costs
            (staging / f"d{i % 40}" / f"f{i}.js.ast.json").write_bytes(_doc(first + i, 0))
        first += files
        since = time.time()
        staging.rename(site.repos["beta"] / staging.name)  # one folder moved in: one run
        pid = c.kill_run("beta", since)
        if pid is not None and c.kill_landed("beta", since):
            break
    seconds = _converge(site, scratch)
    return Result("SIGKILL of a run's process mid-run", c.name, seconds,
                  {"killed_pid": pid, "attempts": attempt})  # fmt: skip


def run_fails_root_unreadable(site: FaultSite, c: Consumer, scratch: Path) -> Result:
    """alpha's root unreadable (mode 000) while changes come: its runs fail and are tried
    again with back-off; readable again, the next try converges."""
    alpha = site.repos["alpha"]
    since = time.time()
    alpha.chmod(0)
    try:
        for rel, data in _tree("while-unreadable", 20, 60_000).items():
            _write(alpha, rel, data)  # this process may still write (it keeps its rights)
        wait_until(
            "two failed runs of alpha (as root, the consumer's processes must lack "
            "CAP_DAC_OVERRIDE: tests/e2e/nodac)",
            lambda: c.failed_runs("alpha", since) >= 2,
            90,
        )
        failed = c.failed_runs("alpha", since)
        refusal = site.refusal("alpha")
    finally:
        alpha.chmod(0o755)
    seconds = _converge(site, scratch)
    return Result(
        "a run that fails (the root unreadable for a while)",
        c.name,
        seconds,
        {"failed_runs": failed, "recorded_as": refusal.kind if refusal else None},
    )


def git_checkout_of_another_branch(site: FaultSite, c: Consumer, scratch: Path) -> Result:
    """Every file of beta replaced by others: ``git checkout`` of a branch that has none of
    main's 120 files and 130 of its own, in more folders than a run takes paths, so the run
    is a whole-repository diff that the mass-delete guard judges (120 of 120 files gone)."""
    beta = site.repos["beta"]
    _git(beta, "reset", "-q", "--hard", "main")  # back to main's files only
    _git(beta, "clean", "-q", "-f", "-d")
    _converge(site, scratch)  # (not measured)
    since = time.time()
    _git(beta, "checkout", "-q", "other")
    seconds = _converge(site, scratch)
    assert site.refusal("beta") is None, site.refusal("beta")
    recorded = site.guard.root("beta")
    assert recorded is not None and recorded.recorded_at >= since  # a whole diff succeeded
    return Result("every file of a repository replaced (git checkout of another branch)",
                  c.name, seconds, {"files_gone": 120, "files_new": 130})  # fmt: skip


def kernel_queue_overflow(site: FaultSite, c: Consumer, scratch: Path) -> Result:
    """SIGSTOP the watcher while 10,000 files are written in watched folders: the kernel's
    queue (fs.inotify.max_queued_events, 16,384) overflows; SIGCONT."""
    alpha = site.repos["alpha"]
    folders = [alpha / "flood" / f"d{i}" for i in range(40)]
    for folder in folders:
        folder.mkdir(parents=True)
    time.sleep(1.0)  # their watches are in place
    pid = c.watcher_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_until("the watcher to stop", lambda: stopped(pid), 10)
        data = dumps(estree(1))
        for i in range(10_000):
            (folders[i % 40] / f"f{i}.js.ast.json").write_bytes(data)
    finally:
        os.kill(pid, signal.SIGCONT)
    seconds = _converge(site, scratch, timeout=300)
    log = site.settings.journal_path.with_suffix(".log")
    return Result("a kernel queue overflow", c.name, seconds,
                  {"overflow_logged": "queue overflow" in _logs(site, log)})  # fmt: skip


def _logs(site: FaultSite, *paths: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in paths if p.exists()) + "".join(
        p.read_text(errors="replace") for p in site.base.glob("*.log")
    )


SCENARIOS: list[Scenario] = [
    sigstop_during_deletes_and_renames,
    sigkill_watcher_and_restart,
    sigkill_run_mid_run,
    run_fails_root_unreadable,
    git_checkout_of_another_branch,
    kernel_queue_overflow,
]


def unmounted_root(
    site: FaultSite,
    c: Consumer,
    scratch: Path,
    *,
    visible: Callable[[], dict[str, Any]],
) -> Result:
    """gamma's disk unmounted (and changed elsewhere meanwhile): nothing marked deleted, a
    refusal that stays visible (in what ``visible`` reads: the CLI, and Dagster for the
    sensor) across tries, and convergence on its own once it is mounted again. Measured from
    the mount: the store equal to a fresh ingest, and the refusal cleared."""
    assert site.disk is not None
    unmounted = time.monotonic()
    site.unmount_gamma()
    refusal = wait_until(
        "gamma's refusal to be tried again",
        lambda: (r := site.refusal("gamma")) is not None and r.refusals >= 3 and r,
        120,
    )
    shown = visible()
    deleted = site.store.query(
        "SELECT count(*) FROM ast_files WHERE repo = 'gamma' AND state = 'deleted'"
    )[0][0]
    assert deleted == 0, f"{deleted} files of gamma were marked deleted while it was unmounted"
    disk = site.disk / "gamma"
    for p in sorted(disk.rglob("*.json"))[:5]:  # the disk changes while away
        p.unlink()
    for rel, data in _tree("while-away", 10, 70_000).items():
        _write(disk, rel, data)
    away = time.monotonic() - unmounted
    mounted = time.monotonic()
    site.mount_gamma()
    seconds = _converge(site, scratch)
    wait_until("gamma's refusal to clear", lambda: site.refusal("gamma") is None, 60, 0.05)
    cleared = round(time.monotonic() - mounted, 2)
    return Result(
        "an unmounted root",
        c.name,
        seconds,
        {
            "refused_as": refusal.kind,
            "refusals_while_unmounted": refusal.refusals,
            "unmounted_s": round(away, 1),
            "deleted_while_unmounted": deleted,
            "refusal_cleared_within_s": cleared,
            **shown,
        },
    )


def cli(site: FaultSite, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", "--config", str(site.config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("SNAKE_PIPE_")},
    )
