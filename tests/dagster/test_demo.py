"""The quick start's main job, as ./quickstart.sh runs it: a real process, a real Dagster
instance in a temporary DAGSTER_HOME, the bundled demo repositories, a real DuckDB file."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snake_pipe_core import Store
from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DEMO = ROOT / "demo" / "repos"


def run_demo(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "SNAKE_PIPE_CONFIG": str(tmp_path / "snake_pipe.toml"),
    }
    return subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-m", "snake_pipe_dagster.demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_demo_runs_every_repository_through_the_assets(tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "repos")
    (tmp_path / "snake_pipe.toml").write_text(
        (ROOT / "snake_pipe.toml").read_text().replace("demo/repos", "repos")
    )
    out = run_demo(tmp_path)
    assert out.returncode == 0, out.stderr
    assert "4 of 4 runs succeeded" in out.stdout
    assert "checks 3/3 passed" in out.stdout
    # the instance has the partitions and the runs, so `dagster dev` on it shows them
    assert (tmp_path / "dagster_home" / "dagster.yaml").is_symlink()
    store = Store(tmp_path / ".snake_pipe" / "store")
    reasons = dict(store.query("SELECT reason, count(*) FROM quarantined_files GROUP BY 1"))
    assert set(reasons) == {
        "empty", "encoding", "invalid_json", "not_object", "schema", "too_deep", "unknown_format"
    }  # fmt: skip
    languages = {r[0] for r in store.query("SELECT DISTINCT language FROM extracted_files")}
    assert languages >= {"python", "javascript", "typescript", "c", "cpp", "go", "rust", "java"}
    # a second run is incremental: nothing new, the same store
    again = run_demo(tmp_path)
    assert again.returncode == 0, again.stderr
    runs = store.query("SELECT count(*), sum((summary->>'new')::INT) FROM runs GROUP BY ALL")
    assert runs == [(8, sum(r[0] for r in store.query("SELECT count(*) FROM ast_files")))]
