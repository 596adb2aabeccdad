"""ast_change_sensor on a real instance, a real change journal and real files: what is
Dagster's — run requests, run keys, tags, partitions, the cursor in Dagster's storage, the
outcome of runs read back by run key. (The consumer's rules themselves are tested without
Dagster: tests/core/journal/test_consumer.py.)

Ticks are evaluated as the daemon does (through the definition, with the repository's
partitions and the requested partitions applied), each with the cursor of the tick before.
Records are appended by hand as the watcher would append them, and runs are added to the
instance as the run queue and the run worker would report them; in the tests of the
watcher's supervision a real ``snake-pipe watch`` process is started (and stopped).
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from snake_pipe_core import Change, ChangeJournal, FileChange, Store, ingest_repository
from snake_pipe_core import load_settings as _load_settings
from snake_pipe_core.guard import GuardState
from snake_pipe_core.journal import ConsumerState
from snake_pipe_core.watch import service as watch_service
from snake_pipe_dagster.change_sensor import (
    CHANGE_INTERVAL_ENV,
    CHANGE_WAIT_ENV,
    ast_change_sensor,
    change_interval_seconds,
    change_wait_seconds,
    run_outcomes,
)
from snake_pipe_dagster.checks import MATCHES_DISK_CHECK, ast_checks
from snake_pipe_dagster.definitions import defs
from snake_pipe_dagster.jobs import (
    FULL_PRIORITY,
    INCREMENTAL_PRIORITY,
    PRIORITY_TAG,
    RECONCILIATION_PRIORITY,
)
from snake_pipe_dagster.partitions import REPO_PARTITIONS_NAME
from snake_pipe_dagster.resources import SnakePipeResource
from tests.conftest import ROOT
from tests.dagster.helpers import Project, write_config

pytestmark = pytest.mark.integration

REPOS = ("mixed", "webapp")
Tick = Any  # dagster's SensorExecutionData


@pytest.fixture(autouse=True)
def _answer_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ticks answer at once unless a test is about the wait for news."""
    monkeypatch.setenv(CHANGE_WAIT_ENV, "0")


@pytest.fixture
def journal(project: Project) -> Iterator[ChangeJournal]:
    with ChangeJournal(settings_of(project).journal_path) as j:
        yield j


@pytest.fixture
def watching(journal: ChangeJournal) -> ChangeJournal:
    """A journal whose watcher beats: the sensor starts none."""
    journal.watcher_started(pid=os.getpid())
    return journal


@pytest.fixture
def partitioned(instance: dg.DagsterInstance) -> dg.DagsterInstance:
    instance.add_dynamic_partitions(REPO_PARTITIONS_NAME, list(REPOS))
    return instance


def settings_of(project: Project):  # -> Settings
    return _load_settings(project.config, env={})


def tick(
    project: Project | SnakePipeResource, instance: dg.DagsterInstance, cursor: str | None
) -> Tick:
    """One evaluation as the daemon does it; the requested partitions are then added, as the
    daemon adds them before it submits the runs."""
    resource = project.resource if isinstance(project, Project) else project
    context = dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        cursor=cursor,
        resources={"snake_pipe": resource},
        repository_def=defs.get_repository_def(),
    )
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        data = ast_change_sensor.evaluate_tick(context)
    for request in data.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(REPO_PARTITIONS_NAME, list(request.partition_keys))
    return data


def runs(data: Tick) -> dict[str, tuple[str, list[str] | None]]:
    """repo → (run key, paths) of the tick's ingest run requests."""
    out = {}
    for r in data.run_requests or []:
        if r.asset_check_keys:
            continue
        config = r.run_config["ops"]["ast_ingest"]["config"]
        assert config["mode"] == "incremental"
        out[r.partition_key] = (r.run_key, config.get("paths"))
    return out


def cursor_of(data: Tick) -> ConsumerState:
    state = ConsumerState.loads(data.cursor)
    assert state is not None
    return state


def retry_due(data: Tick, repo: str) -> str:
    """The tick's cursor as it will be once ``repo``'s back-off is over."""
    state = cursor_of(data)
    due = replace(state.repo(repo), retry_at=1.0)
    return replace(state, repos={**state.repos, repo: due}).dumps()


def prefix(journal: ChangeJournal, data: Tick, repo: str) -> str:
    return f"{repo}:{journal.journal_id[:8]}-{cursor_of(data).epoch}"


