"""The fault matrix through ``ast_change_sensor`` under a real ``dagster dev``: the sensor
starts the watcher, requests the runs and retries them; the run workers and the watcher are
real processes; a plain reader polls the store all along; every scenario of issue 7 ends with
the store equal to a fresh ingest of the same trees. Times to convergence go to
``test-artifacts/fault-matrix-sensor.json``."""

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.plain_reader import polling_reader, reader_report
from tests.e2e.change_site import start_change_sensor, stop_watchers
from tests.e2e.fault_matrix import (
    SCENARIOS,
    FaultSite,
    Result,
    StorePoller,
    can_mount,
    cli,
    journal_watcher_pid,
    make_fault_site,
    reference,
    running_run,
    tail,
    unmounted_root,
    wait_until,
)
from tests.e2e.harness import ROOT, DagsterDev
from tests.e2e.harness import wait_for as dagster_wait

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]
ARTIFACTS = ROOT / "test-artifacts"
RESULTS: list[Result] = []
RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    ... on Runs { results { runId status creationTime tags { key value } } }
  }
}
"""
CHECKS = """
query Checks($partition: String) {
  assetCheckExecutions(assetKey: {path: ["ast_metadata"]},
                       checkName: "hashes_match_disk_check",
                       partition: $partition, limit: 5) {
    runId status evaluation { success description }
  }
}
"""
FAILURES = """
query Failures($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection {
      events {
        __typename
        ... on ExecutionStepFailureEvent {
          error { message }
          failureMetadata { metadataEntries { label ... on TextMetadataEntry { text } } }
        }
      }
    }
  }
}
"""


class Sensor:
    """ast_change_sensor, as the daemon runs it; the watcher is the one it started."""

    name = "ast_change_sensor (dagster dev)"

    def __init__(self, site: FaultSite, dev: DagsterDev) -> None:
        self.site, self.dev = site, dev

    def runs(self, repo: str) -> list[dict[str, Any]]:
        tags = [{"key": "dagster/partition", "value": repo}]
        found = self.dev.graphql(RUNS, {"filter": {"tags": tags}})["runsOrError"]["results"]
        for run in found:
            run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
        return found

    def watcher_pid(self) -> int:
        pid = wait_until("the watcher the sensor started",
                         lambda: _alive(journal_watcher_pid(self.site)), 60)  # fmt: skip
        return int(pid)

    def kill_watcher(self) -> None:
        os.killpg(self.watcher_pid(), signal.SIGKILL)  # a session of its own

    def restart_watcher(self) -> None:
        """Nobody: the sensor sees the heartbeat go stale and starts another."""

    def kill_run(self, repo: str, since: float) -> int:
        _, pid = wait_until(f"a run of {repo} in progress",
                            lambda: running_run(self.site, repo, since), 120, 0.02)  # fmt: skip
        os.kill(pid, signal.SIGKILL)  # the run worker: its code server reports it failed
        return pid

    def kill_landed(self, repo: str, since: float) -> bool:
        return True  # the run's own process was killed while it ran: it cannot succeed

    def failed_runs(self, repo: str, since: float) -> int:
        return sum(1 for r in self.runs(repo)
                   if r["status"] == "FAILURE" and r["creationTime"] >= since)  # fmt: skip


def _alive(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    return pid if state not in ("Z", "X") else None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultSite]:
    s = make_fault_site(tmp_path_factory.mktemp("fault-sensor"), workers=1, gamma=can_mount())
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def sensor(site: FaultSite) -> Iterator[Sensor]:
    env = {**site.process_env(), "SNAKE_PIPE_DISCOVERY_INTERVAL_S": "2",
           "DAGSTER_TELEMETRY_DISABLED": "1"}  # fmt: skip
    dev = DagsterDev(home=site.home, env=env)
    site.diagnostics += [dev.log_tail, lambda: tail(site.journal_path.with_suffix(".log"))]
    reads: Path | None = None
    dev.start()
    try:
        dagster_wait("the GraphQL endpoint", lambda: dev.graphql("{ version }"), timeout=120)
        dagster_wait("the partitions", lambda: _partitions(dev) == sorted(site.repos) or None,
                     timeout=120)  # fmt: skip
        start_change_sensor(dev)
        first = StorePoller(site.store, diagnose=site.diagnose).start()
        first.converged(reference(site, site.base / "scratch"), timeout=240)
        with polling_reader(site.store.path, site.base, pause=0.05) as reads:
            yield Sensor(site, dev)
    except BaseException:
        print(dev.log_tail())
        raise
    finally:
        dev.stop()
        stop_watchers(site)  # type: ignore[arg-type]
    if reads is not None:
        _report(reads)


def _partitions(dev: DagsterDev) -> list[str]:
    nodes = dev.graphql(
        'query { assetNodes(assetKeys: [{path: ["ast_manifest"]}]) { partitionKeys } }'
    )["assetNodes"]
    return sorted(nodes[0]["partitionKeys"]) if nodes else []


def _report(reads: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    report = {"results": [r.__dict__ for r in RESULTS], "plain_reader": reader_report(reads)}
    (ARTIFACTS / "fault-matrix-sensor.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\nfault matrix, ast_change_sensor under dagster dev:")
    for r in RESULTS:
        print(f"  {r.scenario}: converged in {r.seconds:.2f} s {r.notes or ''}")
    print(f"  plain reader: {report['plain_reader']}")
    assert report["plain_reader"]["reads"] > 0
    assert report["plain_reader"]["failed_reads"] == 0, report["plain_reader"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_the_store_converges_after(
    scenario, site: FaultSite, sensor: Sensor, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    since = time.time()
    result = scenario(site, sensor, tmp_path)
    RESULTS.append(result)
    runs = [r for r in sensor.runs("alpha") + sensor.runs("beta") if r["creationTime"] >= since]
    result.notes["runs"] = len(runs)
    if scenario.__name__ == "run_fails_root_unreadable":
        assert result.notes["failed_runs"] >= 2
    if scenario.__name__ == "sigkill_run_mid_run":
        beta = [r for r in sensor.runs("beta") if r["creationTime"] >= since]
        assert any(r["status"] == "FAILURE" for r in beta), beta  # the killed one
        retries = [r for r in beta if r["tags"].get("snake_pipe/try", "1") != "1"]
        assert any(r["status"] == "SUCCESS" for r in retries), beta  # its retry
    print(f"{result.scenario}: {result.seconds:.2f} s {result.notes}")


@pytest.mark.skipif(not can_mount(), reason="mounting needs root (CI runs as root)")
def test_an_unmounted_root_refuses_visibly_and_converges_once_mounted(
    site: FaultSite, sensor: Sensor, tmp_path: Path
) -> None:
    since = time.time()

    def visible() -> dict[str, object]:
        status = json.loads(cli(site, "watch", "--status", "--json").stdout)
        [refusal] = [r for r in status["refusals"] if r["repo"] == "gamma"]
        assert refusal["retry_at"] is not None and "ast_change_sensor" in refusal["retry_by"]
        rows = json.loads(cli(site, "status", "--json").stdout)
        [row] = [r for r in rows if r["repo"] == "gamma"]
        assert row["refused"] == refusal["kind"] and row["deleted"] == 0
        # A failing asset check: the run of the check alone the sensor asked for.
        execution = dagster_wait(
            "a failed check of gamma",
            lambda: next((e for e in sensor.dev.graphql(CHECKS, {"partition": "gamma"})[
                "assetCheckExecutions"] if e["evaluation"] and not e["evaluation"]["success"]),
                None),
            timeout=60,
        )  # fmt: skip
        assert "refused this repository's changes" in execution["evaluation"]["description"]
        # The refused runs failed, with the guard's verdict in their failure.
        failed = [r for r in sensor.runs("gamma")
                  if r["status"] == "FAILURE" and r["creationTime"] >= since]  # fmt: skip
        assert len(failed) >= 2
        logs = sensor.dev.graphql(FAILURES, {"runId": failed[0]["runId"]})["logsForRun"]
        [failure] = [e for e in logs["events"] if e["__typename"] == "ExecutionStepFailureEvent"]
        assert "Nothing was marked deleted" in failure["error"]["message"]
        entries = {m["label"]: m.get("text") for m in failure["failureMetadata"]["metadataEntries"]}
        assert entries["error"] == "MassDeletionRefused"
        return {"check": "failed", "failed_runs": len(failed), "status_shows": row["refused"]}

    result = unmounted_root(site, sensor, tmp_path, visible=visible)
    RESULTS.append(result)
    print(f"{result.scenario}: {result.seconds:.2f} s {result.notes}")
