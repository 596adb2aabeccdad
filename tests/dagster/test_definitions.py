"""The Definitions load, and their names are pinned: renaming one breaks UIs and run history."""

import dagster as dg
import pytest

from snake_pipe_dagster import assets, jobs
from snake_pipe_dagster.definitions import defs

pytestmark = pytest.mark.unit


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)
    assert defs.get_repository_def() is not None


def test_names_are_pinned() -> None:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == {
        "ast_manifest",
        "validated_ast_files",
        "ast_metadata",
        "language_totals",
    }
    assert {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys} == {
        ("ast_metadata", "one_verdict_per_file_check"),
        ("ast_metadata", "hashes_match_disk_check"),
        ("ast_metadata", "quarantine_rate_check"),
    }
    assert {j.name for j in repo.get_all_jobs() if not j.name.startswith("__")} == {
        "incremental_ast_job",
        "full_reanalysis_job",
        "store_maintenance_job",
    }
    assert {s.name for s in repo.sensor_defs} == {"repo_discovery_sensor", "ast_change_sensor"}
    assert {s.name for s in repo.schedule_defs} == {
        "hourly_reconciliation_schedule",
        "nightly_full_reanalysis_schedule",
        "nightly_store_maintenance_schedule",
    }
    assert set(repo.get_top_level_resources()) == {"snake_pipe", "snake_pipe_store"}


def test_lineage_reads_discovery_validation_extraction() -> None:
    graph = defs.get_repository_def().asset_graph
    manifest, validated, metadata = assets.AST_ASSET_KEYS
    assert graph.get(validated).parent_keys == {manifest}
    assert graph.get(metadata).parent_keys == {validated}
    # One step produces all three, and all three are partitioned by repository.
    assert {graph.get(k).assets_def.op.name for k in assets.AST_ASSET_KEYS} == {"ast_ingest"}
    for key in assets.AST_ASSET_KEYS:
        node = graph.get(key)
        assert node.partitions_def is not None
        assert node.description and "SQL:" in node.description
        assert node.group_name == "ast_extract"


def test_every_config_field_has_a_default() -> None:
    config = assets.IngestConfig()  # a UI backfill sends no config at all
    assert config.mode == "incremental"
    assert all(not f.is_required() for f in assets.IngestConfig.model_fields.values())


def test_jobs_run_in_process_and_full_runs_have_lower_priority() -> None:
    repo = defs.get_repository_def()
    incremental = repo.get_job("incremental_ast_job")
    full = repo.get_job("full_reanalysis_job")
    for job in (incremental, full):
        assert job.executor_def.name == "in_process"
        assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {
            "ast_manifest",
            "validated_ast_files",
            "ast_metadata",
        }
        assert len(job.asset_layer.asset_graph.asset_check_keys) == 3
    prio = jobs.PRIORITY_TAG
    assert int(full.tags[prio]) < int(incremental.tags[prio])
    for job, mode in ((incremental, "incremental"), (full, "full")):
        config = job.get_run_config_for_partition_key("any-repo")
        assert config["ops"]["ast_ingest"]["config"]["mode"] == mode
