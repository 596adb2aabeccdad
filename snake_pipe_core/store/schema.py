"""The store's tables, designed for a lake, and the views analysts query.

Every table is **append-only**. A lake rewrites whole files to update a row, and two writers
that delete from one file conflict, so nothing here is updated in place:

- ``file_versions``: one row each time a file is seen in a new state (new, changed,
  re-analysed, quarantined, excluded, released, deleted). The ``manifest`` view is the newest
  version of each file. A no-op run writes no version at all, and writers of different
  repositories only ever append, so they never conflict.
- ``analyses``: the metadata of each analysed content, by content hash (BLAKE3; sha256 in a
  store that held sha256 hashes before: ``store_settings`` says which). Identical contents
  share it whatever their path or repository; the newest analysis of a content wins (a full
  re-analysis appends a fresh one).
- ``run_starts``, ``run_ends``, ``run_progress``: the audit trail of runs and the checkpoint
  of each committed batch.
- ``store_settings``: what the store is, by name; ``content_hash`` names the hash of its
  ``content_hash`` columns.

Row order comes from DuckLake itself: the ``snapshot_id`` of the commit that wrote a row.
Within one repository, runs take turns, so the newest snapshot of a file is its newest
state. The same column gives **time travel**: setting the DuckDB variable
``snake_pipe_snapshot`` makes every view answer as the store stood at that snapshot (each run
records the snapshot of its last commit, ``runs.snapshot``)::

    SET VARIABLE snake_pipe_snapshot = (SELECT snapshot FROM runs WHERE run_id = '…');

The public views (the contract): ``ast_files``, ``extracted_files``, ``quarantined_files``;
for incremental consumers ``file_history`` and ``analysis_history`` (every row with the
``snapshot`` that committed it: ``WHERE snapshot > <last consumed>`` is a change feed); and for
operators ``manifest``, ``ast_metadata``, ``runs``, ``checkpoints``, ``repos``.
"""

__all__ = [
    "DATA_INLINING_ROW_LIMIT",
    "FILE_LANGUAGE",
    "MIGRATIONS",
    "ROW_SNAPSHOT",
    "SCHEMA_VERSION",
    "SNAPSHOT_VARIABLE",
    "TABLES",
    "VIEWS",
]

SNAPSHOT_VARIABLE = "snake_pipe_snapshot"
_NEWEST = "9223372036854775807"
# A row's snapshot; rows a transaction has written but not committed yet have none (NULL)
# and are the newest that transaction sees.
_SNAP = f"coalesce(snapshot_id, {_NEWEST})"
ROW_SNAPSHOT = _SNAP  # for queries that read the tables beside the views
# A file's language, from its version ``m`` and the analysis ``a`` of its content: what the
# envelope declared, else what its name says, else what the format says.
FILE_LANGUAGE = "coalesce(a.declared_language, m.name_language, a.format_language)"
# Rows committed at or before the chosen snapshot (all of them when none is chosen).
_AT = f"{_SNAP} <= coalesce(TRY_CAST(getvariable('{SNAPSHOT_VARIABLE}') AS BIGINT), {_NEWEST})"

TABLES = ("file_versions", "analyses", "run_starts", "run_ends", "run_progress")

# Every insert goes to a Parquet file: data inlining stays off. In this release of DuckLake,
# rows inlined in the catalog by concurrent writers get overlapping row ids, and filtered scans
# then drop some of them (`WHERE repo = 'r1'` answered nothing for a repository whose 700 rows
# were there: 1-4 in 10 rounds of 4 concurrent ingests; 0 in 32 without inlining). The small
# files commits leave are merged as they accumulate (maintenance.compact).
DATA_INLINING_ROW_LIMIT = 0

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE file_versions (
            repo              VARCHAR NOT NULL,
            path              VARCHAR NOT NULL,
            size_bytes        BIGINT NOT NULL,
            mtime_ns          BIGINT NOT NULL,
            content_hash      VARCHAR,
            format            VARCHAR,
            name_language     VARCHAR,
            state             VARCHAR NOT NULL,
            reason            VARCHAR,
            detail            VARCHAR,
            attempts          INTEGER,
            quarantined_since TIMESTAMP,
            seen_at           TIMESTAMP NOT NULL,
            run_id            VARCHAR NOT NULL
        );
        CREATE TABLE analyses (
            content_hash      VARCHAR NOT NULL,
            format            VARCHAR NOT NULL,
            declared_language VARCHAR,
            format_language   VARCHAR,
            parser_name       VARCHAR,
            parser_version    VARCHAR,
            node_count        BIGINT NOT NULL,
            max_depth         INTEGER NOT NULL,
            function_count    INTEGER NOT NULL,
            class_count       INTEGER NOT NULL,
            import_count      INTEGER NOT NULL,
            branch_count      INTEGER NOT NULL,
            source_path       VARCHAR,
            span_start_line   INTEGER,
            span_end_line     INTEGER,
            node_types        JSON,
            analysed_at       TIMESTAMP NOT NULL
        );
        CREATE TABLE run_starts (
            run_id     VARCHAR NOT NULL,
            repo       VARCHAR NOT NULL,
            root       VARCHAR NOT NULL,
            mode       VARCHAR NOT NULL,
            trigger    VARCHAR,
            started_at TIMESTAMP NOT NULL,
            host       VARCHAR,
            pid        INTEGER
        );
        CREATE TABLE run_ends (
            run_id      VARCHAR NOT NULL,
            repo        VARCHAR NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            status      VARCHAR NOT NULL,
            error       VARCHAR,
            summary     JSON
        );
        CREATE TABLE run_progress (
            run_id     VARCHAR NOT NULL,
            repo       VARCHAR NOT NULL,
            batch      INTEGER NOT NULL,
            planned    BIGINT NOT NULL,
            done       BIGINT NOT NULL,
            updated_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        2,
        # What the store's content hashes are (hashes.CONTENT_HASHES). A store that holds
        # hashes already keeps sha256, the only hash releases before this one wrote: one
        # store never mixes two, or identical contents would stop meeting under one hash.
        # A new (or still empty) store takes BLAKE3, three times as fast.
        """
        CREATE TABLE store_settings (
            name   VARCHAR NOT NULL,
            value  VARCHAR NOT NULL,
            set_at TIMESTAMP NOT NULL
        );
        INSERT INTO store_settings
        SELECT 'content_hash',
               CASE WHEN EXISTS (SELECT 1 FROM analyses WHERE content_hash <> '')
                      OR EXISTS (SELECT 1 FROM file_versions WHERE content_hash <> '')
                    THEN 'sha256' ELSE 'blake3' END,
               now()::TIMESTAMP;
        """,
    ),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]

