"""Beyond one machine, proven on one: the ``deploy/multihost`` profile with real PostgreSQL and
Redis, a daemon host and two Celery worker hosts that share nothing but those and a folder.

A backfill of 8 repositories (~6,000 files each) launched through GraphQL runs on both
workers, one run per repository at a time, into one DuckLake store with a PostgreSQL catalog;
the store then equals a fresh ingest. Then a worker is killed in the middle of a run: run
monitoring fails that run, Dagster's run retries run it again on the other worker, and the
store ends with nothing lost and nothing counted twice.
"""

import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snake_pipe_core import Store, ingest_repository, load_settings
from snake_pipe_core.journal.postgres import PostgresJournal
from tests.conftest import ROOT
from tests.e2e.change_site import start_change_sensor
from tests.e2e.harness import free_port, wait_for
from tests.fixtures.asts import clang, dumps, estree
from tests.fixtures.backfill import BAD, repo_files, write_repos
from tests.multihost.cluster import BIN, Cluster
from tests.services import postgres_bin, postgres_server, redis_server

pytestmark = [
    pytest.mark.multihost,
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.timeout(1500),
]

N_REPOS = 8
ASSETS = ("ast_manifest", "validated_ast_files", "ast_metadata")
ARTIFACTS = ROOT / "test-artifacts"
WORKERS = ["worker-a", "worker-b"]
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if postgres_bin() is None or shutil.which("redis-server") is None:
        message = "needs Debian's postgresql and redis-server (.ci/run installs them)"
        if os.environ.get("SNAKE_PIPE_REQUIRE_SERVICES"):
            pytest.fail(message)
        pytest.skip(message)
    base = tmp_path_factory.mktemp("multihost")
    shared = base / "shared"
    write_repos(shared / "ast", N_REPOS)
    with postgres_server() as pg, redis_server() as redis:
        pg.create_database("dagster")
        pg.create_database("snake")
        config = base / "snake_pipe.toml"
        config.write_text(
            f'store = "ducklake:postgres:{pg.dsn("snake")}"\n'
            f'store_data = "{shared / "data"}/"\n'
            f'repo_roots = ["{shared / "ast"}"]\n'
            "workers = 1\n"
            # the change journal beside the catalog: the watcher's host and the daemon's share it
            f'[watch]\njournal = "postgres:{pg.dsn("snake")}"\nsettle_s = 0.1\n',
            encoding="utf-8",
        )
        cluster = Cluster(base, pg, redis, config, shared)
        started = time.monotonic()
        try:
            cluster.start_daemon_host()
            for name in WORKERS:
                cluster.start_worker(name)
            wait_for("the GraphQL endpoint", lambda: cluster.graphql("{ version }"), timeout=180)
            cluster.wait_for_workers(WORKERS)
            wait_for(
                "repo_discovery_sensor to add every repository as a partition",
                lambda: (
                    partition_keys(cluster) == [f"repo-{i:02d}" for i in range(N_REPOS)] or None
                ),
                timeout=240,
            )
            print(f"\ncluster up in {time.monotonic() - started:.1f} s")
            yield cluster
        except BaseException:
            print(cluster.logs())
            raise
        finally:
            cluster.stop()
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "multihost.log").write_text(cluster.logs())


def partition_keys(cluster: Cluster) -> list[str]:
    data = cluster.graphql(
        'query { assetNodes(assetKeys: [{path: ["ast_manifest"]}]) { partitionKeys } }'
    )
    nodes = data["assetNodes"]
    return sorted(nodes[0]["partitionKeys"]) if nodes else []


LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
    ... on PythonError { message stack }
  }
}
"""

BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      runs { runId status startTime endTime tags { key value } }
      error { message stack }
    }
    ... on Error { message }
  }
}
"""

LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
    ... on PythonError { message stack }
  }
}
"""

RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status parentRunId tags { key value } } }
  }
}
"""


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "ast_files": store.query(
            "SELECT repo, path, state, reason, content_hash, language, format FROM ast_files "
            "ORDER BY ALL"
        ),
        "extracted_files": store.query(
            "SELECT repo, path, content_hash, language, format, node_count, max_depth, "
            "function_count, class_count, import_count, branch_count FROM extracted_files "
            "ORDER BY ALL"
        ),
        "quarantined_files": store.query(
            "SELECT repo, path, reason FROM quarantined_files ORDER BY ALL"
        ),
    }


