"""The three assets through ``materialize`` with a partition key, a real instance and a real
store: what the metadata says, incremental and full runs, and a missing root."""

import shutil
from typing import Any

import dagster as dg
import pytest
import yaml

from snake_pipe_dagster.assets import (
    AST_ASSET_KEYS,
    AST_MANIFEST,
    AST_METADATA,
    VALIDATED_AST_FILES,
)
from tests.conftest import ROOT
from tests.dagster.helpers import BAD_FILES, Project, materialize_repo, write_config

pytestmark = pytest.mark.integration

# The mixed repository: 7 valid AST files of six languages, 4 bad files, and a package.json
# that the built-in rules exclude.
VALID = 7
BAD = len(BAD_FILES)
LIVE = VALID + BAD
FULL = {"mode": "full"}


def metadata(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dict[str, Any]]:
    """Metadata values of each asset's materialization, by asset key."""
    out = {}
    for m in result.asset_materializations_for_node("ast_ingest"):
        out[m.asset_key] = {k: getattr(v, "value", v) for k, v in m.metadata.items()}
    assert set(out) == set(AST_ASSET_KEYS)
    return out


def store_snapshot(project: Project) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the store, ordered, for before/after comparisons."""
    tables = ("repos", "runs", "checkpoints", "manifest", "quarantined_files", "ast_metadata")
    return {t: project.store.query(f"SELECT * FROM {t} ORDER BY ALL") for t in tables}


def read_bytes(project: Project, repo: str) -> int:
    """Bytes of the files the engine reads (everything but the excluded package.json)."""
    root = project.repos / repo
    return sum(
        p.stat().st_size for p in root.rglob("*") if p.is_file() and p.name != "package.json"
    )


def test_first_materialization_reports_states_reasons_languages_and_throughput(
    project: Project, instance: dg.DagsterInstance
) -> None:
    result = materialize_repo(project, instance, "mixed")
    assert result.success
    meta = metadata(result)
    manifest, validated, extracted = (
        meta[AST_MANIFEST],
        meta[VALIDATED_AST_FILES],
        meta[AST_METADATA],
    )

    for m in meta.values():
        assert m["repo"] == "mixed"
        assert m["mode"] == "incremental"
        assert m["store"] == str(project.store_path.absolute())
        assert m["seconds"] > 0
    [run] = project.store.query("SELECT run_id, status FROM runs WHERE repo = 'mixed'")
    assert manifest["engine_run_id"] == run[0] and run[1] == "succeeded"

    # Discovery: everything is new; the files by state.
    run_ = manifest["this_run"]
    assert (run_["discovered"], run_["new"], run_["changed"]) == (LIVE + 1, LIVE + 1, 0)
    assert (run_["unchanged"], run_["deleted"]) == (0, 0)
    assert (manifest["files_extracted"], manifest["files_quarantined"]) == (VALID, BAD)
    assert (manifest["files_excluded"], manifest["files_deleted"]) == (1, 0)
    assert manifest["files_by_state"].splitlines() == [
        "| state | files |",
        "|---|---|",
        f"| extracted | {VALID} |",
        f"| quarantined | {BAD} |",
        "| excluded | 1 |",
        "| deleted | 0 |",
    ]

    # Validation: verdicts, rate and the reasons table.
    run_ = validated["this_run"]
    assert (run_["extracted"], run_["quarantined"], run_["excluded"]) == (VALID, BAD, 1)
    assert (validated["files_extracted"], validated["files_quarantined"]) == (VALID, BAD)
    assert validated["quarantine_rate"] == round(BAD / LIVE, 4)
    assert validated["quarantine_reasons"].splitlines()[:6] == [
        "| reason | this run | in quarantine now |",
        "|---|---|---|",
        "| `empty` | 1 | 1 |",
        "| `invalid_json` | 1 | 1 |",
        "| `not_object` | 1 | 1 |",
        "| `unknown_format` | 1 | 1 |",
    ]
    assert "`snake-pipe quarantine list --repo mixed`" in validated["quarantine_reasons"]

    # Extraction: how the repository stands first, then this run.
    assert list(extracted)[:9] == [
        "files_extracted", "files_quarantined", "files_excluded", "files_deleted",
        "functions", "classes", "languages_count", "languages", "quarantine_rate",
    ]  # fmt: skip
    assert (extracted["files_extracted"], extracted["languages_count"]) == (VALID, 6)
    assert (
        extracted["functions"]
        == project.store.query(
            "SELECT sum(function_count) FROM extracted_files WHERE repo = 'mixed'"
        )[0][0]
    )
    run_ = extracted["this_run"]
    assert run_["extracted"] == VALID and run_["reused"] == 0
    assert run_["bytes_read"] == read_bytes(project, "mixed")
    assert extracted["files_per_second"] == pytest.approx(LIVE / extracted["seconds"], rel=0.05)
    languages = extracted["languages"].splitlines()
    assert languages[:2] == [
        "| language | files | functions | classes | extracted this run |",
        "|---|---|---|---|---|",
    ]
    assert languages[2].startswith("| javascript | 2 |") and languages[2].endswith("| 2 |")
    assert sorted(line.split(" | ")[0][2:] for line in languages[3:]) == [
        "c", "go", "python", "rust", "typescript"
    ]  # fmt: skip

    # The metadata agrees with the store's views.
    assert project.store.query("SELECT count(*) FROM extracted_files WHERE repo = 'mixed'") == [
        (VALID,)
    ]
    assert project.store.query(
        "SELECT reason, count(*) FROM quarantined_files WHERE repo = 'mixed' GROUP BY 1 ORDER BY 1"
    ) == [("empty", 1), ("invalid_json", 1), ("not_object", 1), ("unknown_format", 1)]
    # Dagster recorded the partition of all three assets.
    for key in AST_ASSET_KEYS:
        assert instance.get_materialized_partitions(key) == {"mixed"}


def test_second_materialization_is_incremental(
    project: Project, instance: dg.DagsterInstance
) -> None:
    materialize_repo(project, instance, "mixed")

    meta = metadata(materialize_repo(project, instance, "mixed"))

    manifest = meta[AST_MANIFEST]
    run_ = manifest["this_run"]
    assert (run_["new"], run_["changed"], run_["deleted"]) == (0, 0, 0)
    assert run_["unchanged"] == LIVE + 1
    assert (manifest["files_extracted"], manifest["files_quarantined"]) == (VALID, BAD)
    assert meta[VALIDATED_AST_FILES]["this_run"]["extracted"] == 0
    assert meta[VALIDATED_AST_FILES]["this_run"]["quarantined"] == 0
    # A no-op run: the totals stand, no rate is recorded (no zero to plot).
    assert meta[AST_METADATA]["files_extracted"] == VALID
    assert "files_per_second" not in meta[AST_METADATA]
    # Nothing was read, but the quarantine still shows what waits there.
    assert meta[AST_METADATA]["this_run"]["bytes_read"] == 0
    assert "| `invalid_json` | 0 | 1 |" in meta[VALIDATED_AST_FILES]["quarantine_reasons"]
    javascript = next(row for row in meta[AST_METADATA]["languages"].splitlines()
                      if row.startswith("| javascript |"))  # fmt: skip
    assert javascript.startswith("| javascript | 2 |") and javascript.endswith("| 0 |")

    # Edits reach the next run: one new, one changed, one deleted file.
    root = project.repos / "mixed"
    shutil.copy(root / "src/app.js.ast.json", root / "src/copy.js.ast.json")
    (root / "bad/truncated.js.ast.json").write_bytes(b'{"type": "Program", "body": []}')
    (root / "native/main.c.ast.json").unlink()

    meta = metadata(materialize_repo(project, instance, "mixed"))

    manifest = meta[AST_MANIFEST]
    run_ = manifest["this_run"]
    assert (run_["new"], run_["changed"], run_["deleted"]) == (1, 1, 1)
    assert run_["unchanged"] == LIVE + 1 - 2
    assert (manifest["files_extracted"], manifest["files_quarantined"]) == (VALID + 1, BAD - 1)
    assert manifest["files_deleted"] == 1
    assert meta[VALIDATED_AST_FILES]["this_run"]["extracted"] == 2  # copy and repaired file
    assert meta[AST_METADATA]["this_run"]["reused"] == 1  # the copy's content was analysed before
    assert project.store.query(
        "SELECT state, deleted_at IS NOT NULL FROM ast_files WHERE path = 'native/main.c.ast.json'"
    ) == [("deleted", True)]


def test_identical_content_in_another_repository_is_reused(
    project: Project, instance: dg.DagsterInstance
) -> None:
    materialize_repo(project, instance, "webapp")
    meta = metadata(materialize_repo(project, instance, "mixed"))
    assert meta[AST_METADATA]["this_run"]["extracted"] == VALID
    assert meta[AST_METADATA]["this_run"]["reused"] == VALID  # the same seven documents as webapp


def test_full_mode_rereads_every_file(project: Project, instance: dg.DagsterInstance) -> None:
    materialize_repo(project, instance, "mixed")

    result = materialize_repo(project, instance, "mixed", run_config=config_for(FULL))

    meta = metadata(result)
    manifest = meta[AST_MANIFEST]
    assert manifest["mode"] == "full"
    # Nothing changed on disk, yet every live file is read again (the excluded one is not).
    run_ = manifest["this_run"]
    assert (run_["new"], run_["changed"], run_["unchanged"]) == (0, 0, LIVE + 1)
    validated = meta[VALIDATED_AST_FILES]["this_run"]
    assert (validated["extracted"], validated["quarantined"]) == (VALID, BAD)
    assert meta[AST_METADATA]["this_run"]["reused"] == 0  # re-parsed, not reused
    assert meta[AST_METADATA]["this_run"]["bytes_read"] == read_bytes(project, "mixed")
    assert project.store.query(
        "SELECT mode FROM runs WHERE repo = 'mixed' ORDER BY started_at"
    ) == [
        ("incremental",),
        ("full",),
    ]


def config_for(ingest: dict[str, Any]) -> dict[str, Any]:
    return {"ops": {"ast_ingest": {"config": ingest}}}


def failure_of(result: dg.ExecuteInProcessResult) -> dg.Failure | Any:
    assert not result.success
    [event] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    data = event.step_failure_data
    return data.user_failure_data, data.error


@pytest.mark.parametrize(
    "how", ["repository folder removed", "repo_roots folder unmounted", "[[repos]] path missing"]
)
def test_a_missing_root_fails_the_run_clearly_and_changes_nothing(
    project: Project, instance: dg.DagsterInstance, how: str
) -> None:
    repo = "webapp"
    if how == "[[repos]] path missing":
        repo = "external"
        shutil.copytree(project.repos / "webapp", project.config.parent / "ext" / "external")
        write_config(project.config, '[[repos]]\nname = "external"\npath = "ext/external"\n')
    materialize_repo(project, instance, repo)
    before = store_snapshot(project)

    if how == "repository folder removed":
        shutil.rmtree(project.repos / "webapp")
        expected = f"its folder {(project.repos / 'webapp').resolve()} is missing"
    elif how == "repo_roots folder unmounted":
        project.repos.rename(project.repos.with_name("repos-unmounted"))
        expected = f"repo_roots folder(s) missing (not mounted?): {project.repos.resolve()}"
    else:
        shutil.rmtree(project.config.parent / "ext")
        expected = "does not exist (not mounted?)"

    result = materialize_repo(project, instance, repo, raise_on_error=False)

    user_failure, error = failure_of(result)
    assert user_failure is not None, f"not a dg.Failure: {error}"
    assert repo in user_failure.description
    assert expected in user_failure.description
    assert user_failure.metadata["error"].value == "RepositoryUnavailable"
    assert store_snapshot(project) == before  # not even an audit row
    assert len(instance.fetch_materializations(AST_MANIFEST, limit=10).records) == 1


def test_engine_logs_reach_the_run_log(project: Project) -> None:
    """With the project's python_logs settings, the engine's own log lines are in the run's
    event log, so the UI shows them."""
    settings = yaml.safe_load((ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    overrides = {"python_logs": settings["python_logs"]}
    with dg.instance_for_test(overrides=overrides) as instance:
        result = materialize_repo(project, instance, "webapp")
        messages = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any(m.startswith("ingested webapp:") for m in messages), messages


def test_a_partition_for_no_configured_repository_fails_fast(
    project: Project, instance: dg.DagsterInstance
) -> None:
    """A partition added by hand (the UI lets a user type any key) is not a repository: the
    run fails at once, says so, is not retried, and the store is not even created."""
    result = materialize_repo(project, instance, "invented", raise_on_error=False)

    user_failure, error = failure_of(result)
    assert user_failure is not None, f"not a dg.Failure: {error}"
    assert "'invented' is not a configured repository" in user_failure.description
    assert "mixed" in user_failure.description  # the configured ones are named
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert retries == []
    assert not project.store_path.exists()
