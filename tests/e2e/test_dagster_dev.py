"""End to end: a real ``dagster dev`` with generated repositories.

The discovery sensor adds the repositories as partitions, a backfill of all of them is
launched through GraphQL (as the UI does), runs go two at a time (the backfill's slots in
``dagster.yaml``) against the one store, and the store ends up holding exactly the files on
disk. A headless Chromium then checks that the UI shows the three assets and the partitions.
One ``dagster dev`` serves the whole module.
"""

import contextlib
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snake_pipe_core import Store, ingest_repository, load_settings
from snake_pipe_core.store import repo_lock
from tests.conftest import ROOT
from tests.e2e.harness import DagsterDev, wait_for
from tests.fixtures.backfill import BAD, repo_files, write_repos

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

N_REPOS = 8
ASSETS = ("ast_manifest", "validated_ast_files", "ast_metadata")
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("e2e")
    repos = write_repos(base / "repos", N_REPOS)
    config = base / "snake_pipe.toml"
    config.write_text(
        'store = "store/snake.duckdb"\nrepo_roots = ["repos"]\nworkers = 1\n', encoding="utf-8"
    )
    home = base / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return {"base": base, "repos": repos, "config": config, "home": home}


@pytest.fixture(scope="module")
def dagster_dev(site: dict[str, Any]) -> Iterator[DagsterDev]:
    """One ``dagster dev`` for the module, stopped (and its process group with it) at the end."""
    dev = DagsterDev(
        home=site["home"],
        env={
            "SNAKE_PIPE_CONFIG": str(site["config"]),
            "SNAKE_PIPE_DISCOVERY_INTERVAL_S": "5",
            "DAGSTER_TELEMETRY_DISABLED": "1",
        },
    )
    started = time.monotonic()
    dev.start()
    try:
        wait_for("the GraphQL endpoint", lambda: dev.graphql("{ version }"), timeout=120)
        # The code location loads, then repo_discovery_sensor (RUNNING by default) adds the
        # repositories as partitions on its first tick.
        wait_for(
            "repo_discovery_sensor to add every repository as a partition",
            lambda: partition_keys(dev) == sorted(site["repos"]) or None,
            timeout=180,
        )
        print(f"\ndagster dev up with {N_REPOS} partitions in {time.monotonic() - started:.1f} s")
        yield dev
    except BaseException:
        print(dev.log_tail())
        raise
    finally:
        code = dev.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        if dev.log_path is not None and dev.log_path.exists():
            shutil.copy(dev.log_path, ARTIFACTS / "e2e-dagster-dev.log")
        print(f"dagster dev stopped (exit code {code})")


def partition_keys(dev: DagsterDev) -> list[str]:
    data = dev.graphql(
        'query { assetNodes(assetKeys: [{path: ["ast_manifest"]}]) { partitionKeys } }'
    )
    nodes = data["assetNodes"]
    return sorted(nodes[0]["partitionKeys"]) if nodes else []


LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
    ... on PythonError { stack }
  }
}
"""

BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      numPartitions
      timestamp
      endTimestamp
      runs {
        runId
        status
        startTime
        endTime
        tags { key value }
      }
      error { message stack }
    }
    ... on Error { message }
  }
}
"""

FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
LAUNCHED = {"STARTING", "STARTED"}


def max_in_flight(runs: list[dict[str, Any]]) -> int:
    """The largest number of runs whose [start, end] intervals overlap."""
    edges = []
    for r in runs:
        edges += [(r["startTime"], 1), (r["endTime"], -1)]
    in_flight = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # ends before starts on ties
        in_flight += step
        peak = max(peak, in_flight)
    return peak


