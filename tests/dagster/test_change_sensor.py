"""ast_change_sensor on a real instance, a real change journal and real files.

Ticks are evaluated as the daemon does (through the definition, with the repository's
partitions and the requested partitions applied), each with the cursor of the tick before.
Records are appended by hand as the watcher would append them, except in the tests of the
watcher's supervision, where a real ``snake-pipe watch`` process is started (and stopped).
"""

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
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

from snake_pipe_core import (
    Change,
    ChangeJournal,
    FileChange,
    Store,
    ingest_repository,
    load_settings,
    watch_service,
)
from snake_pipe_dagster import change_sensor
from snake_pipe_dagster.change_plan import ChangeCursor
from snake_pipe_dagster.change_sensor import (
    CHANGE_INTERVAL_ENV,
    CHANGE_WAIT_ENV,
    RESCAN_PRIORITY,
    ast_change_sensor,
    change_interval_seconds,
    change_wait_seconds,
)
from snake_pipe_dagster.definitions import defs
from snake_pipe_dagster.jobs import FULL_PRIORITY, INCREMENTAL_PRIORITY, PRIORITY_TAG
from snake_pipe_dagster.partitions import REPO_PARTITIONS_NAME
from snake_pipe_dagster.resources import SnakePipeResource
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
    return load_settings(project.config, env={})


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
    """repo → (run key, paths) of the tick's run requests."""
    out = {}
    for r in data.run_requests or []:
        config = r.run_config["ops"]["ast_ingest"]["config"]
        assert config["mode"] == "incremental"
        out[r.partition_key] = (r.run_key, config.get("paths"))
    return out


def prefix(journal: ChangeJournal, data: Tick, repo: str) -> str:
    cursor = ChangeCursor.loads(data.cursor)
    assert cursor is not None
    return f"{repo}:{journal.journal_id[:8]}-{cursor.epoch}"


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
        assert request.tags["dagster/sensor_name"] == "ast_change_sensor"
    cursor = ChangeCursor.loads(first.cursor)
    assert cursor is not None and (cursor.journal_id, cursor.seq) == (journal.journal_id, 4)
    assert len(first.cursor) < 120  # an offset, not a list of files

    # The cursor advanced: nothing new, nothing requested.
    second = tick(project, partitioned, first.cursor)
    assert not second.run_requests
    assert "no new change (journal at #4)" in second.skip_message
    assert ChangeCursor.loads(second.cursor) == cursor

    # New records: only they are asked for, under keys of their own.
    journal.append(changed("mixed", "py/tool.py.ast.json"))
    third = tick(project, partitioned, second.cursor)
    assert runs(third) == {
        "mixed": (f"{prefix(journal, first, 'mixed')}:5-5", ["py/tool.py.ast.json"]),
    }


def test_the_same_cursor_over_the_same_records_gives_the_same_run_keys(
    project: Project, partitioned: dg.DagsterInstance, watching: ChangeJournal
) -> None:
    """A re-evaluated tick launches nothing twice: Dagster skips a run key it has seen."""
    watching.append(changed("webapp", "a.js.ast.json"))
    start = tick(project, partitioned, None).cursor
    watching.append(changed("webapp", "b.js.ast.json"))
    watching.append(changed("mixed", "c.js.ast.json"))

    once = tick(project, partitioned, start)
    again = tick(project, partitioned, start)

    assert runs(once) == runs(again)
    assert [r.run_key for r in once.run_requests] == [r.run_key for r in again.run_requests]
    assert once.cursor == again.cursor
    keys = sorted(r.run_key for r in once.run_requests)
    assert keys[0].endswith(":3-3") and keys[1].endswith(":2-2")


