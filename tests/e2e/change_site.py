"""A deployment for ``ast_change_sensor`` end to end, shared by the e2e test and the benchmark.

Repositories and a config in a folder of their own (the change journal lives beside the
store there, so the watcher the sensor starts is this deployment's alone), a real ``dagster
dev`` with the sensor turned on through GraphQL as a user turns it on in the UI, the
store compared with a fresh ingest, and the close → visible latency measurement.
Nothing here imports pytest: ``bench/sensor_latency.py`` uses it as it is.
"""

import fcntl
import math
import os
import random
import shutil
import signal
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snake_pipe_core import ChangeJournal, Settings, Store, ingest_repository, load_settings
from snake_pipe_core.errors import StoreError
from snake_pipe_core.hashes import content_hasher
from tests.e2e.harness import ROOT, DagsterDev, wait_for
from tests.fixtures.asts import babel, clang, dumps, estree, python_envelope, tree_sitter

__all__ = [
    "BAD",
    "ChangeSite",
    "Sample",
    "in_flight_runs",
    "make_site",
    "measure_latency",
    "percentile",
    "sensor_runs",
    "start_change_sensor",
    "stop_watchers",
    "store_equals_fresh_ingest",
    "summary",
]

LOCATION = "snake_pipe"
SENSOR = "ast_change_sensor"
BAD = {
    "broken/truncated.js.ast.json": b'{"type": "Program", "body": [',
    "broken/list.js.ast.json": b"[1, 2, 3]",
}


@dataclass
class ChangeSite:
    """Repositories, their config, and a DAGSTER_HOME, all under ``base``."""

    base: Path
    repos: dict[str, Path]
    config: Path
    home: Path

    @property
    def settings(self) -> Settings:
        return load_settings(self.config, env={})

    @property
    def store(self) -> Store:
        return Store(self.settings.store)

    @property
    def journal_path(self) -> Path:
        return self.settings.journal_path

    def dagster_dev(self, **env: str) -> DagsterDev:
        return DagsterDev(
            home=self.home,
            env={
                "SNAKE_PIPE_CONFIG": str(self.config),
                "SNAKE_PIPE_DISCOVERY_INTERVAL_S": "2",
                "DAGSTER_TELEMETRY_DISABLED": "1",
                **env,
            },
        )


def repo_files(i: int, modules: int) -> dict[str, bytes]:
    """Every format, each file distinct; two bad files in every repository."""
    files: dict[str, bytes] = {"package.json": b'{"name": "x"}', **BAD}
    for j in range(modules):
        tag = i * 100_000 + j
        files[f"src/m{j}/app.js.ast.json"] = dumps(estree(1 + j % 4) | {"end": tag})
        files[f"src/m{j}/util.js.ast.json"] = dumps(babel() | {"end": tag})
        files[f"native/f{j}.c.ast.json"] = dumps(clang() | {"id": f"0x{tag:x}"})
        files[f"py/p{j}/mod.py.ast.json"] = dumps(
            python_envelope() | {"source": {"path": f"m{tag}.py"}}
        )
        files[f"go/g{j}.go.ast.json"] = dumps(
            tree_sitter("go", depth=2 + j % 5) | {"source": {"path": f"g{tag}.go"}}
        )
    return files


def make_site(
    base: Path, *, names: tuple[str, ...] = ("alpha", "beta"), modules: int = 8
) -> ChangeSite:
    repos = {}
    for i, name in enumerate(names):
        for rel, data in repo_files(i, modules).items():
            path = base / "repos" / name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        repos[name] = base / "repos" / name
    config = base / "snake_pipe.toml"
    config.write_text(
        'store = "store/snake.duckdb"\nrepo_roots = ["repos"]\nworkers = 1\n', encoding="utf-8"
    )
    home = base / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return ChangeSite(base, repos, config, home)


START_SENSOR = """
mutation Start($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status } }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
    ... on SensorNotFoundError { message }
  }
}
"""

RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs {
      results { runId status creationTime startTime endTime tags { key value } }
    }
    ... on PythonError { message }
  }
}
"""
IN_FLIGHT = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]


def start_change_sensor(dev: DagsterDev) -> None:
    """Turn the sensor on, as the toggle in the UI does."""
    selector = {
        "repositoryLocationName": LOCATION,
        "repositoryName": "__repository__",
        "sensorName": SENSOR,
    }
    result = dev.graphql(START_SENSOR, {"selector": selector})["startSensor"]
    assert result["__typename"] == "Sensor", result
    assert result["sensorState"]["status"] == "RUNNING", result


def _runs(dev: DagsterDev, run_filter: dict[str, Any]) -> list[dict[str, Any]]:
    result = dev.graphql(RUNS, {"filter": run_filter})["runsOrError"]
    assert result["__typename"] == "Runs", result
    runs = result["results"]
    for run in runs:
        run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
    return runs


def sensor_runs(dev: DagsterDev) -> list[dict[str, Any]]:
    """Every run ast_change_sensor launched, oldest first."""
    runs = _runs(dev, {"tags": [{"key": "dagster/sensor_name", "value": SENSOR}]})
    return sorted(runs, key=lambda r: r["creationTime"])


def in_flight_runs(dev: DagsterDev) -> list[dict[str, Any]]:
    return _runs(dev, {"statuses": IN_FLIGHT})


QUERIES = {
    "ast_files": "SELECT repo, path, state, reason, content_hash, language, format "
    "FROM ast_files WHERE state <> 'deleted' ORDER BY ALL",
    "extracted_files": "SELECT repo, path, content_hash, language, format, node_count, "
    "max_depth, function_count, class_count, import_count, branch_count "
    "FROM extracted_files ORDER BY ALL",
    "quarantined_files": "SELECT repo, path, reason FROM quarantined_files ORDER BY ALL",
}


def views(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {view: store.query(sql) for view, sql in QUERIES.items()}


def store_equals_fresh_ingest(site: ChangeSite, scratch: Path, *, timeout: float) -> None:
    """Wait until the store's views (live files) equal a fresh ingest of the trees as they
    are now; on time-out, raise with the first view that differs."""
    scratch.mkdir(parents=True, exist_ok=True)
    reference = Store(scratch / f"reference-{time.monotonic_ns()}.duckdb")
    settings = site.settings
    for name, root in site.repos.items():
        ingest_repository(root, store=reference, settings=settings, repo=name, workers=1)
    expected = views(reference)
    got: dict[str, Any] = {}

    def equal() -> bool:
        nonlocal got
        try:
            got = views(site.store)
        except StoreError:
            return False
        return got == expected

    try:
        wait_for("the store to equal a fresh ingest", equal, timeout=timeout, every=0.5)
    except TimeoutError:
        for view in QUERIES:
            extra = sorted(set(got.get(view, [])) - set(expected[view]))[:10]
            missing = sorted(set(expected[view]) - set(got.get(view, [])))[:10]
            assert got.get(view) == expected[view], f"{view}: extra {extra}, missing {missing}"
        raise


# -- the watcher the sensor started --------------------------------------------------------


def _lock_holder(journal: Path) -> int | None:
    """The pid of the watcher holding the journal's lock, or None if the lock is free."""
    lock = journal.with_name(journal.name + ".lock")
    if not lock.exists():
        return None
    fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # exited; its parent (or init) reaps it


def watcher_pid(site: ChangeSite) -> int | None:
    with ChangeJournal(site.journal_path) as journal:
        status = journal.watcher_status()
    return status.pid if status is not None else None


def stop_watchers(site: ChangeSite, *, timeout: float = 30.0) -> list[int]:
    """Stop every watcher of this site's journal (the one in its heartbeat, and whoever holds
    its lock), by pid: SIGTERM, then SIGKILL after ``timeout``. Returns the pids stopped.
    Call it after ``dagster dev`` has stopped, or the sensor starts another one."""
    stopped: list[int] = []
    deadline = time.monotonic() + 3 * timeout
    while time.monotonic() < deadline:
        pid = _lock_holder(site.journal_path) if site.journal_path.exists() else None
        if pid is None:
            return stopped
        if pid <= 0:
            raise RuntimeError(f"a process holds {site.journal_path}.lock but wrote no pid")
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        stopped.append(pid)
        end = time.monotonic() + timeout
        while not _gone(pid) and time.monotonic() < end:
            time.sleep(0.1)
        if not _gone(pid):
            os.kill(pid, signal.SIGKILL)
            while not _gone(pid):
                time.sleep(0.1)
    raise RuntimeError(f"watchers of {site.journal_path} kept coming back: {stopped}")


# -- latency ------------------------------------------------------------------------------