def test_backfill_of_all_repositories_through_graphql(
    dagster_dev: DagsterDev, site: dict[str, Any], tmp_path: Path
) -> None:
    # Whether two short runs overlap depends on how fast Dagster creates them (the backfill
    # daemon submits one run at a time, ~1-2 s each, about as long as a run of these small
    # repositories takes). So every repository starts out busy, as if a CLI ingest of each
    # were in progress (the engine's own lock on the repository): the runs the queue lets go
    # wait inside, and the queue's slots show, whatever the machine's speed.
    store_folder = Store(load_settings(site["config"]).store).path
    with contextlib.ExitStack() as busy:
        for name in site["repos"]:
            busy.enter_context(repo_lock(store_folder, name))
        launched = time.monotonic()
        result = dagster_dev.graphql(
            LAUNCH,
            {
                "params": {
                    "assetSelection": [{"path": [key]} for key in ASSETS],
                    "allPartitions": True,
                    "title": "e2e backfill of every repository",
                }
            },
        )["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        backfill_id = result["backfillId"]

        def backfill_now() -> dict[str, Any]:
            assert dagster_dev.alive(), dagster_dev.log_tail()
            b = dagster_dev.graphql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
            assert b["__typename"] == "PartitionBackfill", b
            return b

        def launched_runs() -> list[dict[str, Any]]:
            return [r for r in backfill_now()["runs"] if r["status"] in LAUNCHED]

        wait_for(
            "two runs of the backfill to start (its two slots)",
            lambda: len(launched_runs()) >= 2 or None,
            timeout=240,
            every=1,
        )
        # The queue holds the others while the two wait: a third would take the slot kept
        # for incremental runs.
        for _ in range(4):
            time.sleep(1)
            running = launched_runs()
            assert len(running) == 2, [(r["runId"], r["status"]) for r in running]

    def finished() -> dict[str, Any] | None:
        b = backfill_now()
        return b if b["status"] in FINISHED else None

    backfill = wait_for("the backfill to finish", finished, timeout=420, every=2)
    observed_s = time.monotonic() - launched

    runs = backfill["runs"]
    statuses = {r["runId"]: r["status"] for r in runs}
    assert backfill["status"] == "COMPLETED_SUCCESS", (backfill["status"], backfill["error"])
    assert len(runs) == N_REPOS
    assert set(statuses.values()) == {"SUCCESS"}, statuses
    partitions = sorted(
        t["value"] for r in runs for t in r["tags"] if t["key"] == "dagster/partition"
    )
    assert partitions == sorted(site["repos"])
    peak = max_in_flight(runs)
    first = min(r["startTime"] for r in runs)
    work_s = max(r["endTime"] for r in runs) - min(r["startTime"] for r in runs)
    report = {
        "repositories": N_REPOS,
        "files": sum(len(repo_files(i)) for i in range(N_REPOS)),
        "run_windows_s": sorted(
            (round(r["startTime"] - first, 1), round(r["endTime"] - first, 1)) for r in runs
        ),
        "backfill_seconds_launch_to_completed": round(observed_s, 1),
        "backfill_seconds_daemon_recorded": round(
            (backfill["endTimestamp"] or 0) - backfill["timestamp"], 1
        ),
        "seconds_first_run_start_to_last_run_end": round(work_s, 1),
        "run_seconds": sorted(round(r["endTime"] - r["startTime"], 1) for r in runs),
        "max_runs_in_flight": peak,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "e2e-backfill.json").write_text(json.dumps(report, indent=2) + "\n")
    print("\nbackfill:", json.dumps(report))
    assert peak == 2, report

    assert_store_holds_exactly_the_files_on_disk(site, tmp_path)
    # The runs also ran the three asset checks of every partition, and they passed.
    assert check_statuses(dagster_dev) == {
        name: {"succeeded": sorted(site["repos"]), "failed": []} for name in CHECKS
    }


CHECKS = ("one_verdict_per_file_check", "hashes_match_disk_check", "quarantine_rate_check")
CHECK_STATUSES = """
query Checks {
  assetNodes(assetKeys: [{path: ["ast_metadata"]}]) {
    assetChecksOrError {
      __typename
      ... on AssetChecks {
        checks {
          name
          partitionStatuses {
            __typename
            ... on AssetCheckDefaultPartitionStatuses {
              succeededPartitions
              failedPartitions
            }
          }
        }
      }
    }
  }
}
"""


def check_statuses(dev: DagsterDev) -> dict[str, dict[str, list[str]]]:
    out = {}
    for node in dev.graphql(CHECK_STATUSES)["assetNodes"]:
        for c in node["assetChecksOrError"]["checks"]:
            statuses = c["partitionStatuses"] or {}
            out[c["name"]] = {
                "succeeded": sorted(statuses.get("succeededPartitions", [])),
                "failed": sorted(statuses.get("failedPartitions", [])),
            }
    return out


def assert_store_holds_exactly_the_files_on_disk(site: dict[str, Any], tmp_path: Path) -> None:
    """The store the backfill wrote equals a fresh ingest of the same repositories, one after
    another in this process, and both equal the generated files."""
    settings = load_settings(site["config"])
    store = Store(settings.store)
    reference = Store(tmp_path / "reference.duckdb")
    for name, root in site["repos"].items():
        ingest_repository(root, store=reference, settings=settings, repo=name, workers=2)

    queries = {
        "ast_files": "SELECT repo, path, state, reason, content_hash, language, format "
        "FROM ast_files ORDER BY ALL",
        "extracted_files": "SELECT repo, path, content_hash, language, format, node_count, "
        "max_depth, function_count, class_count, import_count, branch_count "
        "FROM extracted_files ORDER BY ALL",
        "quarantined_files": "SELECT repo, path, reason FROM quarantined_files ORDER BY ALL",
    }
    for view, sql in queries.items():
        assert store.query(sql) == reference.query(sql), view

    on_disk = {(f"repo-{i:02d}", rel) for i in range(N_REPOS) for rel in repo_files(i)}
    assert set(store.query("SELECT repo, path FROM ast_files")) == on_disk
    assert store.query("SELECT count(*) FROM ast_files WHERE state = 'deleted'") == [(0,)]
    bad = {(f"repo-{i:02d}", rel) for i in range(0, N_REPOS, 3) for rel in BAD}
    assert set(store.query("SELECT repo, path FROM quarantined_files")) == bad
    excluded = {(repo, "package.json") for repo, _ in on_disk}
    assert set(store.query("SELECT repo, path FROM extracted_files")) == on_disk - bad - excluded
    # Every run finished, and none failed on the store's lock.
    assert store.query("SELECT status, count(*) FROM runs GROUP BY 1") == [("succeeded", N_REPOS)]


def test_ui_shows_the_assets_and_the_partitions(
    dagster_dev: DagsterDev, site: dict[str, Any], tmp_path: Path
) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (`apt-get install chromium`; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the test extra)")
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh --user-data-dir
            executable_path=chromium,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
            viewport={"width": 1440, "height": 900},
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)

            # The asset catalog lists the three assets, each with the repositories'
            # partitions.
            page.goto(f"{dagster_dev.url}/assets", wait_until="domcontentloaded")
            for key in ASSETS:
                page.get_by_role("link", name=re.compile(rf"^{key}\b")).first.wait_for()
            page.get_by_text(f"{N_REPOS} partitions").first.wait_for()
            catalog = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "e2e-ui-assets.png"), full_page=True)

            # The asset's partitions view lists every repository; one opens with its
            # latest materialization's metadata.
            page.goto(
                f"{dagster_dev.url}/assets/ast_manifest?view=partitions",
                wait_until="domcontentloaded",
            )
            page.get_by_text(f"{N_REPOS} Partitions Selected").wait_for()
            for i in range(N_REPOS):
                page.get_by_text(f"repo-{i:02d}", exact=True).first.wait_for()
            page.get_by_text("repo-00", exact=True).first.click()
            page.wait_for_url(re.compile(r"partition=repo-00"))
            page.get_by_text("Latest materialization").first.wait_for()
            page.wait_for_timeout(1000)  # let the metadata table settle for the picture
            partitions = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "e2e-ui-partitions.png"), full_page=True)

            # ast_metadata's partition page: how repo-00 stands, totals first, then this
            # run, then the quarantine reasons and where to find the files.
            page.goto(
                f"{dagster_dev.url}/assets/ast_metadata?view=partitions&partition=repo-00",
                wait_until="domcontentloaded",
            )
            page.get_by_text("Latest materialization").first.wait_for()
            page.get_by_text("files_extracted").first.wait_for()
            page.get_by_text("quarantine list --repo repo-00").first.wait_for()
            page.wait_for_timeout(1000)
            standing = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "e2e-ui-partition-page.png"), full_page=True)

            # Its Checks tab: the three checks, by the names the README gives.
            page.goto(f"{dagster_dev.url}/assets/ast_metadata?view=checks",
                      wait_until="domcontentloaded")  # fmt: skip
            for name in CHECKS:
                page.get_by_text(name).first.wait_for()
            page.wait_for_timeout(1000)
            checks_tab = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "e2e-ui-checks.png"), full_page=True)
        finally:
            browser.close()

    assert catalog.count(f"{N_REPOS} partitions") == len(ASSETS)
    assert all(f"repo-{i:02d}" in partitions for i in range(N_REPOS))
    assert_partition_page_reads_well(standing, site)
    assert "No checks defined" not in checks_tab
    assert all(name in checks_tab for name in CHECKS)
    assert "ast_metadata_" not in checks_tab  # the names read without the asset's prefix


