"""The store's schema, migrated forward automatically, and its public views.

Tables are the engine's; the views are the contract for analysts and the transform phase:

- ``ast_files``: every discovered file and its one state (``reason``: quarantine reason or
  exclusion rule);
- ``extracted_files``: the metadata of every extracted file;
- ``quarantined_files``: files waiting in quarantine, with reason, detail and attempts.
"""

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "VIEWS"]

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE repos (
            repo        VARCHAR PRIMARY KEY,
            root        VARCHAR NOT NULL,
            first_seen  TIMESTAMP NOT NULL,
            last_ingest TIMESTAMP,
            retired     BOOLEAN NOT NULL DEFAULT false
        );
        CREATE TABLE manifest (
            repo          VARCHAR NOT NULL,
            path          VARCHAR NOT NULL,
            size_bytes    BIGINT NOT NULL,
            mtime_ns      BIGINT NOT NULL,
            content_hash  VARCHAR,
            format        VARCHAR,
            name_language VARCHAR,
            state         VARCHAR NOT NULL,
            reason        VARCHAR,
            first_seen    TIMESTAMP NOT NULL,
            last_seen     TIMESTAMP NOT NULL,
            deleted_at    TIMESTAMP,
            run_id        VARCHAR,
            PRIMARY KEY (repo, path)
        );
        CREATE TABLE ast_metadata (
            content_hash      VARCHAR PRIMARY KEY,
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
        CREATE TABLE quarantine (
            repo         VARCHAR NOT NULL,
            path         VARCHAR NOT NULL,
            content_hash VARCHAR,
            reason       VARCHAR NOT NULL,
            detail       VARCHAR,
            first_seen   TIMESTAMP NOT NULL,
            last_seen    TIMESTAMP NOT NULL,
            attempts     INTEGER NOT NULL,
            PRIMARY KEY (repo, path)
        );
        CREATE TABLE checkpoints (
            run_id     VARCHAR NOT NULL,
            repo       VARCHAR NOT NULL,
            planned    BIGINT NOT NULL,
            done       BIGINT NOT NULL,
            last_batch INTEGER NOT NULL,
            status     VARCHAR NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            PRIMARY KEY (run_id, repo)
        );
        CREATE TABLE runs (
            run_id      VARCHAR PRIMARY KEY,
            repo        VARCHAR NOT NULL,
            root        VARCHAR NOT NULL,
            mode        VARCHAR NOT NULL,
            trigger     VARCHAR,
            started_at  TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            status      VARCHAR NOT NULL,
            error       VARCHAR,
            host        VARCHAR,
            pid         INTEGER,
            summary     JSON
        );
        CREATE INDEX manifest_hash ON manifest (content_hash);
        """,
    ),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]

# Recreated after every migration; the stable, documented interface of the store.
VIEWS = """
CREATE OR REPLACE VIEW ast_files AS
SELECT m.repo, m.path, m.state, m.reason, m.size_bytes, m.mtime_ns, m.content_hash,
       coalesce(a.declared_language, m.name_language, a.format_language) AS language,
       coalesce(a.format, m.format) AS format,
       m.first_seen, m.last_seen, m.deleted_at, m.run_id
FROM manifest m
LEFT JOIN ast_metadata a ON m.state = 'extracted' AND a.content_hash = m.content_hash;

CREATE OR REPLACE VIEW extracted_files AS
SELECT m.repo, m.path, m.content_hash,
       coalesce(a.declared_language, m.name_language, a.format_language) AS language,
       a.format, a.parser_name, a.parser_version, a.node_count, a.max_depth,
       a.function_count, a.class_count, a.import_count, a.branch_count,
       a.source_path, a.span_start_line, a.span_end_line, a.node_types,
       m.size_bytes, m.mtime_ns, m.last_seen
FROM manifest m
JOIN ast_metadata a ON a.content_hash = m.content_hash
WHERE m.state = 'extracted';

CREATE OR REPLACE VIEW quarantined_files AS
SELECT q.repo, q.path, q.reason, q.detail, q.first_seen, q.attempts,
       q.last_seen, q.content_hash, m.size_bytes
FROM quarantine q
JOIN manifest m ON m.repo = q.repo AND m.path = q.path
WHERE m.state = 'quarantined';
"""