def test_a_rescan_marker_or_too_many_paths_asks_for_the_whole_repository(
    project: Project, partitioned: dg.DagsterInstance, journal: ChangeJournal
) -> None:
    write_config(project.config, "\n[watch]\nmax_run_paths = 3\n")
    journal.watcher_started(pid=os.getpid())
    journal.append(changed("webapp", "a.js.ast.json"))
    journal.append([FileChange(Change.RESCAN, "webapp")])
    journal.append(changed("mixed", *(f"f{i}.js.ast.json" for i in range(4))))
    journal.append(changed("mixed", "x.js.ast.json"))
    journal.append(changed("fresh", "caf\udce9.js.ast.json"))  # a name that is not UTF-8
    (project.repos / "fresh").mkdir()

    data = tick(project, partitioned, None)

    got = runs(data)
    # Whole-repository diffs queue behind the runs of single paths.
    assert {r.tags[PRIORITY_TAG] for r in data.run_requests} == {str(RESCAN_PRIORITY)}
    assert INCREMENTAL_PRIORITY > RESCAN_PRIORITY > FULL_PRIORITY
    assert got["webapp"] == (f"{prefix(journal, data, 'webapp')}:1-2", None)
    assert got["mixed"] == (f"{prefix(journal, data, 'mixed')}:3-7", None)  # 5 paths > 3
    # Run config travels as JSON: a name that is not UTF-8 makes a whole-repository diff.
    assert got["fresh"] == (f"{prefix(journal, data, 'fresh')}:8-8", None)
    assert ChangeCursor.loads(data.cursor).seq == 8


def test_compaction_goes_only_up_to_the_previous_ticks_cursor(
    project: Project, partitioned: dg.DagsterInstance, watching: ChangeJournal
) -> None:
    journal = watching
    journal.append(changed("webapp", "a.js.ast.json", "b.js.ast.json", "c.js.ast.json"))

    first = tick(project, partitioned, None)
    # Its cursor (#3) is not persisted yet: nothing may be dropped.
    assert (journal.compacted_upto(), journal.pending()) == (0, 3)

    journal.append(changed("mixed", "d.js.ast.json", "e.js.ast.json"))
    second = tick(project, partitioned, first.cursor)
    # The daemon persisted the first tick's cursor before the second tick: up to #3.
    assert (journal.compacted_upto(), journal.pending()) == (3, 2)
    assert runs(second)["mixed"][1] == ["d.js.ast.json", "e.js.ast.json"]

    # The second tick's records go at the third tick; compaction never loses the sensor's way.
    third = tick(project, partitioned, second.cursor)
    assert (journal.compacted_upto(), journal.pending()) == (5, 0)
    assert not third.run_requests


def test_a_replaced_journal_rescans_every_repository(
    project: Project, partitioned: dg.DagsterInstance, watching: ChangeJournal
) -> None:
    watching.append(changed("webapp", "a.js.ast.json"))
    cursor = tick(project, partitioned, None).cursor
    path = watching.path
    watching.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with ChangeJournal(path) as replaced:
        replaced.watcher_started(pid=os.getpid())
        replaced.append(changed("mixed", "b.js.ast.json"))

        data = tick(project, partitioned, cursor)

        assert set(runs(data)) == set(REPOS)
        assert all(paths is None for _, paths in runs(data).values())  # whole repositories
        new_id = replaced.journal_id[:8]
        assert all(f":{new_id}-" in key for key, _ in runs(data).values())
        assert ChangeCursor.loads(data.cursor).journal_id == replaced.journal_id


def test_records_compacted_before_the_sensor_saw_them_rescan_every_repository(
    project: Project,
    partitioned: dg.DagsterInstance,
    watching: ChangeJournal,
    capfd: pytest.CaptureFixture[str],
) -> None:
    watching.append(changed("webapp", "a.js.ast.json"))
    cursor = tick(project, partitioned, None).cursor
    watching.append(changed("webapp", "b.js.ast.json"))
    watching.compact(2)  # another consumer (e.g. `snake-pipe watch --ingest`) took #2

    data = tick(project, partitioned, cursor)

    assert {repo: paths for repo, (_, paths) in runs(data).items()} == {
        "webapp": None,
        "mixed": None,
    }
    assert "were compacted before this sensor read them" in capfd.readouterr().err


