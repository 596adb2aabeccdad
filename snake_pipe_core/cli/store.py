"""``snake-pipe sql`` and ``snake-pipe store info|maintain|migrate``."""

import csv
import sys
from pathlib import Path

import click
import duckdb

from ..store import Store, connect_readonly, maintain
from .app import EXIT_OK, EXIT_USAGE, SnakePipeGroup, json_option, settings_of, store_options
from .output import echo_json, error, safe

__all__ = ["sql", "store"]


@click.command(short_help="read-only SQL on the store (--json, --csv, --at)")
@click.argument("query")
@store_options
@click.option("--json", "as_json", is_flag=True, help="print the rows as JSON")
@click.option("--csv", "as_csv", is_flag=True, help="print the rows as CSV")
@click.option("--at", metavar="RUN_ID", help="answer as the store stood when this run "
              "finished (a prefix of the run id is enough)")  # fmt: skip
@click.option("--max-rows", type=click.IntRange(min=1), default=100, show_default=True,
              help="rows shown in the table view")  # fmt: skip
@click.pass_context
def sql(
    ctx: click.Context, query: str, as_json: bool, as_csv: bool, at: str | None, max_rows: int
) -> int:
    """Run read-only SQL on the store: views ast_files, extracted_files, quarantined_files,
    runs, file_history…; e.g. "SELECT language, count(*) FROM extracted_files GROUP BY 1"."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv exclude each other", ctx)
    con = connect_readonly(settings_of(ctx).store_location, at_run=at)
    try:
        try:
            rel = con.sql(query)
        except duckdb.Error as e:
            error(f"the query failed: {e}")
            return EXIT_USAGE
        if rel is None:
            return EXIT_OK
        if as_json:
            rows = rel.fetchall()
            echo_json([dict(zip(rel.columns, row, strict=True)) for row in rows])
        elif as_csv:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(rel.columns)
            writer.writerows(rel.fetchall())
        else:
            rel.show(max_width=10_000, max_rows=max_rows)
    finally:
        con.close()
    return EXIT_OK


@click.group(cls=SnakePipeGroup, short_help="the store: info, maintain, migrate")
def store() -> None:
    """The store: where it is (info), maintenance (maintain), import of a 0.1 store (migrate)."""


@store.command()
@store_options
@json_option
@click.pass_context
def info(ctx: click.Context, as_json: bool) -> int:
    """Where the store is, its snapshot, its data files and the ATTACH statement."""
    from ..store.lake import extension_directory
    from ..store.maintenance import table_files

    the_store = Store(settings_of(ctx).store_location)
    location = the_store.location
    with the_store.connect(read_only=True) as con:
        files = table_files(con)
    data = {
        "store": location.describe(),
        "catalog": location.uri if location.embedded else location.describe(),
        "data_path": location.data_path,
        "snapshot": the_store.current_snapshot(),
        "content_hash": the_store.content_hash(),
        "data_files": sum(files.values()),
        "attach": location.attach_sql(),
        "extension_directory": extension_directory(),
    }
    if as_json:
        echo_json(data)
    else:
        for key, value in data.items():
            click.echo(f"{key:>19}: {safe(value)}")
    return EXIT_OK


@store.command("maintain")
@store_options
@json_option
@click.pass_context
def maintain_(ctx: click.Context, as_json: bool) -> int:
    """Write rows kept in the catalog to Parquet, merge small files, expire old snapshots."""
    settings = settings_of(ctx)
    the_store = Store(settings.store_location)
    report = maintain(the_store, keep_snapshots_days=settings.maintenance.keep_snapshots_days)
    d = report.as_dict()
    if as_json:
        echo_json(d)
    else:
        click.echo(f"maintained {the_store.describe()}: {d['files_before']} → {d['files_after']} "
                   f"data files, {d['snapshots_before']} → {d['snapshots_after']} snapshots, "
                   f"{d['deleted_files']} files deleted in {d['seconds']:.1f} s")  # fmt: skip
    return EXIT_OK


@store.command()
@click.option("--from", "source", metavar="PATH", type=click.Path(path_type=Path),
              help="the 0.1 store (a DuckDB file, or its EXPORT DATABASE folder)")  # fmt: skip
@store_options
@click.pass_context
def migrate(ctx: click.Context, source: Path | None) -> int:
    """Import a snake-pipe 0.1 store (one DuckDB file) into this store."""
    from ..store.legacy import migrate_legacy

    the_store = Store(settings_of(ctx).store_location)
    migrated = migrate_legacy(the_store, source)
    kept = f"; the 0.1 file is kept as {migrated.backup}" if migrated.backup else ""
    click.echo(f"migrated {migrated.source} into {the_store.describe()}: {migrated.files} files, "
               f"{migrated.analyses} analysed contents, {migrated.runs} runs{kept}")  # fmt: skip
    return EXIT_OK