def changed(repo: str, *paths: str) -> list[FileChange]:
    return [FileChange(Change.CHANGED, repo, p) for p in paths]


def test_changes_become_one_run_per_repository_keyed_by_journal_position(
    project: Project, partitioned: dg.DagsterInstance, watching: ChangeJournal
) -> None:
    journal = watching
    journal.append(changed("webapp", "src/app.js.ast.json", "src/util.js.ast.json"))
    journal.append([FileChange(Change.DELETED, "mixed", "native/main.c.ast.json")])
    journal.append(changed("webapp", "src/app.js.ast.json"))  # again: one path

    first = tick(project, partitioned, None)

    assert runs(first) == {
        "webapp": (
            f"{prefix(journal, first, 'webapp')}:1-4",
            ["src/app.js.ast.json", "src/util.js.ast.json"],
        ),
        "mixed": (f"{prefix(journal, first, 'mixed')}:3-3", ["native/main.c.ast.json"]),
    }
    for request in first.run_requests:
        assert request.partition_key in REPOS
        assert request.tags[PRIORITY_TAG] == str(INCREMENTAL_PRIORITY)
        assert request.tags["snake_pipe/trigger"] == "watcher"
        assert request.tags["snake_pipe/try"] == "1"
        assert request.tags["dagster/sensor_name"] == "ast_change_sensor"
    assert cursor_of(first).journal_id == journal.journal_id
    assert cursor_of(first).mark == 0  # requested, not applied
    assert len(first.cursor) < 400  # the runs in flight, never a list of files

    # Nothing new, the runs still going: nothing requested, the same keys waiting.
    second = tick(project, partitioned, first.cursor)
    assert not second.run_requests
    assert "no new change (journal at #4)" in second.skip_message
    assert "waiting: mixed: its run" in second.skip_message


def test_the_same_cursor_over_the_same_records_gives_the_same_run_keys(
    project: Project, partitioned: dg.DagsterInstance, watching: ChangeJournal
) -> None:
    """A re-evaluated tick launches nothing twice: Dagster skips a run key it has seen."""
    watching.append(changed("webapp", "a.js.ast.json"))
    watching.append(changed("mixed", "c.js.ast.json"))
    start = tick(project, partitioned, None).cursor
    once = tick(project, partitioned, None)
    assert cursor_of(once).epoch != ConsumerState.loads(start).epoch  # type: ignore[union-attr]
    again = [tick(project, partitioned, start) for _ in range(2)]
    assert again[0].cursor == again[1].cursor and not again[0].run_requests


def test_runs_are_read_back_by_run_key_and_a_failed_one_is_requested_again(
    project: Project, partitioned: dg.DagsterInstance, watching: ChangeJournal
) -> None:
    watching.append(changed("webapp", "a.js.ast.json"))
    watching.append(changed("mixed", "b.js.ast.json"))
    first = tick(project, partitioned, None)
    keys = {repo: key for repo, (key, _) in runs(first).items()}
    add_run(partitioned, "webapp", dg.DagsterRunStatus.SUCCESS, keys["webapp"])
    add_run(partitioned, "mixed", dg.DagsterRunStatus.FAILURE, keys["mixed"])
    assert run_outcomes(partitioned, [*keys.values(), "unknown"]) == {
        keys["webapp"]: "succeeded",
        keys["mixed"]: "failed",
    }

    second = tick(project, partitioned, first.cursor)
    assert not second.run_requests  # mixed waits for its back-off (2 s)
    assert cursor_of(second).mark == 1  # webapp's record is applied; mixed's is not
    watching.compact(cursor_of(second).mark)  # what the daemon's next tick does
    assert watching.pending() == 1

    third = tick(project, partitioned, retry_due(second, "mixed"))
    assert runs(third) == {"mixed": (f"{keys['mixed']}.1", ["b.js.ast.json"])}
    [request] = third.run_requests
    assert request.tags["snake_pipe/try"] == "2"