def test_a_repository_with_a_run_in_flight_waits_and_its_changes_coalesce(
    project: Project, partitioned: dg.DagsterInstance, watching: ChangeJournal
) -> None:
    journal, instance = watching, partitioned
    in_flight = add_run(instance, "webapp", dg.DagsterRunStatus.STARTED)
    journal.append(changed("webapp", "a.js.ast.json"))
    journal.append(changed("mixed", "m.js.ast.json"))
    journal.append(changed("webapp", "b.js.ast.json"))

    first = tick(project, instance, None)

    # mixed goes on; webapp waits, its records kept in the journal before the cursor.
    assert set(runs(first)) == {"mixed"}
    cursor = ChangeCursor.loads(first.cursor)
    assert (cursor.seq, dict(cursor.done)) == (0, {"mixed": 2})
    journal.append(changed("webapp", "c.js.ast.json"))  # the burst goes on
    second = tick(project, instance, first.cursor)
    assert not second.run_requests
    assert "waiting for their turn: webapp" in second.skip_message
    third = tick(project, instance, second.cursor)
    assert journal.compacted_upto() == 0  # held records are never compacted

    # The run ends: one run covers all of webapp's records; mixed is not asked for again.
    instance.report_run_canceled(in_flight)
    fourth = tick(project, instance, third.cursor)
    assert runs(fourth) == {
        "webapp": (
            f"{prefix(journal, fourth, 'webapp')}:1-4",
            ["a.js.ast.json", "b.js.ast.json", "c.js.ast.json"],
        )
    }
    assert ChangeCursor.loads(fourth.cursor).seq == 4


def test_only_started_runs_and_this_sensors_queued_runs_hold_changes(
    project: Project, partitioned: dg.DagsterInstance, watching: ChangeJournal
) -> None:
    instance = partitioned
    # A backfill's queued run reads the disk after these changes anyway: it holds nothing.
    add_run(instance, "webapp", dg.DagsterRunStatus.QUEUED, {"dagster/backfill": "b1"})
    # One this sensor queued does: a burst must not queue a run per tick.
    add_run(
        instance, "mixed", dg.DagsterRunStatus.QUEUED, {"dagster/sensor_name": "ast_change_sensor"}
    )
    assert change_sensor.busy_repositories(instance, REPOS) == {"mixed"}
    watching.append(changed("webapp", "a.js.ast.json"))
    watching.append(changed("mixed", "b.js.ast.json"))
    assert set(runs(tick(project, instance, None))) == {"webapp"}
    # A run in flight for longer than the hold limit (its worker may be dead) holds nothing.
    later = time.time() + change_sensor.HOLD_MAX_S + 1
    assert change_sensor.busy_repositories(instance, REPOS, now=later) == set()


