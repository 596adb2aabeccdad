"""End to end: under a real ``dagster dev``, ``ast_change_sensor`` keeps the store equal to the
disk, and a single-file edit shows in ``extracted_files`` within seconds.

Two repositories; ``repo_discovery_sensor`` adds their partitions; ``ast_change_sensor`` is
turned on through GraphQL, as the toggle in the UI does, and starts the watcher itself; the
watcher's start-up rescan brings the first ingest; edits, additions, deletions and renames
in both repositories reach the store through runs the sensor launched. Then single-file
edits are timed (close → row visible; figures in ``test-artifacts/e2e-sensor-latency.json``).
One ``dagster dev`` serves the module; at the end it is stopped, and then the watcher the
sensor started, by the pid in the journal's heartbeat and lock.
"""

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.change_site import (
    BAD,
    ChangeSite,
    in_flight_runs,
    make_site,
    measure_latency,
    start_change_sensor,
    stop_watchers,
    store_equals_fresh_ingest,
    summary,
    watcher_pid,
)
from tests.e2e.harness import ROOT, DagsterDev, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

ARTIFACTS = ROOT / "test-artifacts"
LATENCY_SAMPLES = 10
ALL_RUNS = """
{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> ChangeSite:
    return make_site(tmp_path_factory.mktemp("e2e-change"))


@pytest.fixture(scope="module")
def dev(site: ChangeSite) -> Iterator[DagsterDev]:
    """``dagster dev`` with both partitions in place and ast_change_sensor turned on."""
    dev = site.dagster_dev()
    started = time.monotonic()
    dev.start()
    try:
        wait_for("the GraphQL endpoint", lambda: dev.graphql("{ version }"), timeout=120)
        wait_for(
            "repo_discovery_sensor to add both partitions",
            lambda: partition_keys(dev) == sorted(site.repos) or None,
            timeout=120,
        )
        start_change_sensor(dev)
        print(f"\ndagster dev up, sensor on, in {time.monotonic() - started:.1f} s")
        yield dev
    except BaseException:
        print(dev.log_tail())
        raise
    finally:
        code = dev.stop()
        # Only now: while the sensor runs, it would start another watcher.
        stopped = stop_watchers(site)
        ARTIFACTS.mkdir(exist_ok=True)
        for source, name in (
            (dev.log_path, "e2e-sensor-dagster-dev.log"),
            (site.journal_path.with_suffix(".log"), "e2e-sensor-watcher.log"),
        ):
            if source is not None and source.exists():
                shutil.copy(source, ARTIFACTS / name)
        print(f"dagster dev stopped (exit code {code}); watcher(s) stopped: {stopped}")


def partition_keys(dev: DagsterDev) -> list[str]:
    data = dev.graphql(
        'query { assetNodes(assetKeys: [{path: ["ast_manifest"]}]) { partitionKeys } }'
    )
    nodes = data["assetNodes"]
    return sorted(nodes[0]["partitionKeys"]) if nodes else []


def all_runs(dev: DagsterDev) -> list[dict[str, Any]]:
    runs = dev.graphql(ALL_RUNS)["runsOrError"]["results"]
    for run in runs:
        run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
    return runs


def settle(dev: DagsterDev) -> list[dict[str, Any]]:
    """Wait for the runs in flight to end; every run so far, each launched by the sensor."""
    wait_for("runs in flight to end", lambda: not in_flight_runs(dev), timeout=120, every=0.5)
    runs = all_runs(dev)
    for run in runs:
        assert run["tags"].get("dagster/sensor_name") == "ast_change_sensor", run
        assert run["tags"]["snake_pipe/trigger"] == "watcher", run
        # single paths first (10), whole-repository diffs (the start-up rescan) behind (5)
        assert run["tags"]["dagster/priority"] in ("10", "5"), run
        assert run["status"] == "SUCCESS", run
    return runs


def edit_both_repositories(site: ChangeSite) -> None:
    """Every kind of change, in each repository."""
    for i, root in enumerate(site.repos.values()):
        (root / "src/m0/app.js.ast.json").write_bytes(
            b'{"type": "Program", "body": [], "sourceType": "module", "end": %d}' % (700 + i)
        )
        (root / "src/added/deep/er").mkdir(parents=True)  # folders made after the watch began
        for j, rel in enumerate(("src/added/a.js.ast.json", "src/added/deep/er/b.js.ast.json")):
            (root / rel).write_bytes(
                b'{"type": "Program", "body": [], "end": %d}' % (800 + 10 * i + j)
            )
        (root / "native/f1.c.ast.json").unlink()
        shutil.rmtree(root / "go")
        os.rename(root / "py/p2/mod.py.ast.json", root / "py/p2/renamed.py.ast.json")
        (root / "broken/truncated.js.ast.json").write_bytes(b'{"type": "Program", "body": []}')
        (root / "broken/new-bad.js.ast.json").write_bytes(b'{"type": ')
        # an atomic save: a temporary file renamed over the destination
        tmp = root / "src/m1/.util.js.ast.json.tmp"
        tmp.write_bytes(b'{"type": "File", "program": {"type": "Program", "body": []}}')
        os.replace(tmp, root / "src/m1/util.js.ast.json")


def test_runs_the_sensor_launches_keep_the_store_equal_to_the_disk(
    dev: DagsterDev, site: ChangeSite, tmp_path: Path
) -> None:
    pid = wait_for("the sensor to start a watcher", lambda: watcher_pid(site), timeout=60)
    # The watcher's start-up rescan markers become whole-repository runs: the first ingest.
    store_equals_fresh_ingest(site, tmp_path, timeout=180)
    first = settle(dev)
    assert {r["tags"]["dagster/partition"] for r in first} == set(site.repos)

    go_files = {
        name: sorted(p.relative_to(root).as_posix() for p in (root / "go").rglob("*.json"))
        for name, root in site.repos.items()
    }
    edit_both_repositories(site)

    store_equals_fresh_ingest(site, tmp_path, timeout=120)
    runs = settle(dev)
    later = [r for r in runs if r["runId"] not in {f["runId"] for f in first}]
    assert {r["tags"]["dagster/partition"] for r in later} == set(site.repos)
    # What left the disk stays in the store as history, marked deleted.
    store = site.store
    for name in site.repos:
        deleted = {
            path
            for (path,) in store.query(
                "SELECT path FROM ast_files WHERE repo = ? AND state = 'deleted'", [name]
            )
        }
        assert deleted == {"native/f1.c.ast.json", "py/p2/mod.py.ast.json", *go_files[name]}
        quarantined = {
            path
            for (path,) in store.query("SELECT path FROM quarantined_files WHERE repo = ?", [name])
        }
        assert quarantined == {"broken/list.js.ast.json", "broken/new-bad.js.ast.json"}
        assert set(BAD) - quarantined == {"broken/truncated.js.ast.json"}  # repaired
    # One watcher all along, still beating.
    assert watcher_pid(site) == pid


def test_a_single_file_edit_is_visible_within_seconds(dev: DagsterDev, site: ChangeSite) -> None:
    wait_for("the sensor to start a watcher", lambda: watcher_pid(site), timeout=60)
    store_equals_fresh_ingest(site, site.base / "scratch", timeout=180)
    settle(dev)

    samples = measure_latency(site, dev, LATENCY_SAMPLES)

    report = summary(samples) | {"target_p95_s": 5.0}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "e2e-sensor-latency.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nclose → row in extracted_files through ast_change_sensor, {len(samples)} edits: "
        f"p50 {report['p50_s']} s, p95 {report['p95_s']} s (target ≤ 5 s), max "
        f"{report['max_s']} s; request {report['close_to_run_request_s']}, queue+launch "
        f"{report['run_request_to_start_s']}, run {report['run_start_to_visible_s']}"
    )
    runs = settle(dev)
    latency_runs = [r for r in runs if r["runId"] in {s.extra.get("run_id") for s in samples}]
    assert len(latency_runs) == len(samples)  # one run per edit, each from the sensor
    # The target is reported, not asserted (a shared CI machine); twice it is a regression.
    assert report["p95_s"] <= 10.0, report