# Recreated after every migration.
VIEWS = f"""
CREATE OR REPLACE VIEW manifest AS
SELECT repo, path, size_bytes, mtime_ns, content_hash, format, name_language, state, reason,
       detail, attempts, quarantined_since, first_seen, seen_at AS last_seen,
       CASE WHEN state = 'deleted' THEN seen_at END AS deleted_at, run_id, snapshot
FROM (
    SELECT *, {_SNAP} AS snapshot,
           min(seen_at) OVER (PARTITION BY repo, path) AS first_seen,
           row_number() OVER (PARTITION BY repo, path
                              ORDER BY {_SNAP} DESC, seen_at DESC) AS newest
    FROM file_versions
    WHERE {_AT}
)
WHERE newest = 1;

CREATE OR REPLACE VIEW file_history AS
SELECT *, {_SNAP} AS snapshot FROM file_versions WHERE {_AT};

CREATE OR REPLACE VIEW analysis_history AS
SELECT *, {_SNAP} AS snapshot FROM analyses WHERE {_AT};

CREATE OR REPLACE VIEW ast_metadata AS
SELECT content_hash, format, declared_language, format_language, parser_name, parser_version,
       node_count, max_depth, function_count, class_count, import_count, branch_count,
       source_path, span_start_line, span_end_line, node_types, analysed_at
FROM analyses
WHERE {_AT}
QUALIFY row_number() OVER (PARTITION BY content_hash ORDER BY {_SNAP} DESC) = 1;

CREATE OR REPLACE VIEW ast_files AS
SELECT m.repo, m.path, m.state, m.reason, m.size_bytes, m.mtime_ns, m.content_hash,
       {FILE_LANGUAGE} AS language,
       coalesce(a.format, m.format) AS format,
       m.first_seen, m.last_seen, m.deleted_at, m.run_id
FROM manifest m
-- An equi-join on an expression: a condition on m.state in ON makes DuckDB plan a nested
-- loop join (seconds instead of milliseconds on 100,000 files).
LEFT JOIN ast_metadata a
       ON a.content_hash = CASE WHEN m.state = 'extracted' THEN m.content_hash END;

CREATE OR REPLACE VIEW extracted_files AS
SELECT m.repo, m.path, m.content_hash,
       {FILE_LANGUAGE} AS language,
       a.format, a.parser_name, a.parser_version, a.node_count, a.max_depth,
       a.function_count, a.class_count, a.import_count, a.branch_count,
       a.source_path, a.span_start_line, a.span_end_line, a.node_types,
       m.size_bytes, m.mtime_ns, m.last_seen
FROM manifest m
JOIN ast_metadata a ON a.content_hash = m.content_hash
WHERE m.state = 'extracted';

CREATE OR REPLACE VIEW quarantined_files AS
SELECT repo, path, reason, detail, quarantined_since AS first_seen, attempts,
       last_seen, content_hash, size_bytes
FROM manifest
WHERE state = 'quarantined';

CREATE OR REPLACE VIEW runs AS
SELECT s.run_id, s.repo, s.root, s.mode, s.trigger, s.started_at, e.finished_at,
       coalesce(e.status, 'running') AS status, e.error, s.host, s.pid, e.summary, e.snapshot
FROM run_starts s
LEFT JOIN (
    SELECT run_id, finished_at, status, error, summary, {_SNAP} AS snapshot
    FROM run_ends
    WHERE {_AT}
    QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY {_SNAP} DESC) = 1
) e ON e.run_id = s.run_id
WHERE coalesce(s.snapshot_id, {_NEWEST}) <= coalesce(
    TRY_CAST(getvariable('{SNAPSHOT_VARIABLE}') AS BIGINT), {_NEWEST});

CREATE OR REPLACE VIEW checkpoints AS
SELECT r.run_id, r.repo, coalesce(p.planned, 0) AS planned, coalesce(p.done, 0) AS done,
       coalesce(p.batch, 0) AS last_batch, r.status,
       coalesce(r.finished_at, p.updated_at, r.started_at) AS updated_at
FROM runs r
LEFT JOIN (
    SELECT run_id, planned, done, batch, updated_at
    FROM run_progress
    WHERE {_AT}
    QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY {_SNAP} DESC) = 1
) p ON p.run_id = r.run_id;

CREATE OR REPLACE VIEW repos AS
SELECT repo, arg_max(root, started_at) AS root, min(started_at) AS first_seen,
       max(finished_at) FILTER (WHERE status = 'succeeded') AS last_ingest
FROM runs
GROUP BY repo;
"""
