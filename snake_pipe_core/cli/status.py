"""``snake-pipe status``: files by state for each repository, and the refusals that stand.

It only reads: the store is attached read-only, so status works beside running ingests and on
read-only media (a store on a read-only mount is read through a copy of its small catalog)."""

import sqlite3
import time
from typing import Any

import click
import duckdb

from ..config import Settings
from ..guard import GuardState, Refusal
from ..store import Store, connect_readonly
from .app import EXIT_OK, json_option, settings_of, store_options
from .output import echo_json, error, safe, table

__all__ = ["describe_refusal", "query_rows", "refusals", "status"]

_STATUS_SQL = """
WITH last AS (
    SELECT repo, started_at, status, host, pid FROM runs
    QUALIFY row_number() OVER (PARTITION BY repo ORDER BY started_at DESC) = 1
)
SELECT m.repo,
       count(*) FILTER (WHERE state = 'extracted')   AS extracted,
       count(*) FILTER (WHERE state = 'quarantined') AS quarantined,
       count(*) FILTER (WHERE state = 'excluded')    AS excluded,
       count(*) FILTER (WHERE state = 'deleted')     AS deleted,
       any_value(last.started_at) AS last_run,
       any_value(last.status)     AS last_status,
       any_value(last.host)       AS last_host,
       any_value(last.pid)        AS last_pid
FROM manifest m LEFT JOIN last ON last.repo = m.repo
WHERE ? IS NULL OR m.repo = ?
GROUP BY m.repo ORDER BY m.repo
"""
_COLUMNS = ("repo", "extracted", "quarantined", "excluded", "deleted", "last_run",
            "last_status", "last_host", "last_pid", "refused")  # fmt: skip


def query_rows(settings: Settings, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Rows as dicts from a read-only connection (never waits for a writer)."""
    con = connect_readonly(settings.store_location)
    try:
        cursor = con.execute(sql, params)
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def refusals(settings: Settings) -> list[Refusal]:
    """The refusals of the mass-delete guard that stand (the store's guard state)."""
    try:
        return GuardState(Store(settings.store_location).path).refusals()
    except (sqlite3.Error, OSError) as e:  # read-only media: the state is read where it can be
        error(f"cannot read the mass-delete guard's state: {e}")
        return []


def describe_refusal(r: Refusal, now: float) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.since))
    line = f"{safe(r.repo)}: refused ({r.kind}) {r.refusals} time(s) since {when}: {safe(r.detail)}"
    if r.confirmed_at is not None:
        line += "; deletions confirmed, applied at the next try"
    elif r.retry_at is not None:
        line += f"; next try in {max(0.0, r.retry_at - now):.0f} s ({r.retry_by})"
    return line


@click.command(short_help="files by state for each repository")
@click.option("--repo", metavar="REPO", help="only this repository (its slug)")
@store_options
@json_option
@click.pass_context
def status(ctx: click.Context, repo: str | None, as_json: bool) -> int:
    """Files by state (extracted, quarantined, excluded, deleted) for each repository, its
    last run, and the mass-delete guard's refusals that stand."""
    settings = settings_of(ctx)
    try:
        rows = query_rows(settings, _STATUS_SQL, [repo, repo])
    except duckdb.Error as e:  # a store the reader cannot parse: say so, exit 3
        from ..errors import StoreError

        raise StoreError(f"cannot read the store {settings.store_location.describe()}: {e}") from e
    standing = {r.repo: r for r in refusals(settings) if not repo or r.repo == repo}
    known = {row["repo"] for row in rows}
    rows += [{"repo": name, "extracted": 0, "quarantined": 0, "excluded": 0, "deleted": 0}
             for name in sorted(set(standing) - known)]  # fmt: skip
    for row in rows:
        refusal = standing.get(row["repo"])
        row["refused"] = refusal.kind if refusal else None
        if as_json:
            row["refusal"] = refusal.as_dict() if refusal else None
    if as_json:
        echo_json(rows)
        return EXIT_OK
    table(rows, _COLUMNS, empty="(no repository in the store yet)")
    now = time.time()
    for refusal in standing.values():
        click.echo("REFUSED " + describe_refusal(refusal, now))
    return EXIT_OK