def test_a_rescan_marker_or_too_many_paths_asks_for_the_whole_repository(
    project: Project, partitioned: dg.DagsterInstance, journal: ChangeJournal
) -> None:
    write_config(project.config, "\n[watch]\nmax_run_paths = 3\n")
    journal.watcher_started(pid=os.getpid())
    journal.append(changed("webapp", "a.js.ast.json"))
    journal.append([FileChange(Change.RESCAN, "webapp")])
    journal.append(changed("mixed", *(f"f{i}.js.ast.json" for i in range(4))))
    journal.append(changed("fresh", "caf\udce9.js.ast.json"))  # a name that is not UTF-8
    (project.repos / "fresh").mkdir()

    data = tick(project, partitioned, None)

    got = runs(data)
    # Whole-repository diffs queue behind the runs of single paths.
    assert {r.tags[PRIORITY_TAG] for r in data.run_requests} == {str(RECONCILIATION_PRIORITY)}
    assert INCREMENTAL_PRIORITY > RECONCILIATION_PRIORITY > FULL_PRIORITY
    assert got == {
        "webapp": (f"{prefix(journal, data, 'webapp')}:1-2", None),
        "mixed": (f"{prefix(journal, data, 'mixed')}:3-6", None),  # 4 paths > 3
        "fresh": (f"{prefix(journal, data, 'fresh')}:7-7", None),
    }
    # A repository new to Dagster gets its partition in the same tick.
    [request] = data.dynamic_partitions_requests
    assert list(request.partition_keys) == ["fresh"]


def test_compaction_goes_only_up_to_what_a_persisted_cursor_says_is_applied(
    project: Project, partitioned: dg.DagsterInstance, watching: ChangeJournal
) -> None:
    watching.append(changed("webapp", "a.js.ast.json", "b.js.ast.json"))
    first = tick(project, partitioned, None)
    [(key, _)] = runs(first).values()
    add_run(partitioned, "webapp", dg.DagsterRunStatus.SUCCESS, key)
    second = tick(project, partitioned, first.cursor)
    assert cursor_of(second).mark == 2
    assert watching.pending() == 2  # the second tick's cursor is not persisted yet
    tick(project, partitioned, second.cursor)
    assert (watching.compacted_upto(), watching.pending()) == (2, 0)


def test_lost_records_rescan_every_repository(
    project: Project,
    partitioned: dg.DagsterInstance,
    watching: ChangeJournal,
    capfd: pytest.CaptureFixture[str],
) -> None:
    watching.append(changed("webapp", "a.js.ast.json"))
    cursor = tick(project, partitioned, None).cursor
    watching.append(changed("webapp", "b.js.ast.json"))
    watching.compact(2)  # another consumer (e.g. `snake-pipe watch --ingest`) took them

    data = tick(project, partitioned, cursor)

    # mixed at once; webapp once its run in flight is over (that run read the disk before).
    assert {repo: paths for repo, (_, paths) in runs(data).items()} == {"mixed": None}
    assert "were compacted before this consumer applied them" in capfd.readouterr().err
    path = watching.path
    watching.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with ChangeJournal(path) as replaced:
        replaced.watcher_started(pid=os.getpid())
        after = tick(project, partitioned, data.cursor)
        assert {repo: paths for repo, (_, paths) in runs(after).items()} == {
            "mixed": None,
            "webapp": None,
        }
        assert cursor_of(after).journal_id == replaced.journal_id
    assert "the journal was replaced" in capfd.readouterr().err


