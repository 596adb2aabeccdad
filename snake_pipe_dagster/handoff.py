"""The hand-off to the transform phase: a downstream asset that reads the store incrementally.

``language_totals`` is the example: files, functions and classes per language over every
repository, kept in the lake itself (``transform.language_totals``). Each materialization
reads only the files whose rows changed since the snapshot it last consumed, folds the
difference into the totals, and records the snapshot it has now consumed in the same
transaction, so a run that dies half-way changes nothing and the next one starts from the
same point. It runs while ingests, backfills and the watcher commit: it only appends to and
replaces its own table, so it never conflicts with them.

The change feed is the store's ``file_history`` view (every file version, with the snapshot
that committed it), the same column snake-pipe's time travel uses; see docs/decisions.md for
why not DuckLake's ``ducklake_table_changes``.
"""

import dagster as dg
import duckdb

from snake_pipe_core.store import in_transaction
from snake_pipe_core.store.schema import FILE_LANGUAGE

from .assets import AST_METADATA
from .resources import StoreResource

__all__ = ["LANGUAGE_TOTALS", "TRANSFORM_GROUP", "language_totals", "update_language_totals"]

LANGUAGE_TOTALS = dg.AssetKey("language_totals")
TRANSFORM_GROUP = "transform"

_CREATE = """
CREATE SCHEMA IF NOT EXISTS transform;
CREATE TABLE IF NOT EXISTS transform.language_totals (
    language          VARCHAR NOT NULL,
    files             BIGINT NOT NULL,
    functions         BIGINT NOT NULL,
    classes           BIGINT NOT NULL,
    consumed_snapshot BIGINT NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
"""

# What the changed files contributed at one snapshot: their newest version at or before it,
# when extracted, with the newest analysis of its content at or before it.
_CONTRIBUTION = f"""
SELECT coalesce({FILE_LANGUAGE}, 'unknown') AS language,
       count(*) AS files, sum(a.function_count) AS functions, sum(a.class_count) AS classes
FROM (
    SELECT h.repo, h.path, h.state, h.content_hash, h.name_language
    FROM file_history h SEMI JOIN changed c ON c.repo = h.repo AND c.path = h.path
    WHERE h.snapshot <= $at
    QUALIFY row_number() OVER (PARTITION BY h.repo, h.path
                               ORDER BY h.snapshot DESC, h.seen_at DESC) = 1
) m
JOIN (
    SELECT * FROM analysis_history WHERE snapshot <= $at
    QUALIFY row_number() OVER (PARTITION BY content_hash ORDER BY snapshot DESC) = 1
) a ON a.content_hash = m.content_hash
WHERE m.state = 'extracted'
GROUP BY 1
"""


def update_language_totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Fold the changes since the last consumed snapshot into ``transform.language_totals``
    (call inside a transaction). Returns what it consumed."""
    con.execute(_CREATE)
    row = con.execute("SELECT max(consumed_snapshot) FROM transform.language_totals").fetchone()
    since = int(row[0]) if row and row[0] is not None else 0
    row = con.execute("SELECT id FROM ducklake_current_snapshot('snake')").fetchone()
    until = int(row[0]) if row else 0
    con.execute(
        "CREATE OR REPLACE TEMP TABLE changed AS SELECT DISTINCT repo, path FROM file_history "
        "WHERE snapshot > $since AND snapshot <= $until",
        {"since": since, "until": until},
    )
    changed = int(con.execute("SELECT count(*) FROM changed").fetchall()[0][0])
    if changed:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE new_totals AS
            WITH before AS ({_CONTRIBUTION.replace("$at", "$since")}),
                 after AS ({_CONTRIBUTION.replace("$at", "$until")}),
                 kept AS (SELECT language, files, functions, classes
                          FROM transform.language_totals),
                 parts AS (SELECT * FROM kept
                           UNION ALL SELECT * FROM after
                           UNION ALL SELECT language, -files, -functions, -classes FROM before)
            SELECT language, sum(files)::BIGINT AS files,
                   coalesce(sum(functions), 0)::BIGINT AS functions,
                   coalesce(sum(classes), 0)::BIGINT AS classes
            FROM parts GROUP BY language HAVING sum(files) > 0
            """,
            {"since": since, "until": until},
        )
        con.execute("DELETE FROM transform.language_totals")
        con.execute(
            "INSERT INTO transform.language_totals SELECT language, files, functions, classes, "
            "?, now()::TIMESTAMP FROM new_totals",
            [until],
        )
    languages, files = con.execute(
        "SELECT count(*), coalesce(sum(files), 0) FROM transform.language_totals"
    ).fetchall()[0]
    return {
        "since_snapshot": since,
        "consumed_snapshot": until if changed else since,
        "changed_files": changed,
        "languages": int(languages),
        "files": int(files),
    }


@dg.asset(
    key=LANGUAGE_TOTALS,
    group_name=TRANSFORM_GROUP,
    kinds={"duckdb"},
    deps=[dg.AssetDep(AST_METADATA, partition_mapping=dg.AllPartitionMapping())],
    description="Files, functions and classes per language over every repository: an "
    "example of the transform phase. Reads only the files that changed since the store "
    "snapshot it last consumed. SQL: `SELECT * FROM transform.language_totals`.",
)
def language_totals(
    context: dg.AssetExecutionContext, snake_pipe_store: StoreResource
) -> dg.MaterializeResult:
    """Fold the store's changes since the last consumed snapshot into the totals."""
    with snake_pipe_store.get_writer() as con:
        consumed = in_transaction(con, update_language_totals, what="updating language totals")
        rows = con.execute(
            "SELECT language, files, functions, classes FROM transform.language_totals "
            "ORDER BY files DESC, language"
        ).fetchall()
    context.log.info(
        f"consumed snapshots {consumed['since_snapshot']}→{consumed['consumed_snapshot']}: "
        f"{consumed['changed_files']} changed files"
    )
    table = "\n".join(
        ["| language | files | functions | classes |", "|---|---:|---:|---:|"]
        + [f"| {lang} | {files} | {fns} | {classes} |" for lang, files, fns, classes in rows]
    )
    return dg.MaterializeResult(
        metadata={
            **consumed,
            "totals": dg.MetadataValue.md(table if rows else "No file is extracted yet."),
        }
    )
