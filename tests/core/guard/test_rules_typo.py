"""Issue 10 #5: a typo in ``include`` must not silently empty the store. Rules that would
exclude most of a repository's known files are refused like a mass delete, unless confirmed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from snake_pipe_core import (
    MassDeletionRefused,
    Settings,
    Store,
    ingest_repository,
    load_settings,
)
from tests.conftest import MakeRepo
from tests.fixtures import asts

pytestmark = pytest.mark.integration


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SNAKE_PIPE_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "snake_pipe_core.cli", *args],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip


def states(store: Path) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", "sql", "--store", str(store), "--json",
         "SELECT state, count(*) AS n FROM manifest GROUP BY state"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return {row["state"]: row["n"] for row in json.loads(out.stdout)}


def test_an_include_typo_is_refused_until_confirmed(make_repo: MakeRepo, tmp_path: Path) -> None:
    files = {f"src/m{i}.js.ast.json": asts.dumps(asts.estree(i % 4 + 1)) for i in range(50)}
    files.update({f"bad/b{i}.json": b"{" for i in range(5)})  # quarantined ones count too
    root = make_repo(files=files)
    store = tmp_path / "store"
    good, typo = tmp_path / "good.toml", tmp_path / "typo.toml"
    good.write_text(f'store = "{store}"\n[discovery]\ninclude = ["*.json"]\n')
    typo.write_text(f'store = "{store}"\n[discovery]\ninclude = ["*.jsn"]\n')
    assert cli(good, "ingest", str(root)).returncode == 0
    before = states(store)
    assert before == {"extracted": 50, "quarantined": 5}

    refused = cli(typo, "ingest", str(root))
    assert refused.returncode == 1, refused.stderr
    assert "include = ['*.jsn']" in refused.stderr, refused.stderr  # the rule, named
    assert "55 of the 55 files" in refused.stderr
    assert "--allow-mass-delete" in refused.stderr  # how to confirm
    assert states(store) == before  # nothing was marked excluded
    status = json.loads(cli(typo, "status", "--json").stdout)
    assert status[0]["refused"] == "excluded"

    assert cli(typo, "ingest", str(root), "--allow-mass-delete").returncode == 0  # confirmed
    assert states(store) == {"excluded": 55}
    assert cli(typo, "ingest", str(root)).returncode == 0  # nothing more to exclude


def test_rules_that_exclude_a_few_files_or_prune_most_are_judged(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    files = {f"gen/g{i}.js.ast.json": asts.dumps(asts.estree()) for i in range(40)}
    files.update({f"src/s{i}.js.ast.json": asts.dumps(asts.estree(2)) for i in range(10)})
    root = make_repo(files=files)
    store = Store(tmp_path / "store")

    def settings(**discovery: list[str]) -> Settings:
        return load_settings(env={}, store=store.path, workers=1, discovery=discovery)

    ingest_repository(root, store=store, settings=settings())
    few = settings(exclude=["s1.js.ast.json"])
    assert ingest_repository(root, store=store, settings=few).excluded == 1
    pruned = settings(exclude_dirs=["gen"])
    with pytest.raises(MassDeletionRefused, match=r"exclude-dir:gen \(40\)"):
        ingest_repository(root, store=store, settings=pruned)
