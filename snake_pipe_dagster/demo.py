"""The quick start's main job: every configured repository through the assets, in process.

``python -m snake_pipe_dagster.demo`` (what ``./quickstart.sh`` runs) uses the local Dagster
instance in ``$DAGSTER_HOME`` (default ``.dagster_home`` beside ``workspace.yaml``, with the
project's ``dagster.yaml``), registers one partition per configured repository, runs
``incremental_ast_job`` for each partition in this process — the same assets and checks that
``dagster dev`` shows — and prints a summary of the store. The runs are recorded in the
instance, so opening the UI afterwards shows their materializations and check results.
"""

import argparse
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DAGSTER_HOME = PROJECT_DIR / ".dagster_home"

__all__ = ["main"]


def _prepare_dagster_home() -> Path:
    """``$DAGSTER_HOME``, or the project's ``.dagster_home`` holding a link to its
    ``dagster.yaml``, so ``dagster dev`` later opens the same instance."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    yaml = home / "dagster.yaml"
    project_yaml = PROJECT_DIR / "dagster.yaml"
    if not yaml.exists() and project_yaml.is_file():
        yaml.symlink_to(project_yaml)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _summary_rows(store: Any, repos: Sequence[str]) -> list[tuple[object, ...]]:
    rows = store.query(
        """
        SELECT repo,
               count(*) FILTER (WHERE state = 'extracted')   AS extracted,
               count(*) FILTER (WHERE state = 'quarantined') AS quarantined,
               count(*) FILTER (WHERE state = 'excluded')    AS excluded,
               count(*) FILTER (WHERE state = 'deleted')     AS deleted,
               string_agg(DISTINCT language, ', ' ORDER BY language)
                   FILTER (WHERE state = 'extracted')        AS languages
        FROM ast_files WHERE repo IN (SELECT unnest(?)) GROUP BY repo ORDER BY repo
        """,
        [list(repos)],
    )
    return [tuple(r) for r in rows]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m snake_pipe_dagster.demo",
        description="Run incremental_ast_job for every configured repository, in process, on "
        "the local Dagster instance, and print a summary.",
    )
    parser.add_argument("--full", action="store_true", help="run full_reanalysis_job instead")
    args = parser.parse_args(argv)
    home = _prepare_dagster_home()
    # Partitioned asset checks are a Dagster preview; the demo's output is for people.
    warnings.filterwarnings("ignore", message=".*currently in preview.*")

    import dagster as dg  # after DAGSTER_HOME is set

    from snake_pipe_core import SnakePipeError

    from .definitions import defs
    from .partitions import repo_partitions
    from .reporting import text_table
    from .resources import SnakePipeResource

    resource = SnakePipeResource()
    try:
        settings = resource.settings()
        repos = sorted(settings.repositories())
    except SnakePipeError as e:
        print(f"snake-pipe: {e}", file=sys.stderr)
        return 2
    if not repos:
        print(
            f"snake-pipe: no repository configured in {settings.config_file or 'the defaults'}; "
            "set repo_roots or [[repos]]",
            file=sys.stderr,
        )
        return 2
    store = resource.store(settings)
    job_name = "full_reanalysis_job" if args.full else "incremental_ast_job"
    job = defs.resolve_job_def(job_name)
    print(f"snake-pipe: {len(repos)} repositories from {settings.config_file}")
    print(f"           store {store.describe()}\n           Dagster instance {home}\n")
    failed: list[str] = []
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        name = repo_partitions.name
        assert name is not None
        new = [r for r in repos if not instance.has_dynamic_partition(name, r)]
        if new:
            instance.add_dynamic_partitions(name, new)
        for repo in repos:
            t = time.monotonic()
            assert job.partitioned_config is not None
            run_config = dict(job.partitioned_config.get_run_config_for_partition_key(repo))
            # The summary below says what happened; the run's log stays in the instance.
            run_config["loggers"] = {"console": {"config": {"log_level": "WARNING"}}}
            result = job.execute_in_process(
                run_config=run_config, partition_key=repo, instance=instance, raise_on_error=False
            )
            checks = [
                e.asset_check_evaluation_data
                for e in result.all_events
                if e.event_type_value == "ASSET_CHECK_EVALUATION"
            ]
            passed = sum(1 for c in checks if c.passed)
            not_passed = ", ".join(
                f"{c.check_name} ({c.severity.value.lower()})" for c in checks if not c.passed
            )
            status = "ok" if result.success else "FAILED"
            print(
                f"  {repo:<12} {status:<6} run {result.run_id[:8]}  {time.monotonic() - t:4.1f} s  "
                f"checks {passed}/{len(checks)} passed"
                + (f"; not passed: {not_passed}" if not_passed else "")
            )
            if not result.success:
                failed.append(repo)
    print()
    headers = ("repository", "extracted", "quarantined", "excluded", "deleted", "languages")
    rows = _summary_rows(store, repos)
    print(text_table(headers, rows))
    reasons = store.query(
        "SELECT reason, count(*) AS files FROM quarantined_files "
        "WHERE repo IN (SELECT unnest(?)) GROUP BY 1 ORDER BY 2 DESC, 1",
        [repos],
    )
    if reasons:
        print("\nquarantine reasons:")
        print(text_table(("reason", "files"), [tuple(r) for r in reasons]))
    print(
        f"\n{len(repos) - len(failed)} of {len(repos)} runs succeeded in "
        f"{time.monotonic() - started:.1f} s.\n"
        'Query the store:   .venv/bin/snake-pipe sql "SELECT language, count(*) FROM '
        'extracted_files GROUP BY 1"\n'
        f"Open the UI:       DAGSTER_HOME={home} .venv/bin/dagster dev -w "
        f"{PROJECT_DIR / 'workspace.yaml'} -h 127.0.0.1 -p 3000"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