def number(n: int) -> str:
    """``n`` as the UI may print it: 5998 or 5,998."""
    return rf"(?:{n}|{n:,})"


def assert_partition_page_reads_well(text: str, site: dict[str, Any]) -> None:
    """What a user reads on ast_metadata's page for repo-00: the totals now, in order, before
    this run's changes, and the quarantine reasons with a pointer to the files."""
    store = Store(load_settings(site["config"]).store)
    totals = dict(store.query("SELECT state, count(*) FROM ast_files WHERE repo = 'repo-00' "
                              "GROUP BY 1"))  # fmt: skip
    [(functions, classes)] = store.query(
        "SELECT sum(function_count), sum(class_count) FROM extracted_files WHERE repo = 'repo-00'"
    )
    expected = [
        ("files_extracted", totals["extracted"]),
        ("files_quarantined", totals["quarantined"]),
        ("files_excluded", totals["excluded"]),
        ("files_deleted", 0),
        ("functions", functions),
        ("classes", classes),
    ]
    positions = []
    for label, value in expected:
        found = re.search(rf"{label}\s+{number(value)}\b", text)
        assert found, (label, value, text[:3000])
        positions.append(found.start())
    assert positions == sorted(positions)  # the totals come first, in this order
    # then what this run changed, then the quarantine
    assert positions[-1] < text.index("this_run") < text.index("quarantine_reasons")
    for reason in ("invalid_json", "not_object"):
        assert reason in text
    assert "snake-pipe quarantine list --repo repo-00" in text
    assert "javascript" in text  # the languages table