def test_a_busy_repository_pinning_a_full_window_owes_a_rescan_instead(
    project: Project,
    partitioned: dg.DagsterInstance,
    watching: ChangeJournal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(change_sensor, "MAX_RECORDS_PER_TICK", 3)
    run = add_run(partitioned, "webapp", dg.DagsterRunStatus.STARTED)
    watching.append(changed("webapp", "a.js.ast.json", "b.js.ast.json"))
    watching.append(changed("mixed", "m.js.ast.json", "n.js.ast.json"))

    first = tick(project, partitioned, None)  # reads #1-#3: the window is full

    assert set(runs(first)) == {"mixed"}
    cursor = ChangeCursor.loads(first.cursor)
    assert (cursor.seq, cursor.rescan) == (3, ("webapp",))  # the cursor moves on
    second = tick(project, partitioned, first.cursor)  # #4, mixed's second record
    assert runs(second)["mixed"][1] == ["n.js.ast.json"]
    partitioned.report_run_canceled(run)
    third = tick(project, partitioned, second.cursor)
    assert runs(third) == {"webapp": (f"{prefix(watching, third, 'webapp')}:r4-4", None)}
    assert ChangeCursor.loads(third.cursor).rescan == ()


def test_a_tick_requests_a_bounded_number_of_runs_and_the_rest_wait(
    project: Project,
    partitioned: dg.DagsterInstance,
    watching: ChangeJournal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(change_sensor, "MAX_RUNS_PER_TICK", 1)
    watching.append([FileChange(Change.RESCAN, "mixed"), FileChange(Change.RESCAN, "webapp")])
    watching.append(changed("webapp", "a.js.ast.json"))

    first = tick(project, partitioned, None)

    assert set(runs(first)) == {"mixed"}
    cursor = ChangeCursor.loads(first.cursor)
    assert (cursor.seq, cursor.rescan) == (3, ("webapp",))  # owed, the cursor moves on
    second = tick(project, partitioned, first.cursor)
    assert runs(second) == {"webapp": (f"{prefix(watching, second, 'webapp')}:r3-3", None)}


def test_a_new_repository_gets_its_partition_and_its_run_in_the_same_tick(
    project: Project, partitioned: dg.DagsterInstance, watching: ChangeJournal
) -> None:
    (project.repos / "fresh").mkdir()
    (project.repos / "fresh" / "a.py.ast.json").write_bytes(b'{"_type": "Module", "body": []}')
    watching.append([FileChange(Change.RESCAN, "fresh")])

    data = tick(project, partitioned, None)

    [request] = data.dynamic_partitions_requests
    assert list(request.partition_keys) == ["fresh"]
    assert runs(data) == {"fresh": (f"{prefix(watching, data, 'fresh')}:1-1", None)}
    assert "fresh" in partitioned.get_dynamic_partitions(REPO_PARTITIONS_NAME)


def test_unconfigured_repositories_and_missing_roots_are_skipped_and_passed(
    project: Project,
    partitioned: dg.DagsterInstance,
    watching: ChangeJournal,
    capfd: pytest.CaptureFixture[str],
) -> None:
    write_config(project.config, '[[repos]]\nname = "usb"\npath = "/nonexistent/usb-disk"\n')
    watching.append(changed("gone", "a.js.ast.json"))  # left the configuration
    watching.append(changed("usb", "b.js.ast.json"))  # its disk is not mounted
    watching.append(changed("webapp", "c.js.ast.json"))

    data = tick(project, partitioned, None)

    assert set(runs(data)) == {"webapp"}
    assert ChangeCursor.loads(data.cursor).seq == 3  # nothing blocks the journal
    err = capfd.readouterr().err
    assert "gone: changes in the journal skipped, not configured" in err
    assert "usb: changes in the journal skipped, its root /nonexistent/usb-disk is missing" in err


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

    [request] = tick(project, partitioned, None).run_requests
    result = job.execute_in_process(
        run_config=request.run_config,
        partition_key=request.partition_key,
        tags=request.tags,
        instance=partitioned,
    )

    assert result.success
    assert views(project.store) == fresh_views(project, tmp_path)


def test_watcher_is_started_when_none_beats_and_not_when_one_does(
    project: Project, partitioned: dg.DagsterInstance, journal: ChangeJournal, spawned: list
) -> None:
    journal.watcher_started(pid=os.getpid())
    data = tick(project, partitioned, None)
    assert spawned == []  # a fresh heartbeat: no new watcher
    assert ChangeCursor.loads(data.cursor).spawned_at is None

    journal.watcher_stopped(pid=os.getpid())  # a clean stop clears the heartbeat
    started = tick(project, partitioned, data.cursor)

    [proc] = spawned
    status = wait_for(lambda: journal.watcher_status(), timeout=60)
    assert status.pid == proc.pid != os.getpid()
    assert os.getsid(proc.pid) == proc.pid  # its own session: not the code server's child
    cursor = ChangeCursor.loads(started.cursor)
    assert cursor.spawned_at is not None and cursor.spawns == 1
    # Its start-up rescan markers come through the next ticks as whole-repository runs.
    wait_for(lambda: journal.last_seq() >= 2 or None, timeout=60)
    data = tick(project, partitioned, started.cursor)
    assert {repo: paths for repo, (_, paths) in runs(data).items()} == {
        "webapp": None,
        "mixed": None,
    }
    assert len(spawned) == 1
    assert ChangeCursor.loads(data.cursor).spawns == 0  # it beats: the back-off is reset


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
    assert ChangeCursor.loads(second.cursor).spawns == 0


def test_a_watcher_that_never_beats_is_restarted_with_back_off(
    project: Project, partitioned: dg.DagsterInstance, journal: ChangeJournal, spawned: list
) -> None:
    started = time.time()
    cursor = ChangeCursor(journal.journal_id, epoch="e", spawned_at=started, spawns=1).dumps()
    # Started a moment ago, no heartbeat yet: give it time.
    tick(project, partitioned, cursor)
    assert spawned == []
    # Three failed starts in a row: the next waits 4 x stale_after_s (15 s) = 60 s.
    cursor = ChangeCursor(journal.journal_id, epoch="e", spawned_at=started - 59, spawns=3)
    tick(project, partitioned, cursor.dumps())
    assert spawned == []
    cursor = ChangeCursor(journal.journal_id, epoch="e", spawned_at=started - 61, spawns=3)
    data = tick(project, partitioned, cursor.dumps())
    assert len(spawned) == 1
    assert ChangeCursor.loads(data.cursor).spawns == 4


def test_a_tick_with_nothing_to_do_waits_for_news_and_answers_at_once(
    project: Project,
    partitioned: dg.DagsterInstance,
    watching: ChangeJournal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CHANGE_WAIT_ENV, "0.3")
    t = time.monotonic()
    assert not tick(project, partitioned, None).run_requests
    assert 0.3 <= time.monotonic() - t < 2.0

    monkeypatch.setenv(CHANGE_WAIT_ENV, "10")
    writer = threading.Timer(0.5, lambda: watching.append(changed("webapp", "a.js.ast.json")))
    writer.start()
    t = time.monotonic()
    data = tick(project, partitioned, None)
    took = time.monotonic() - t
    writer.join()
    assert set(runs(data)) == {"webapp"}
    assert 0.5 <= took < 3.0  # answered when the record came, not after 10 s


def test_a_held_repository_is_asked_for_as_soon_as_its_run_ends(
    project: Project,
    partitioned: dg.DagsterInstance,
    watching: ChangeJournal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = add_run(partitioned, "webapp", dg.DagsterRunStatus.STARTED)
    watching.append(changed("webapp", "a.js.ast.json"))
    monkeypatch.setenv(CHANGE_WAIT_ENV, "10")
    ender = threading.Timer(0.5, lambda: partitioned.report_run_canceled(run))
    ender.start()
    t = time.monotonic()
    data = tick(project, partitioned, None)
    took = time.monotonic() - t
    ender.join()
    assert set(runs(data)) == {"webapp"}
    assert 0.5 <= took < 3.0


def test_without_repositories_the_tick_skips(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    config = tmp_path / "empty.toml"
    config.write_text(f'store = "{tmp_path / "s.duckdb"}"\n', encoding="utf-8")
    data = tick(SnakePipeResource(config_file=str(config)), instance, None)
    assert not data.run_requests
    assert "no repository is configured" in data.skip_message


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


def test_cursor_round_trip_and_unreadable_cursors() -> None:
    cursor = ChangeCursor("j" * 32, 42, {"a": 50}, ("b",), "abc123", 1.5, 2)
    assert ChangeCursor.loads(cursor.dumps()) == cursor
    for bad in (None, "", "not json", "[]", '{"v": 99, "j": "x", "s": 1}', '{"v": 1}'):
        assert ChangeCursor.loads(bad) is None


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
    instance: dg.DagsterInstance,
    repo: str,
    status: dg.DagsterRunStatus,
    tags: dict[str, str] | None = None,
) -> dg.DagsterRun:
    """A run of the partition, moved to ``status`` by the events the run queue and the run
    worker would report (which also set its start time)."""
    run = instance.add_run(
        dg.DagsterRun(
            job_name="incremental_ast_job",
            status=dg.DagsterRunStatus.NOT_STARTED,
            tags={"dagster/partition": repo, **(tags or {})},
            remote_job_origin=JOB_ORIGIN,  # a queued run must say where its code is
        )
    )
    events = {
        dg.DagsterRunStatus.QUEUED: [DagsterEventType.RUN_ENQUEUED],
        dg.DagsterRunStatus.STARTED: [DagsterEventType.RUN_ENQUEUED, DagsterEventType.RUN_START],
    }[status]
    for event in events:
        instance.report_dagster_event(
            DagsterEvent(event.value, job_name=run.job_name), run_id=run.run_id
        )
    updated = instance.get_run_by_id(run.run_id)
    assert updated is not None and updated.status == status
    return updated


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
        # The watcher cleared its heartbeat on the way out (a clean stop).


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