def reference(
    cluster: Cluster, tmp_path: Path, repos: set[str] | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """A fresh ingest of the same repositories (or of ``repos``), one after another, into an
    embedded store."""
    settings = load_settings(cluster.config, env={})
    ref = Store(tmp_path / "reference")
    for root in sorted((cluster.shared / "ast").iterdir()):
        if repos is None or root.name in repos:
            ingest_repository(root, store=ref, settings=settings, repo=root.name, workers=2)
    return snapshot(ref)


def test_a_backfill_runs_on_both_worker_hosts_into_one_store(
    cluster: Cluster, tmp_path: Path
) -> None:
    launched = time.monotonic()
    result = cluster.graphql(
        LAUNCH_BACKFILL,
        {"params": {"assetSelection": [{"path": [k]} for k in ASSETS], "allPartitions": True,
                    "title": "multihost backfill"}},
    )["launchPartitionBackfill"]  # fmt: skip
    assert result["__typename"] == "LaunchBackfillSuccess", result

    def finished() -> dict[str, Any] | None:
        b = cluster.graphql(BACKFILL, {"id": result["backfillId"]})["partitionBackfillOrError"]
        return b if b["status"] in FINISHED else None

    backfill = wait_for("the backfill to finish", finished, timeout=900, every=3)
    elapsed = time.monotonic() - launched
    runs = backfill["runs"]
    assert backfill["status"] == "COMPLETED_SUCCESS", (backfill["status"], backfill["error"])
    assert {r["status"] for r in runs} == {"SUCCESS"} and len(runs) == N_REPOS

    store = Store(cluster.store)
    by_host = dict(
        store.query("SELECT host, count(*) FROM runs WHERE status = 'succeeded' GROUP BY 1")
    )
    assert set(by_host) == set(WORKERS), by_host  # both worker hosts ran repositories
    assert sum(by_host.values()) == N_REPOS
    # One run per repository at a time, cluster-wide: no two runs of a repository overlap.
    windows = store.query(
        "SELECT repo, started_at, finished_at FROM runs ORDER BY repo, started_at"
    )
    for (repo_a, _, end_a), (repo_b, start_b, _) in itertools.pairwise(windows):
        assert repo_a != repo_b or start_b >= end_a
    # `snake-pipe status` names the host and process of each repository's last run.
    out = subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", "status", "--json"],
        env=cluster.hosts["daemon-host"].env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert {row["last_host"] for row in status} == set(WORKERS)
    assert all(row["last_pid"] and row["last_status"] == "succeeded" for row in status)
    got = snapshot(store)
    assert got == reference(cluster, tmp_path)
    on_disk = {(f"repo-{i:02d}", rel) for i in range(N_REPOS) for rel in repo_files(i)}
    assert {(r, p) for r, p, *_ in got["ast_files"]} == on_disk
    bad = {(f"repo-{i:02d}", rel) for i in range(0, N_REPOS, 3) for rel in BAD}
    assert {(r, p) for r, p, _ in got["quarantined_files"]} == bad
    ARTIFACTS.mkdir(exist_ok=True)
    report = {
        "repositories": N_REPOS,
        "seconds_launch_to_completed": round(elapsed, 1),
        "succeeded_runs_by_host": by_host,
        "run_seconds": sorted(round(r["endTime"] - r["startTime"], 1) for r in runs),
    }
    (ARTIFACTS / "multihost-backfill.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\nmultihost backfill:", json.dumps(report))


def test_a_dead_worker_s_run_is_failed_retried_and_loses_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    repo = "repo-03"
    # Enough work that the run is still going when its first commit is seen: the fixture's
    # 6,000 files take a full re-analysis well under a second after it, shorter than a poll
    # and a kill on a busy machine. (A full run parses every file: one content will do.)
    bulk = cluster.shared / "ast" / repo / "bulk"
    content = dumps(estree(3))
    for k in range(24_000):
        path = bulk / f"d{k % 48}" / f"f{k}.js.ast.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    store = Store(cluster.store)
    known = {r for (r,) in store.query("SELECT run_id FROM runs")}
    launched = cluster.graphql(
        LAUNCH_RUN,
        {"params": {
            "selector": {"repositoryLocationName": "snake_pipe",
                         "repositoryName": "__repository__", "jobName": "full_reanalysis_job"},
            "runConfigData": {"ops": {"ast_ingest": {"config": {"mode": "full"}}}},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": repo}]},
        }},
    )["launchRun"]  # fmt: skip
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    def running_on() -> str | None:
        """The worker host whose engine run of this Dagster run has committed a batch."""
        rows = store.query(
            "SELECT r.run_id, r.host FROM runs r JOIN checkpoints c USING (run_id) "
            "WHERE r.trigger = ? AND r.status = 'running' AND c.done > 0",
            [f"dagster:{run_id}"],
        )
        fresh = [host for rid, host in rows if rid not in known]
        return fresh[0] if fresh else None

    victim = wait_for("the run to be under way on a worker", running_on, timeout=300, every=0.05)
    killed_at = time.monotonic()
    cluster.hosts[victim].kill("worker")  # the worker host dies, with the run in it

    def retried() -> dict[str, Any] | None:
        runs = cluster.graphql(RUNS, {"filter": {"tags": [
            {"key": "dagster/partition", "value": repo}]}})["runsOrError"]["results"]  # fmt: skip
        by_id = {r["runId"]: r for r in runs}
        retry = next((r for r in runs if r["parentRunId"] == run_id), None)
        if by_id[run_id]["status"] == "FAILURE" and retry and retry["status"] == "SUCCESS":
            return retry
        return None

    retry = wait_for("the failed run to be retried to success", retried, timeout=600, every=2)
    converged_s = time.monotonic() - killed_at
    cluster.start_worker(victim)  # the host comes back, for whatever runs next

    statuses = dict(
        store.query(
            "SELECT trigger, status FROM runs WHERE trigger IN (?, ?)",
            [f"dagster:{run_id}", f"dagster:{retry['runId']}"],
        )
    )
    assert statuses == {
        f"dagster:{run_id}": "interrupted",
        f"dagster:{retry['runId']}": "succeeded",
    }
    got, want = snapshot(store), reference(cluster, tmp_path)
    for view in ("ast_files", "extracted_files", "quarantined_files"):
        assert got[view] == want[view], view
    (ARTIFACTS / "multihost-dead-worker.json").write_text(
        json.dumps({"killed": victim, "seconds_kill_to_retried_success": round(converged_s, 1)})
        + "\n"
    )
    print(f"\nworker {victim} killed; run failed and retried to success in {converged_s:.1f} s")


def test_config_check_finds_every_part_of_the_profile(cluster: Cluster) -> None:
    env = cluster.hosts["worker-a"].env
    cli = [str(Path(sys.executable)), "-m", "snake_pipe_core.cli", "config", "check", "--json"]
    out = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
    checks = {c["name"]: c for c in json.loads(out.stdout)}
    assert out.returncode == 0, checks
    for name in ("store", "store data", "journal", "dagster instance", "celery broker"):
        assert checks[name]["ok"], checks[name]
    assert sum(n.startswith("repository ") for n in checks) == N_REPOS
    # A broker that is not there is named, with the variable that points at it.
    broken = {**env, "SNAKE_PIPE_CELERY_BROKER": f"redis://127.0.0.1:{free_port()}/0"}
    out = subprocess.run(cli, env=broken, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    broker = {c["name"]: c for c in json.loads(out.stdout)}["celery broker"]
    assert not broker["ok"] and "SNAKE_PIPE_CELERY_BROKER" in broker["detail"]


def change_repos(root: Path) -> None:
    """Changes a watcher must see: new files (one of them bad), rewritten ones, deletions, and
    a folder moved within its repository."""
    five, six = root / "repo-05", root / "repo-06"
    (five / "new").mkdir()
    for k in range(30):
        (five / "new" / f"n{k}.js.ast.json").write_bytes(dumps(estree(2) | {"end": 900_000 + k}))
    (five / "new" / "bad.js.ast.json").write_bytes(b'{"type": "Program", "body": [')
    for j in range(10):
        (five / f"src/m{j}/app.js.ast.json").write_bytes(dumps(estree(3) | {"end": 800_000 + j}))
    for j in range(20):
        (five / f"go/g{j}.go.ast.json").unlink()
    os.rename(six / "py" / "p0", six / "py" / "moved0")
    for k in range(5):
        (six / f"added{k}.c.ast.json").write_bytes(dumps(clang() | {"id": f"0x{700_000 + k:x}"}))


def test_the_watcher_on_the_file_host_feeds_the_sensor_on_the_daemon_host(
    cluster: Cluster, tmp_path: Path
) -> None:
    settings = load_settings(cluster.config, env={})
    assert settings.journal_dsn is not None
    journal = PostgresJournal(settings.journal_dsn)
    files_host = cluster.host("files-host")
    files_host.start("watcher", [str(BIN / "snake-pipe"), "watch"])

    def beating() -> str | None:
        status = journal.watcher_status()
        return status.host if status is not None and status.age() < 10 else None

    assert wait_for("the watcher on files-host to beat", beating, timeout=120) == "files-host"
    start_change_sensor(cluster)  # type: ignore[arg-type]
    store = Store(cluster.store)
    changed_repos = {"repo-05", "repo-06"}
    # Its watches are in place once its start-up rescan of every repository is recorded.
    wait_for("the watcher's start-up rescan", lambda: journal.last_seq() >= N_REPOS, timeout=120)
    change_repos(cluster.shared / "ast")
    changed_at = time.monotonic()
    want = reference(cluster, tmp_path, changed_repos)

    def live(got: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
        """The changed repositories' rows, without files that are gone (a fresh ingest never
        saw them; the store keeps them as ``deleted``)."""
        return {
            view: [row for row in rows if row[0] in changed_repos and "deleted" not in row[2:4]]
            for view, rows in got.items()
        }

    wait_for("the store to equal the changed repositories",
             lambda: live(snapshot(store)) == want, timeout=600, every=2)  # fmt: skip
    converged_s = time.monotonic() - changed_at
    deleted = store.query(
        "SELECT repo, path FROM ast_files WHERE state = 'deleted' AND repo IN (?, ?) ORDER BY ALL",
        ["repo-05", "repo-06"],
    )
    assert deleted == sorted(
        [("repo-05", f"go/g{j}.go.ast.json") for j in range(20)]
        + [("repo-06", "py/p0/mod.py.ast.json")]
    )
    lease = journal.consumer_lease()
    assert lease is not None and lease[2] == "daemon-host", lease  # the sensor consumes
    status = journal.watcher_status()
    assert status is not None and status.host == "files-host"
    hosts = {
        host
        for (host,) in store.query(
            "SELECT DISTINCT host FROM runs WHERE repo IN ('repo-05', 'repo-06') "
            "AND trigger LIKE 'dagster:%' AND status = 'succeeded'"
        )
    }
    assert hosts and hosts <= set(WORKERS), hosts  # the runs ran on the worker hosts
    by_sensor = {"tags": [{"key": "dagster/sensor_name", "value": "ast_change_sensor"}]}
    sensor_runs = cluster.graphql(RUNS, {"filter": by_sensor})["runsOrError"]["results"]
    assert sensor_runs and {"repo-05", "repo-06"} <= {
        t["value"] for r in sensor_runs for t in r["tags"] if t["key"] == "dagster/partition"
    }
    journal.close()
    report = {"seconds_change_to_store": round(converged_s, 1), "sensor_runs": len(sensor_runs)}
    (ARTIFACTS / "multihost-change-path.json").write_text(json.dumps(report) + "\n")
    print(f"\nchanges on files-host reached the store via the daemon host in {converged_s:.1f} s")
