"""The hand-off to the transform phase: ``StoreResource`` and the incremental
``language_totals`` asset on a real store, also while an ingest writes; and the store's
maintenance job."""

import shutil
import subprocess
import sys
from typing import Any

import dagster as dg
import pytest

from snake_pipe_core import connect_readonly
from snake_pipe_dagster.handoff import language_totals
from snake_pipe_dagster.jobs import store_maintenance_job
from snake_pipe_dagster.resources import StoreResource
from tests.dagster.helpers import Project, materialize_repo
from tests.fixtures import asts

pytestmark = pytest.mark.integration

TRUTH = (
    "SELECT coalesce(language, 'unknown'), count(*), sum(function_count), sum(class_count) "
    "FROM extracted_files GROUP BY 1 ORDER BY 1"
)


def totals(project: Project, instance: dg.DagsterInstance) -> dict[str, Any]:
    result = dg.materialize(
        [language_totals],
        resources={"snake_pipe_store": StoreResource(config_file=str(project.config))},
        instance=instance,
    )
    assert result.success
    [event] = result.asset_materializations_for_node("language_totals")
    return {k: getattr(v, "value", v) for k, v in event.metadata.items()}


def stored_totals(project: Project) -> list[tuple[Any, ...]]:
    con = connect_readonly(project.store_path)
    try:
        return con.execute(
            "SELECT language, files, functions, classes FROM transform.language_totals ORDER BY 1"
        ).fetchall()
    finally:
        con.close()


def truth(project: Project) -> list[tuple[Any, ...]]:
    """What a plain reader computes from scratch."""
    con = connect_readonly(project.store_path)
    try:
        return [tuple(r) for r in con.execute(TRUTH).fetchall()]
    finally:
        con.close()


def test_totals_follow_the_store_reading_only_what_changed(
    project: Project, instance: dg.DagsterInstance
) -> None:
    materialize_repo(project, instance, "webapp")
    materialize_repo(project, instance, "mixed")
    first = totals(project, instance)
    # every file of both repositories: 8 in webapp, 12 in mixed (excluded ones included)
    assert first["since_snapshot"] == 0 and first["changed_files"] == 8 + 12
    assert stored_totals(project) == truth(project)

    # Nothing changed: nothing is read, the consumed snapshot stays.
    again = totals(project, instance)
    assert again["changed_files"] == 0
    assert again["consumed_snapshot"] == first["consumed_snapshot"]

    # One file edited, one deleted, one new, one repaired: only those four are read.
    root = project.repos / "webapp"
    (root / "src/app.js.ast.json").write_bytes(asts.dumps(asts.estree(12)))
    (root / "go/cmd/main.go.ast.json").unlink()
    (root / "py/extra.py.ast.json").write_bytes(asts.dumps(asts.python_envelope()))
    (project.repos / "mixed/bad/truncated.js.ast.json").write_bytes(asts.dumps(asts.estree(2)))
    materialize_repo(project, instance, "webapp")
    materialize_repo(project, instance, "mixed")
    later = totals(project, instance)
    assert later["since_snapshot"] == first["consumed_snapshot"]
    assert later["changed_files"] == 4
    assert stored_totals(project) == truth(project)


def test_totals_are_computed_while_an_ingest_writes(
    project: Project, instance: dg.DagsterInstance
) -> None:
    materialize_repo(project, instance, "webapp")
    big = project.repos / "big"
    for i in range(1500):
        path = big / f"m{i % 20}" / f"f{i}.js.ast.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(asts.dumps(asts.estree(1 + i % 7) | {"end": i}))
    ingest = subprocess.Popen(
        [sys.executable, "-m", "snake_pipe_core.cli", "--config", str(project.config), "ingest",
         str(big), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    rounds = 0
    while ingest.poll() is None or rounds == 0:
        totals(project, instance)  # succeeds whatever the ingest is doing
        assert stored_totals(project)
        rounds += 1
    _, err = ingest.communicate(timeout=300)
    assert ingest.returncode == 0, err
    totals(project, instance)
    assert stored_totals(project) == truth(project)
    assert rounds >= 1


def test_the_store_resource_is_a_plain_duckdb_connection(project: Project) -> None:
    shutil.copytree(project.repos / "webapp", project.repos / "copy")
    subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", "--config", str(project.config), "ingest"],
        check=True,
        capture_output=True,
    )
    resource = StoreResource(config_file=str(project.config))
    with resource.get_connection() as con:
        rows = con.execute("SELECT repo, count(*) FROM extracted_files GROUP BY 1 ORDER BY 1")
        assert rows.fetchall() == [("copy", 7), ("mixed", 7), ("webapp", 7)]
        with pytest.raises(Exception, match=r"read-only|read only"):
            con.execute("CREATE TABLE nope (a INT)")


def test_the_maintenance_job_compacts_the_store(
    project: Project, instance: dg.DagsterInstance
) -> None:
    for name in ("webapp", "mixed"):
        materialize_repo(project, instance, name)
    before = truth(project)
    result = store_maintenance_job.execute_in_process(
        resources={"snake_pipe": project.resource}, instance=instance
    )
    assert result.success
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    meta = {k: getattr(v, "value", v) for k, v in output.event_specific_data.metadata.items()}
    assert meta["files_before"] > meta["files_after"] >= 1  # each run's commits' files merged
    assert truth(project) == before