def test_a_refusal_is_tried_again_and_shown_by_a_run_of_the_check_alone(
    project: Project,
    partitioned: dg.DagsterInstance,
    watching: ChangeJournal,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    write_config(project.config, "\n[limits]\nmass_delete_min_files = 1\n")  # a small repo
    monkeypatch.setenv("SNAKE_PIPE_CONFIG", str(project.config))
    job = defs.resolve_job_def("incremental_ast_job")
    for repo in REPOS:
        assert job.execute_in_process(partition_key=repo, instance=partitioned).success
    root = project.repos / "webapp"
    shutil.rmtree(root)
    root.mkdir()  # an unmounted mount point
    watching.append([FileChange(Change.RESCAN, "webapp")])
    first = tick(project, partitioned, None)
    [request] = first.run_requests
    run = job.execute_in_process(
        run_config=request.run_config,
        partition_key="webapp",
        tags={**request.tags, "dagster/run_key": request.run_key},
        instance=partitioned,
        raise_on_error=False,
    )
    assert not run.success
    [failure] = [e for e in run.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert "empty, while the store holds" in str(failure.step_failure_data.user_failure_data)

    second = tick(project, partitioned, first.cursor)
    [check] = second.run_requests  # the refusal shows as a failing check, the retry waits
    assert check.asset_check_keys == [
        dg.AssetCheckKey(dg.AssetKey("ast_metadata"), MATCHES_DISK_CHECK)
    ]
    assert check.partition_key == "webapp" and not check.asset_selection
    checked = dg.materialize(
        [defs.get_assets_def(dg.AssetKey("ast_manifest")), *ast_checks],
        selection=dg.AssetSelection.checks(*check.asset_check_keys),
        tags={"dagster/partition": "webapp"},
        resources=project.resources(),
        instance=partitioned,
        raise_on_error=False,
    )
    [evaluation] = checked.get_asset_check_evaluations()
    assert not evaluation.passed and "refused this repository's changes" in evaluation.description
    assert evaluation.metadata["refusal"].value == "empty"
    refusal = GuardState(Store(settings_of(project).store_location).path).refusal("webapp")
    assert refusal is not None and refusal.retry_at is not None

    # Mounted again: the next try, by itself, applies the records.
    shutil.rmtree(root)
    shutil.copytree(tmp_path / "repos" / "mixed", root)  # (any content will do)
    third = tick(project, partitioned, retry_due(second, "webapp"))
    [retry] = third.run_requests
    assert retry.tags["snake_pipe/try"] == "2"


def test_a_requested_run_brings_the_store_to_the_disk(
    project: Project,
    partitioned: dg.DagsterInstance,
    watching: ChangeJournal,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The run config a tick requests, executed as the run worker executes it."""
    monkeypatch.setenv("SNAKE_PIPE_CONFIG", str(project.config))
    job = defs.resolve_job_def("incremental_ast_job")
    for repo in REPOS:
        assert job.execute_in_process(partition_key=repo, instance=partitioned).success
    root = project.repos / "mixed"
    (root / "src/app.js.ast.json").write_bytes(b'{"type": "Program", "body": []}')
    (root / "native/main.c.ast.json").unlink()
    (root / "src/new").mkdir()
    (root / "src/new/x.py.ast.json").write_bytes(b'{"_type": "Module", "body": []}')
    watching.append(changed("mixed", "src/app.js.ast.json", "src/new"))
    watching.append([FileChange(Change.DELETED, "mixed", "native/main.c.ast.json")])

    first = tick(project, partitioned, None)
    [request] = first.run_requests
    result = job.execute_in_process(
        run_config=request.run_config,
        partition_key=request.partition_key,
        tags={**request.tags, "dagster/run_key": request.run_key},
        instance=partitioned,
    )

    assert result.success
    assert views(project.store) == fresh_views(project, tmp_path)
    second = tick(project, partitioned, first.cursor)  # learns the run succeeded
    assert cursor_of(second).mark == 3 and cursor_of(second).repos == {}


def test_the_run_queue_keeps_one_run_of_a_repository_at_a_time(tmp_path: Path) -> None:
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
    finally:
        instance.dispose()
    per_repository = {"applyLimitPerUniqueValue": True}
    assert {"key": "dagster/partition", "value": per_repository, "limit": 1} in limits


# -- the watcher's supervision ----------------------------------------------------------------


def test_watcher_is_started_when_none_beats_and_not_when_one_does(
    project: Project, partitioned: dg.DagsterInstance, journal: ChangeJournal, spawned: list
) -> None:
    journal.watcher_started(pid=os.getpid())
    data = tick(project, partitioned, None)
    assert spawned == []  # a fresh heartbeat: no new watcher
    assert cursor_of(data).spawned_at is None

    journal.watcher_stopped(pid=os.getpid())  # a clean stop clears the heartbeat
    started = tick(project, partitioned, data.cursor)

    [proc] = spawned
    status = wait_for(lambda: journal.watcher_status(), timeout=60)
    assert status.pid == proc.pid != os.getpid()
    assert os.getsid(proc.pid) == proc.pid  # its own session: not the code server's child
    assert cursor_of(started).spawns == 1
    # Its start-up rescan markers come through the next ticks as whole-repository runs.
    wait_for(lambda: journal.last_seq() >= 2 or None, timeout=60)
    data = tick(project, partitioned, started.cursor)
    assert {repo: paths for repo, (_, paths) in runs(data).items()} == {
        "webapp": None,
        "mixed": None,
    }
    assert len(spawned) == 1
    assert cursor_of(data).spawns == 0  # it beats: the back-off is reset


def test_a_stale_heartbeat_starts_a_new_watcher_once(
    project: Project,
    partitioned: dg.DagsterInstance,
    journal: ChangeJournal,
    spawned: list,
    capfd: pytest.CaptureFixture[str],
) -> None:
    journal.watcher_started(pid=2**22 + 1)  # a watcher that died without a word
    age_heartbeat(journal, seconds=60)

    first = tick(project, partitioned, None)
    [proc] = spawned
    wait_for(lambda: (s := journal.watcher_status()) and s.pid == proc.pid, timeout=60)
    assert f"is 60 s old: started `snake-pipe watch`, pid {proc.pid}" in capfd.readouterr().err
    assert "watching 2 repositories" in watcher_log(project)
    second = tick(project, partitioned, first.cursor)
    assert len(spawned) == 1  # it beats now
    assert cursor_of(second).spawns == 0


def test_a_watcher_that_never_beats_is_restarted_with_back_off(
    project: Project, partitioned: dg.DagsterInstance, journal: ChangeJournal, spawned: list
) -> None:
    started = time.time()

    def cursor(ago: float, spawns: int) -> str:
        state = ConsumerState(journal.journal_id, epoch="e")
        return replace(state, spawned_at=started - ago, spawns=spawns).dumps()

    tick(project, partitioned, cursor(0, 1))  # started a moment ago: give it time
    assert spawned == []
    # Three failed starts in a row: the next waits 4 x stale_after_s (15 s) = 60 s.
    tick(project, partitioned, cursor(59, 3))
    assert spawned == []
    data = tick(project, partitioned, cursor(61, 3))
    assert len(spawned) == 1
    assert cursor_of(data).spawns == 4


# -- the wait for news -------------------------------------------------------------------------


def test_a_tick_with_nothing_to_do_waits_for_news_and_answers_when_it_comes(
    project: Project,
    partitioned: dg.DagsterInstance,
    watching: ChangeJournal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CHANGE_WAIT_ENV, "0.3")
    assert not tick(project, partitioned, None).run_requests

    monkeypatch.setenv(CHANGE_WAIT_ENV, "25")
    writer = threading.Timer(0.5, lambda: watching.append(changed("webapp", "a.js.ast.json")))
    writer.start()
    t = time.monotonic()
    data = tick(project, partitioned, None)
    took = time.monotonic() - t
    writer.join()
    assert set(runs(data)) == {"webapp"}
    assert took < 20  # answered when the record came, not at the end of the wait


def test_a_waiting_repository_is_asked_for_as_soon_as_its_run_ends(
    project: Project,
    partitioned: dg.DagsterInstance,
    watching: ChangeJournal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watching.append(changed("webapp", "a.js.ast.json"))
    first = tick(project, partitioned, None)
    [(key, _)] = runs(first).values()
    run = add_run(partitioned, "webapp", dg.DagsterRunStatus.STARTED, key)
    watching.append(changed("webapp", "b.js.ast.json"))
    monkeypatch.setenv(CHANGE_WAIT_ENV, "25")
    ender = threading.Timer(0.5, lambda: report_success(partitioned, run))
    ender.start()
    t = time.monotonic()
    data = tick(project, partitioned, first.cursor)
    took = time.monotonic() - t
    ender.join()
    assert runs(data) == {"webapp": (f"{prefix(watching, data, 'webapp')}:2-2", ["b.js.ast.json"])}
    assert took < 20


def test_without_repositories_the_tick_skips(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    config = tmp_path / "empty.toml"
    config.write_text(f'store = "{tmp_path / "s.duckdb"}"\n', encoding="utf-8")
    data = tick(SnakePipeResource(config_file=str(config)), instance, None)
    assert not data.run_requests
    assert "no repository is configured" in data.skip_message


def test_another_consumer_holding_the_journal_is_named(
    project: Project, partitioned: dg.DagsterInstance, watching: ChangeJournal
) -> None:
    code = (
        "import sys, time; from snake_pipe_core.journal import ChangeJournal; "
        f"ChangeJournal({str(watching.path)!r}).claim_consumer('snake-pipe watch --ingest'); "
        "print('held', flush=True); time.sleep(60)"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            data = tick(project, partitioned, None)
            assert "consumed by snake-pipe watch --ingest (pid" in data.skip_message
        finally:
            holder.kill()


def test_interval_wait_and_default_status() -> None:
    assert change_interval_seconds({}) == 2
    assert change_interval_seconds({CHANGE_INTERVAL_ENV: "5"}) == 5
    assert change_wait_seconds({}) == 4.0
    assert change_wait_seconds({CHANGE_WAIT_ENV: "0"}) == 0.0
    for bad in ("0", "soon", "-1", "2.5"):
        with pytest.raises(ValueError, match=CHANGE_INTERVAL_ENV):
            change_interval_seconds({CHANGE_INTERVAL_ENV: bad})
    for bad in ("-1", "31", "soon"):
        with pytest.raises(ValueError, match=CHANGE_WAIT_ENV):
            change_wait_seconds({CHANGE_WAIT_ENV: bad})
    assert ast_change_sensor.minimum_interval_seconds == change_interval_seconds()
    # Off until someone turns it on: it starts a process on the machine (see its docstring).
    assert ast_change_sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert ast_change_sensor.job_name == "incremental_ast_job"


def test_the_sensor_module_is_thin() -> None:
    """The rules are the engine's; what is left here is Dagster's (issue 7: ~100 lines)."""
    import ast

    import snake_pipe_dagster.change_sensor as module

    tree = ast.parse(Path(module.__file__).read_text())
    docstrings = {
        line
        for n in ast.walk(tree)
        if isinstance(n, ast.Module | ast.FunctionDef) and ast.get_docstring(n)
        for line in range(n.body[0].lineno, (n.body[0].end_lineno or 0) + 1)
    }
    lines = Path(module.__file__).read_text().splitlines()
    code = [
        ln
        for i, ln in enumerate(lines, 1)
        if ln.strip() and not ln.strip().startswith("#") and i not in docstrings
    ]
    assert len(code) < 140, len(code)  # 132 now, docstrings and comments aside


# -- helpers ---------------------------------------------------------------------------------


JOB_ORIGIN = RemoteJobOrigin(
    RemoteRepositoryOrigin(
        InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name="snake_pipe_dagster.definitions", attribute="defs")
        ),
        "__repository__",
    ),
    "incremental_ast_job",
)


def add_run(
    instance: dg.DagsterInstance, repo: str, status: dg.DagsterRunStatus, run_key: str
) -> dg.DagsterRun:
    """The run Dagster made of a run request, moved to ``status`` by the events the run queue
    and the run worker would report."""
    run = instance.add_run(
        dg.DagsterRun(
            job_name="incremental_ast_job",
            status=dg.DagsterRunStatus.NOT_STARTED,
            tags={
                "dagster/partition": repo,
                "dagster/run_key": run_key,
                "dagster/sensor_name": "ast_change_sensor",
            },
            remote_job_origin=JOB_ORIGIN,  # a queued run must say where its code is
        )
    )
    for event in (DagsterEventType.RUN_ENQUEUED, DagsterEventType.RUN_START):
        instance.report_dagster_event(
            DagsterEvent(event.value, job_name=run.job_name), run_id=run.run_id
        )
    if status == dg.DagsterRunStatus.SUCCESS:
        report_success(instance, run)
    elif status == dg.DagsterRunStatus.FAILURE:
        instance.report_run_failed(run)
    updated = instance.get_run_by_id(run.run_id)
    assert updated is not None and updated.status == status
    return updated


def report_success(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    instance.report_dagster_event(
        DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name), run_id=run.run_id
    )


def age_heartbeat(journal: ChangeJournal, seconds: float) -> None:
    """Make the watcher's last heartbeat ``seconds`` old (the journal offers no way: only a
    watcher writes it)."""
    with sqlite3.connect(journal.path) as con:
        con.execute("UPDATE watcher SET beat_at = beat_at - ?", [seconds])
    con.close()


def watcher_log(project: Project) -> str:
    path = settings_of(project).journal_path.with_suffix(".log")
    return path.read_text(errors="replace") if path.exists() else ""


def wait_for(probe: Callable[[], Any], timeout: float, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout} s")


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> Iterator[list]:
    """The watchers the sensor starts (real ``snake-pipe watch`` processes), stopped at the
    end of the test by their pid: SIGTERM, then SIGKILL to their session if they linger."""
    procs: list = []
    real = watch_service.spawn_watcher

    def spawn(*args: Any, **kwargs: Any):  # -> subprocess.Popen[bytes]
        proc = real(*args, **kwargs)
        procs.append(proc)
        return proc

    monkeypatch.setattr(watch_service, "spawn_watcher", spawn)
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                wait_for(lambda p=proc: p.poll() is not None, timeout=30)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                wait_for(lambda p=proc: p.poll() is not None, timeout=10)


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


def fresh_views(project: Project, tmp_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    reference = Store(tmp_path / "reference.duckdb")
    settings = settings_of(project)
    for repo in REPOS:
        ingest_repository(project.repos / repo, store=reference, settings=settings, repo=repo)
    return views(reference)
