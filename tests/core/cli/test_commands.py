"""The snake-pipe command as a user runs it: a real process, real files, a real store."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MakeRepo

pytestmark = pytest.mark.integration


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=env,
    )  # fmt: skip


def test_ingest_json_summary_and_status(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo("my repo", {"a.js.ast.json": b'{"type":"Program","body":[]}', "b.json": b"["})
    store = str(tmp_path / "s.duckdb")
    out = run("ingest", str(root), "--store", store, "--json")
    assert out.returncode == 0, out.stderr  # quarantined files do not fail the run
    summary = json.loads(out.stdout)
    assert (summary["extracted"], summary["quarantined"], summary["status"]) == (1, 1, "succeeded")
    assert summary["reasons"] == {"invalid_json": 1}
    assert summary["repos"][0]["repo"] == "my-repo"
    status = json.loads(run("status", "--store", store, "--json").stdout)
    assert status[0]["repo"] == "my-repo" and status[0]["quarantined"] == 1


def test_plain_output_is_a_readable_summary(make_repo: MakeRepo, tmp_path: Path) -> None:
    out = run("ingest", str(make_repo()), "--store", str(tmp_path / "s.duckdb"))
    assert out.returncode == 0
    assert "7 extracted, 0 quarantined, 1 excluded" in out.stdout


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    out = run("ingest", str(tmp_path / "nope"), "--store", str(tmp_path / "s.duckdb"))
    assert out.returncode == 2
    assert "does not exist" in out.stderr
    assert not (tmp_path / "s.duckdb").exists()


def test_unreadable_store_is_reported(make_repo: MakeRepo, tmp_path: Path) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"this is not a database" * 100)
    out = run("ingest", str(make_repo()), "--store", str(bad))
    assert out.returncode == 3
    assert "is a file, not a store folder" in out.stderr
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "catalog.sqlite").write_bytes(b"this is not a database" * 100)
    for command in (["ingest", str(make_repo("r2"))], ["status"]):
        out = run(*command, "--store", str(damaged))
        assert out.returncode == 3, out.stderr
        assert "is damaged" in out.stderr and "Traceback" not in out.stderr
    out = run("status", "--store", str(tmp_path / "missing"))
    assert out.returncode == 3 and "run `snake-pipe ingest` first" in out.stderr


def test_quarantine_list_show_retry_release(make_repo: MakeRepo, tmp_path: Path) -> None:
    root = make_repo(
        "r",
        {"a.js.ast.json": b"[", "b.js.ast.json": b"{}", "ok.json": b'{"type":"Program","body":[]}'},
    )
    store = str(tmp_path / "s.duckdb")
    assert run("ingest", str(root), "--store", store).returncode == 0
    listed = json.loads(run("quarantine", "list", "--store", store, "--json").stdout)
    assert {(q["path"], q["reason"]) for q in listed} == {
        ("a.js.ast.json", "invalid_json"),
        ("b.js.ast.json", "unknown_format"),
    }
    shown = run("quarantine", "show", "a.js.ast.json", "--store", store)
    assert "invalid_json" in shown.stdout and "line 1 column" in shown.stdout
    (root / "a.js.ast.json").write_bytes(b'{"type":"Program","body":[]}')
    retried = run("quarantine", "retry", "a.js.ast.json", "--store", store)
    assert retried.returncode == 0 and "1 extracted" in retried.stdout
    released = run("quarantine", "release", "b.js.ast.json", "--repo", "r", "--store", store)
    assert "released 1" in released.stdout
    assert json.loads(run("quarantine", "list", "--store", store, "--json").stdout) == []
    # released stays released while unchanged
    assert run("ingest", str(root), "--store", store).returncode == 0
    status = json.loads(run("status", "--store", store, "--json").stdout)[0]
    assert (status["extracted"], status["quarantined"], status["excluded"]) == (2, 0, 1)


def test_config_file_drives_the_cli(make_repo: MakeRepo, tmp_path: Path) -> None:
    make_repo("alpha")
    make_repo("beta")
    cfg = tmp_path / "sp.toml"
    cfg.write_text('store = "state/s.duckdb"\nrepo_roots = ["repos"]\n[limits]\nmax_depth = 5000\n')
    shown = json.loads(run("--config", str(cfg), "config", "show").stdout)
    assert shown["limits"]["max_depth"] == 5000
    assert set(shown["repositories"]) == {"alpha", "beta"}
    out = run("--config", str(cfg), "ingest", "--json")
    assert out.returncode == 0, out.stderr
    assert [r["repo"] for r in json.loads(out.stdout)["repos"]] == ["alpha", "beta"]
    assert (tmp_path / "state" / "s.duckdb").exists()


def test_invalid_config_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "sp.toml"
    cfg.write_text("[limits]\nmax_depth = -3\nbogus = 1\n")
    out = run("--config", str(cfg), "config", "show")
    assert out.returncode == 2
    assert "limits.max_depth" in out.stderr and "limits.bogus" in out.stderr


def test_repository_folders_with_one_slug_are_a_clear_error(tmp_path: Path) -> None:
    for name in ("Foo", "foo"):
        (tmp_path / "repos" / name).mkdir(parents=True)
    cfg = tmp_path / "sp.toml"
    cfg.write_text('repo_roots = ["repos"]\n')
    out = run("--config", str(cfg), "config", "show")
    assert out.returncode == 2 and "share the name 'foo'" in out.stderr
    # naming one of them explicitly resolves it
    cfg.write_text('repo_roots = ["repos"]\n[[repos]]\nname = "foo-upper"\npath = "repos/Foo"\n')
    shown = json.loads(run("--config", str(cfg), "config", "show").stdout)
    assert set(shown["repositories"]) == {"foo", "foo-upper"}


def test_store_in_a_folder_that_cannot_exist(make_repo: MakeRepo, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    out = run("ingest", str(make_repo()), "--store", str(tmp_path / "afile" / "s.duckdb"))
    assert out.returncode == 3 and "cannot create the store's catalog" in out.stderr