@dataclass
class Sample:
    """One edit: seconds from the file's close to its row in ``extracted_files``, and where
    the time went according to the run that brought it (Dagster's own timestamps)."""

    repo: str
    path: str
    latency_s: float
    to_request_s: float | None = None  # close → run created (watcher settle + sensor)
    to_start_s: float | None = None  # run created → started (queue + launch)
    to_visible_s: float | None = None  # run started → row visible (load code + ingest)
    extra: dict[str, Any] = field(default_factory=dict)


def _visible(store: Store, repo: str, path: str, digest: str) -> bool:
    try:
        rows = store.query(
            "SELECT 1 FROM extracted_files WHERE repo = ? AND path = ? AND content_hash = ?",
            [repo, path, digest],
        )
    except StoreError:
        return False
    return bool(rows)


def measure_latency(
    site: ChangeSite,
    dev: DagsterDev,
    samples: int,
    *,
    poll: float = 0.05,
    timeout: float = 60.0,
    log: Callable[[str], None] = print,
) -> list[Sample]:
    """Edit one file at a time (alternately a new file and a rewrite of an earlier one, in
    each repository in turn) and time close → its row, with its new content hash, visible to
    a reader of ``extracted_files``. Each edit waits for the runs before it to end, then a
    random 0.2-5.2 s, so that edits land uniformly over the daemon's 5 s sensor cycle (an edit
    that comes while no tick is listening waits for the next one)."""
    store = site.store
    names = sorted(site.repos)
    jitter = random.Random(4)
    out: list[Sample] = []
    hasher = content_hasher(store.content_hash())
    for i in range(samples):
        wait_for("runs in flight to end", lambda: not in_flight_runs(dev), timeout=120, every=0.2)
        time.sleep(0.2 + 5.0 * jitter.random())
        repo = names[i % len(names)]
        rel = f"latency/edit{i // 4}.js.ast.json" if i % 4 >= 2 else f"latency/new{i}.js.ast.json"
        data = dumps(estree(1 + i % 3) | {"end": 9_000_000 + i})
        digest = hasher(data).hexdigest()
        path = site.repos[repo] / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            f.write(data)
        closed_wall, closed = time.time(), time.monotonic()
        while not _visible(store, repo, rel, digest):
            if time.monotonic() - closed > timeout:
                raise TimeoutError(f"{repo}:{rel} not visible after {timeout:.0f} s")
            time.sleep(poll)
        sample = Sample(repo, rel, time.monotonic() - closed)
        visible_wall = closed_wall + sample.latency_s
        run = next(
            (
                r
                for r in sensor_runs(dev)
                if r["tags"].get("dagster/partition") == repo and r["creationTime"] >= closed_wall
            ),
            None,
        )
        if run is not None and run["startTime"]:
            sample.to_request_s = run["creationTime"] - closed_wall
            sample.to_start_s = run["startTime"] - run["creationTime"]
            sample.to_visible_s = visible_wall - run["startTime"]
            sample.extra = {
                "run_id": run["runId"],
                "records": run["tags"].get("snake_pipe/journal_records"),
            }
        out.append(sample)
        log(
            f"  {i + 1:3d}/{samples} {repo}:{rel}  {sample.latency_s:5.2f} s"
            + (
                f"  (request {sample.to_request_s:4.2f} + queue/launch {sample.to_start_s:4.2f}"
                f" + run {sample.to_visible_s:4.2f})"
                if sample.to_request_s is not None
                else ""
            )
        )
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: with few samples, a real observation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(samples: list[Sample]) -> dict[str, Any]:
    lat = [s.latency_s for s in samples]

    def part(name: str) -> dict[str, float] | None:
        xs = [getattr(s, name) for s in samples if getattr(s, name) is not None]
        if not xs:
            return None
        return {"p50": round(percentile(xs, 0.5), 2), "p95": round(percentile(xs, 0.95), 2)}

    return {
        "samples": len(samples),
        "p50_s": round(percentile(lat, 0.5), 2),
        "p95_s": round(percentile(lat, 0.95), 2),
        "max_s": round(max(lat), 2),
        "mean_s": round(statistics.fmean(lat), 2),
        "close_to_run_request_s": part("to_request_s"),
        "run_request_to_start_s": part("to_start_s"),
        "run_start_to_visible_s": part("to_visible_s"),
        "latencies_s": [round(x, 3) for x in lat],
    }
