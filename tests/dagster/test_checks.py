"""The three asset checks pass on a good store and fail on a broken one."""

import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from tests.dagster.helpers import Project, materialize_repo, write_config

pytestmark = pytest.mark.integration

RATE = "quarantine_rate_check"
VERDICT = "one_verdict_per_file_check"
DISK = "hashes_match_disk_check"


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    assert result.success  # a failing check is a result, not a failed run
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def meta(evaluation: dg.AssetCheckEvaluation) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}


def tamper(project: Project, sql: str) -> None:
    """Break the store behind the engine's back."""
    with project.store.connect() as con:
        con.execute(sql)


def test_all_checks_pass_on_a_good_store(project: Project, instance: dg.DagsterInstance) -> None:
    evaluations = checks(materialize_repo(project, instance, "webapp"))

    assert set(evaluations) == {RATE, VERDICT, DISK}
    assert all(e.passed for e in evaluations.values())
    assert meta(evaluations[RATE])["quarantine_rate"] == 0
    assert meta(evaluations[VERDICT])["manifest_rows"] == "8"
    assert meta(evaluations[DISK])["sample"] == {"sampled": 7, "matched": 7, "pending": 0}
    assert meta(evaluations[DISK])["match_rate"] == 1.0
    assert meta(evaluations[RATE])["files"] == {"quarantined": 0, "live": 7}
    # Each check result is recorded against the partition's assets.
    for e in evaluations.values():
        assert e.partition == "webapp"


def test_quarantine_rate_warns_above_the_configured_threshold(
    project: Project, instance: dg.DagsterInstance
) -> None:
    rate = checks(materialize_repo(project, instance, "mixed"))[RATE]
    assert not rate.passed
    assert rate.severity == dg.AssetCheckSeverity.WARN
    assert meta(rate)["quarantine_rate"] == round(4 / 11, 4)
    assert meta(rate)["threshold"] == 0.05
    assert "| `invalid_json` | 1 |" in meta(rate)["top_reasons"]

    write_config(project.config, "quarantine_rate_threshold = 0.5\n")
    rate = checks(materialize_repo(project, instance, "mixed", checks_only=True))[RATE]
    assert rate.passed
    assert meta(rate)["threshold"] == 0.5


def bad_version(state: str, reason: str, content_hash: str = "content_hash") -> str:
    """A version of src/app.js.ast.json appended behind the engine's back."""
    return (
        f"INSERT INTO file_versions SELECT repo, path, size_bytes, mtime_ns, {content_hash}, "
        f"format, name_language, '{state}', {reason}, NULL, NULL, NULL, now(), 'tampered' "
        "FROM manifest WHERE repo = 'webapp' AND path = 'src/app.js.ast.json'"
    )


@pytest.mark.parametrize(
    ("broken", "sql"),
    [
        ("quarantined_without_reason", bad_version("quarantined", "NULL")),
        ("extracted_without_metadata", bad_version("extracted", "NULL", "repeat('0', 64)")),
        ("unknown_state", bad_version("maybe", "NULL")),
        ("excluded_without_rule", bad_version("excluded", "NULL")),
    ],
)
def test_verdict_check_fails_on_a_tampered_manifest(
    project: Project, instance: dg.DagsterInstance, broken: str, sql: str
) -> None:
    assert checks(materialize_repo(project, instance, "webapp"))[VERDICT].passed
    tamper(project, sql)

    verdict = checks(materialize_repo(project, instance, "webapp", checks_only=True))[VERDICT]

    assert not verdict.passed
    assert verdict.severity == dg.AssetCheckSeverity.ERROR
    assert meta(verdict)[broken] == 1
    assert f"{broken}=1" in (verdict.description or "")
    others = {k: v for k, v in meta(verdict).items() if k not in (broken, "manifest_rows")}
    assert set(others.values()) == {0}


def rewrite_same_size_same_mtime(path: Path) -> None:
    """Change a file's bytes but not its size nor its modification time, which is what an
    incremental run trusts (a restored backup or a tool that keeps mtimes does this)."""
    st = path.stat()
    data = path.read_bytes()
    changed = data.replace(b'"f0"', b'"g0"', 1)
    assert changed != data and len(changed) == len(data)
    path.write_bytes(changed)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns


def test_disk_check_finds_bytes_changed_under_the_same_size_and_mtime(
    project: Project, instance: dg.DagsterInstance
) -> None:
    materialize_repo(project, instance, "webapp")
    rewrite_same_size_same_mtime(project.repos / "webapp" / "src/app.js.ast.json")

    # The next incremental run trusts size and mtime and reads nothing...
    result = materialize_repo(project, instance, "webapp")
    [manifest] = [
        m
        for m in result.asset_materializations_for_node("ast_ingest")
        if m.asset_key.path == ["ast_manifest"]
    ]
    assert manifest.metadata["this_run"].value["unchanged"] == 8
    # ...which is exactly what the check is for.
    disk = checks(result)[DISK]
    assert not disk.passed
    assert disk.severity == dg.AssetCheckSeverity.ERROR
    assert meta(disk)["mismatched"] == 1
    assert meta(disk)["mismatched_paths"] == ["src/app.js.ast.json"]

    # A full re-analysis repairs the store.
    full = materialize_repo(
        project,
        instance,
        "webapp",
        run_config={"ops": {"ast_ingest": {"config": {"mode": "full"}}}},
    )
    assert checks(full)[DISK].passed


def test_disk_check_treats_ordinary_edits_as_pending(
    project: Project, instance: dg.DagsterInstance
) -> None:
    materialize_repo(project, instance, "webapp")
    root = project.repos / "webapp"
    (root / "src/app.js.ast.json").write_bytes(b'{"type": "Program", "body": []}')
    (root / "go/cmd/main.go.ast.json").unlink()

    disk = checks(materialize_repo(project, instance, "webapp", checks_only=True))[DISK]

    assert disk.passed
    sample = meta(disk)["sample"]
    assert (sample["pending"], sample["matched"], meta(disk)["mismatched"]) == (2, 5, 0)
    assert meta(disk)["match_rate"] == 1.0  # pending files are not mismatches


def test_disk_check_fails_for_a_repository_never_ingested(
    project: Project, instance: dg.DagsterInstance
) -> None:
    materialize_repo(project, instance, "webapp")
    disk = checks(materialize_repo(project, instance, "mixed", checks_only=True))[DISK]
    assert not disk.passed
    assert "never ingested" in (disk.description or "")
