"""The ``snake-pipe`` command: ingest, status, sql, quarantine, store, config and watch.

Exit codes: 0 the work completed (quarantined files included), 1 a repository failed,
2 a usage or configuration error, 3 the store cannot be used, 4 (``watch``) another watcher
already runs for this journal, or (``watch --ingest``) another consumer applies it.
"""

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from .config import Settings, load_settings, slugify
from .errors import ConfigError, RepositoryError, SnakePipeError, StoreError
from .guard import GuardState, Refusal
from .ingest import Progress, ingest_repository
from .models import IngestSummary
from .store import Store

__all__ = ["main"]

log = logging.getLogger(__name__)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STORE, EXIT_WATCHER_RUNNING = 0, 1, 2, 3, 4


class ProgressBar:
    """A one-line progress display on a terminal; silent otherwise."""

    def __init__(self, stream: Any = sys.stderr) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and not p.walk_complete):
            return
        self.last = now
        rate = p.done / p.elapsed if p.elapsed > 0 else 0.0
        if p.walk_complete and p.planned:
            width = 24
            filled = int(width * p.done / p.planned)
            bar = "█" * filled + "░" * (width - filled)
            line = f"{p.repo}: {bar} {p.done}/{p.planned} files"
        else:
            line = f"{p.repo}: walking… {p.discovered} found, {p.done}/{p.planned} analysed"
        line += f"  {p.bytes_done / 1048576:.1f} MiB  {rate:.0f} files/s"
        self.stream.write("\r\033[K" + line)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.last:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.last = 0.0


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        args.config,
        store=getattr(args, "store", None) or None,
        store_data=getattr(args, "store_data", None) or None,
        workers=getattr(args, "workers", None),
    )


def _print_summary(s: IngestSummary) -> None:
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(s.reasons.items()))
    print(
        f"{s.repo}: {s.discovered} files ({s.new} new, {s.changed} changed, "
        f"{s.unchanged} unchanged, {s.deleted} deleted) → {s.extracted} extracted, "
        f"{s.quarantined} quarantined{f' ({reasons})' if reasons else ''}, "
        f"{s.excluded} excluded in {s.seconds:.2f} s ({s.files_per_second:.0f} files/s)"
    )


def _aggregate(summaries: list[dict[str, Any]], failures: list[dict[str, str]]) -> dict[str, Any]:
    keys: tuple[str, ...] = ("discovered", "new", "changed", "unchanged", "deleted")
    keys += ("extracted", "quarantined", "excluded", "reused", "bytes_read")
    total: dict[str, Any] = {k: sum(s[k] for s in summaries) for k in keys}
    reasons: dict[str, int] = {}
    for s in summaries:
        for k, v in s["reasons"].items():
            reasons[k] = reasons.get(k, 0) + v
    total["reasons"] = dict(sorted(reasons.items()))
    total["status"] = "failed" if failures else "succeeded"
    total["repos"] = summaries
    total["failures"] = failures
    return total


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    targets: list[tuple[str, Path]] = []
    if args.paths:
        for p in args.paths:
            path = Path(p)
            if not path.is_dir():
                what = "does not exist" if not path.exists() else "is not a directory"
                print(f"snake-pipe: {p} {what}; pass a repository's root folder", file=sys.stderr)
                return EXIT_USAGE
            targets.append((slugify(path.resolve().name), path))
    else:
        targets = sorted(settings.repositories().items())
        if not targets:
            print(
                "snake-pipe: no repository to ingest: pass PATH..., or set repo_roots/repos in "
                "the configuration (see `snake-pipe config show`)",
                file=sys.stderr,
            )
            return EXIT_USAGE
    store = Store(settings.store_location)
    bar = ProgressBar()
    summaries: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for repo, root in targets:
        try:
            summary = ingest_repository(
                root,
                store=store,
                settings=settings,
                repo=repo,
                mode="full" if args.full else "incremental",
                allow_mass_delete=args.allow_mass_delete,
                trigger="cli",
                progress=bar,
                workers=args.workers,
            )
        except RepositoryError as e:
            bar.close()
            print(f"snake-pipe: {repo}: {e}", file=sys.stderr)
            failures.append({"repo": repo, "error": str(e)})
            continue
        bar.close()
        summaries.append(summary.as_dict())
        if not args.json:
            _print_summary(summary)
    if args.json:
        print(orjson.dumps(_aggregate(summaries, failures), option=orjson.OPT_INDENT_2).decode())
    elif len(summaries) > 1:
        agg = _aggregate(summaries, failures)
        print(
            f"total: {agg['discovered']} files in {len(summaries)} repositories → "
            f"{agg['extracted']} extracted, {agg['quarantined']} quarantined, "
            f"{agg['excluded']} excluded, {agg['deleted']} deleted; store {store.describe()}"
        )
    return EXIT_FAILED if failures else EXIT_OK


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[str(r.get(c, "")) if r.get(c) is not None else "" for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _emit(args: argparse.Namespace, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    if args.json:
        print(orjson.dumps(rows, default=str, option=orjson.OPT_INDENT_2).decode())
    else:
        _table(rows, columns)


def cmd_status(args: argparse.Namespace) -> int:
    store = Store(_settings(args).store_location)
    where, params = ("WHERE repo = ?", [args.repo]) if args.repo else ("", [])
    rows = store.query_dicts(
        f"""
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
        FROM manifest m LEFT JOIN last ON last.repo = m.repo {where.replace("repo", "m.repo")}
        GROUP BY m.repo ORDER BY m.repo
        """,
        params,
    )
    # The mass-delete guard's refusals stand out: the store keeps what the disk may have lost.
    refusals = {r.repo: r for r in GuardState(store.path).refusals()
                if not args.repo or r.repo == args.repo}  # fmt: skip
    known = {row["repo"] for row in rows}
    rows += [{"repo": repo, "extracted": 0, "quarantined": 0, "excluded": 0, "deleted": 0}
             for repo in sorted(set(refusals) - known)]  # fmt: skip
    for row in rows:
        refusal = refusals.get(row["repo"])
        row["refused"] = refusal.kind if refusal else None
        if args.json:
            row["refusal"] = refusal.as_dict() if refusal else None
    _emit(args, rows, ["repo", "extracted", "quarantined", "excluded", "deleted", "last_run",
                       "last_status", "last_host", "last_pid", "refused"])  # fmt: skip
    if not args.json:
        now = time.time()
        for refusal in refusals.values():
            print("REFUSED " + _describe_refusal(refusal, now))
    return EXIT_OK


def cmd_quarantine(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = Store(settings.store_location)
    if args.action == "list":
        clauses, params = [], []
        if args.repo:
            clauses.append("repo = ?")
            params.append(args.repo)
        if args.reason:
            clauses.append("reason = ?")
            params.append(args.reason)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = store.query_dicts(
            f"SELECT repo, path, reason, attempts, detail FROM quarantined_files {where} "
            "ORDER BY repo, reason, path LIMIT ?",
            [*params, args.limit],
        )
        _emit(args, rows, ["repo", "path", "reason", "attempts", "detail"])
        return EXIT_OK
    if args.action == "show":
        rows = store.query_dicts(
            "SELECT * FROM quarantined_files WHERE path = ? AND (? IS NULL OR repo = ?)",
            [args.path, args.repo, args.repo],
        )
        if not rows:
            print(f"snake-pipe: {args.path} is not in quarantine", file=sys.stderr)
            return EXIT_FAILED
        if args.json:
            _emit(args, rows, [])
        else:
            for row in rows:
                for k, v in row.items():
                    print(f"{k:>12}: {v}")
        return EXIT_OK
    repo = args.repo
    if repo is None:
        repos = [r[0] for r in store.query("SELECT DISTINCT repo FROM quarantined_files")]
        if len(repos) > 1:
            print("snake-pipe: several repositories have quarantined files: pass --repo",
                  file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
        repo = repos[0] if repos else None
    if repo is None:
        print("nothing in quarantine")
        return EXIT_OK
    paths = list(args.paths) or [
        r[0]
        for r in store.query(
            "SELECT path FROM quarantined_files WHERE repo = ? AND (? IS NULL OR reason = ?)",
            [repo, args.reason, args.reason],
        )
    ]
    if args.action == "release":
        n = store.release(repo, paths)
        print(f"released {n} file(s) of {repo}: they stay excluded until their content changes")
        return EXIT_OK
    roots = store.query("SELECT root FROM repos WHERE repo = ?", [repo])
    if not roots:
        print(f"snake-pipe: unknown repository {repo!r}", file=sys.stderr)
        return EXIT_USAGE
    summary = ingest_repository(
        roots[0][0], store=store, settings=settings, repo=repo, paths=paths, retry=paths,
        trigger="cli-retry",
    )  # fmt: skip
    print(f"retried {summary.analysed} file(s) of {repo}: {summary.extracted} extracted, "
          f"{summary.quarantined} still quarantined")  # fmt: skip
    return EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    """``snake-pipe sql QUERY``: plain SQL on the store (read-only), now or as of a run."""
    import csv

    import duckdb

    from .store import connect_readonly

    con = connect_readonly(_settings(args).store_location, at_run=args.at)
    try:
        try:
            rel = con.sql(args.query)
        except duckdb.Error as e:
            print(f"snake-pipe: {e}", file=sys.stderr)
            return EXIT_USAGE
        if rel is None:
            return EXIT_OK
        if args.json or args.csv:
            columns = rel.columns
            rows = rel.fetchall()
            if args.json:
                data = [dict(zip(columns, row, strict=True)) for row in rows]
                print(orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2).decode())
            else:
                writer = csv.writer(sys.stdout, lineterminator="\n")
                writer.writerow(columns)
                writer.writerows(rows)
        else:
            rel.show(max_width=10_000, max_rows=args.max_rows)
    finally:
        con.close()
    return EXIT_OK


def cmd_store(args: argparse.Namespace) -> int:
    """``snake-pipe store info|maintain|migrate``."""
    from .store import maintain
    from .store.lake import extension_directory
    from .store.legacy import migrate_legacy
    from .store.maintenance import table_files

    settings = _settings(args)
    store = Store(settings.store_location)
    if args.action == "maintain":
        report = maintain(store, keep_snapshots_days=settings.maintenance.keep_snapshots_days)
        if args.json:
            print(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
        else:
            d = report.as_dict()
            print(f"maintained {store.describe()}: {d['files_before']} → {d['files_after']} data "
                  f"files, {d['snapshots_before']} → {d['snapshots_after']} snapshots, "
                  f"{d['deleted_files']} files deleted in {d['seconds']:.1f} s")  # fmt: skip
        return EXIT_OK
    if args.action == "migrate":
        migrated = migrate_legacy(store, Path(args.source) if args.source else None)
        kept = f"; the 0.1 file is kept as {migrated.backup}" if migrated.backup else ""
        print(f"migrated {migrated.source} into {store.describe()}: {migrated.files} files, "
              f"{migrated.analyses} analysed contents, {migrated.runs} runs{kept}")  # fmt: skip
        return EXIT_OK
    location = store.location
    with store.connect(read_only=True) as con:
        files = table_files(con)
    info = {
        "store": location.describe(),
        "catalog": location.uri if location.embedded else location.describe(),
        "data_path": location.data_path,
        "snapshot": store.current_snapshot(),
        "data_files": sum(files.values()),
        "attach": location.attach_sql(),
        "extension_directory": extension_directory(),
    }
    if args.json:
        print(orjson.dumps(info, option=orjson.OPT_INDENT_2).decode())
    else:
        for key, value in info.items():
            print(f"{key:>10}: {value}")
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.action == "check":
        from .checkup import check_deployment

        checks = check_deployment(settings)
        if args.json:
            print(orjson.dumps([c.as_dict() for c in checks], option=orjson.OPT_INDENT_2).decode())
        else:
            width = max(len(c.name) for c in checks)
            for c in checks:
                print(f"{'ok  ' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}")
        return EXIT_OK if all(c.ok for c in checks) else EXIT_FAILED
    print(orjson.dumps(settings.effective(), option=orjson.OPT_INDENT_2).decode())
    return EXIT_OK


def _refusals(settings: Settings) -> list[Refusal]:
    """The refusals of the mass-delete guard that stand (the store's guard state)."""
    return GuardState(Store(settings.store_location).path).refusals()


def _describe_refusal(r: Refusal, now: float) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.since))
    line = f"{r.repo}: refused ({r.kind}) {r.refusals} time(s) since {when}: {r.detail}"
    if r.confirmed_at is not None:
        line += "; deletions confirmed, applied at the next try"
    elif r.retry_at is not None:
        line += f"; next try in {max(0.0, r.retry_at - now):.0f} s ({r.retry_by})"
    return line


def _watch_status(settings: Settings, *, stop: bool, as_json: bool) -> int:
    """``watch --status`` / ``watch --stop``: the watcher, the consumer and its backlog, and
    the refusals that stand."""
    from .journal import ChangeJournal
    from .journal.consumer import STATUS_VALUE

    now = time.time()
    with ChangeJournal(settings.journal_path) as journal:
        status = journal.watcher_status()
        lease = journal.consumer_lease()
        consumer = journal.load_value(STATUS_VALUE)
        info: dict[str, Any] = {
            "journal": str(journal.path),
            "pending_records": journal.pending(),
            "last_seq": journal.last_seq(),
            "watcher": None,
            "consumer": None,
            "refusals": [r.as_dict() for r in _refusals(settings)],
        }
        if status is not None:
            info["watcher"] = {"pid": status.pid, "host": status.host,
                               "heartbeat_age_s": round(status.age(), 1),
                               "stale": status.is_stale(settings.watch.stale_after_s)}  # fmt: skip
        if lease is not None:
            info["consumer"] = {"name": lease[0], "pid": lease[1], "host": lease[2],
                                "lease_age_s": round(now - lease[3], 1),
                                **(orjson.loads(consumer) if consumer else {})}  # fmt: skip
    if stop:
        if status is None or status.host != socket.gethostname():
            print("snake-pipe: no watcher of this journal runs on this host", file=sys.stderr)
            return EXIT_FAILED
        try:
            os.kill(status.pid, signal.SIGTERM)
        except ProcessLookupError:
            print(f"snake-pipe: watcher {status.pid} is already gone", file=sys.stderr)
            return EXIT_FAILED
        print(f"stopping watcher {status.pid} (SIGTERM)")
        return EXIT_OK
    if as_json:
        print(orjson.dumps(info, option=orjson.OPT_INDENT_2).decode())
        return EXIT_OK
    if status is None:
        print(f"no watcher runs; journal {info['journal']} holds {info['pending_records']} "
              "record(s)")  # fmt: skip
    else:
        w = info["watcher"]
        print(f"watcher pid {w['pid']} on {w['host']}, last heartbeat {w['heartbeat_age_s']} s "
              f"ago{' (stale)' if w['stale'] else ''}; journal {info['journal']}: "
              f"{info['pending_records']} record(s) pending, last #{info['last_seq']}")  # fmt: skip
    c = info["consumer"]
    if c is not None:
        print(f"consumer {c['name']} (pid {c['pid']} on {c['host']}), applied up to "
              f"#{c.get('mark', '?')}")  # fmt: skip
        for repo, r in sorted(c.get("repos", {}).items()):
            doing = f"run {r['in_flight']} in flight" if r["in_flight"] else ""
            if r["tries_failed"]:
                doing += (f"{'; ' if doing else ''}{r['tries_failed']} failed tr"
                          f"{'y' if r['tries_failed'] == 1 else 'ies'}, next in "
                          f"{r['retry_in_s']} s: {r['error']}")  # fmt: skip
            print(f"  {repo}: {doing or 'owes a whole-repository diff'}")
    for r in _refusals(settings):
        print("REFUSED " + _describe_refusal(r, now))
    return EXIT_OK


def _confirm_deletions(settings: Settings, repos: Sequence[str]) -> int:
    """``watch --confirm-deletions REPO``: a person confirms the deletions the guard refused."""
    state = GuardState(Store(settings.store_location).path)
    failed = False
    for repo in repos:
        refusal = state.confirm(repo)
        if refusal is None:
            print(f"snake-pipe: no refusal stands for {repo!r}", file=sys.stderr)
            failed = True
        else:
            print(f"{repo}: deletions confirmed ({refusal.kind}: {refusal.detail}); the "
                  "journal's consumer applies them at its next try")  # fmt: skip
    return EXIT_FAILED if failed else EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    # Imported here: the watcher needs inotify (Linux); every other command works anywhere.
    from .errors import JournalInUse, WatcherAlreadyRunning
    from .watch.service import serve

    settings = _settings(args)
    if args.confirm_deletions:
        return _confirm_deletions(settings, args.confirm_deletions)
    if args.status or args.stop:
        return _watch_status(settings, stop=args.stop, as_json=args.json)
    repos = settings.repositories()
    if not repos:
        print("snake-pipe: no repository to watch: set repo_roots/repos in the configuration",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    if args.verbose == 0:  # a foreground watcher says what it records
        logging.getLogger("snake_pipe_core").setLevel(logging.INFO)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second signal: do not wait for the run in progress
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    what = f"; applying changes to {settings.store_location.describe()}" if args.ingest else ""
    print(f"snake-pipe: watching {len(repos)} repositories; journal {settings.journal_path}"
          f"{what} (Ctrl-C stops)", file=sys.stderr)  # fmt: skip
    try:
        serve(settings, stop, ingest=args.ingest)
    except (WatcherAlreadyRunning, JournalInUse) as e:
        print(f"snake-pipe: {e}", file=sys.stderr)
        return EXIT_WATCHER_RUNNING
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snake-pipe",
        description="Discover, validate and extract AST JSON trees into a DuckLake store.",
    )
    parser.add_argument("--config", help="TOML configuration (default: $SNAKE_PIPE_CONFIG "
                        "or ./snake_pipe.toml)")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="count", default=0)
    sub = parser.add_subparsers(dest="command", required=True)

    def store_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", help="the store: a folder, or a DuckLake catalog "
                       "(ducklake:postgres:…); default $SNAKE_PIPE_STORE, the configuration, "
                       "or .snake_pipe/store")  # fmt: skip
        p.add_argument("--store-data", help="where a new catalog's Parquet files go "
                       "(default $SNAKE_PIPE_STORE_DATA or the configuration)")  # fmt: skip

    def common(p: argparse.ArgumentParser) -> None:
        store_options(p)
        p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("ingest", help="ingest repositories (each PATH is one repository)")
    p.add_argument("paths", nargs="*", metavar="PATH")
    common(p)
    p.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    p.add_argument("--full", action="store_true", help="re-read and re-parse every file")
    p.add_argument("--allow-mass-delete", action="store_true",
                   help="confirm a run that marks most of a repository deleted")  # fmt: skip
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("status", help="files by state for each repository")
    p.add_argument("--repo")
    common(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("sql", help="run SQL on the store (read-only; views ast_files, "
                       "extracted_files, quarantined_files, runs…)")  # fmt: skip
    p.add_argument("query", help="the SQL, e.g. \"SELECT language, count(*) FROM "
                   "extracted_files GROUP BY 1\"")  # fmt: skip
    store_options(p)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the rows as JSON")
    fmt.add_argument("--csv", action="store_true", help="print the rows as CSV")
    p.add_argument("--at", metavar="RUN_ID", help="answer as the store stood when this run "
                   "finished (a prefix of the run id is enough)")  # fmt: skip
    p.add_argument("--max-rows", type=int, default=100, help="rows shown in the table view")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("store", help="the store: where it is (info), maintenance (maintain), "
                       "import of a snake-pipe 0.1 store (migrate)")  # fmt: skip
    p.add_argument("action", choices=["info", "maintain", "migrate"])
    p.add_argument("--from", dest="source", metavar="PATH", help="migrate: the 0.1 store "
                   "(a DuckDB file, or its EXPORT DATABASE folder)")  # fmt: skip
    common(p)
    p.set_defaults(func=cmd_store)

    p = sub.add_parser("quarantine", help="list, show, retry or release quarantined files")
    p.add_argument("action", choices=["list", "show", "retry", "release"])
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--repo")
    p.add_argument("--reason")
    p.add_argument("--limit", type=int, default=1000)
    common(p)
    p.set_defaults(func=cmd_quarantine)

    p = sub.add_parser("watch", help="watch the repositories and record changes in the journal "
                       "until stopped (SIGINT/SIGTERM)")  # fmt: skip
    store_options(p)
    p.add_argument("--ingest", action="store_true", help="also apply the changes to the store "
                   "(the developer fast path without Dagster)")  # fmt: skip
    p.add_argument("--status", action="store_true", help="show the running watcher and the "
                   "journal, then exit")  # fmt: skip
    p.add_argument("--stop", action="store_true", help="stop the watcher running on this host "
                   "(e.g. the one the Dagster sensor started)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="with --status: print JSON")
    p.add_argument("--confirm-deletions", nargs="+", metavar="REPO", help="confirm that the "
                   "files the mass-delete guard refused to mark deleted really are gone (the "
                   "journal's consumer applies it at its next try)")  # fmt: skip
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("config", help="the effective configuration (show), or whether "
                       "everything it names is there and reachable (check)")  # fmt: skip
    p.add_argument("action", choices=["show", "check"])
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "quarantine" and args.action == "show":
        if len(args.paths) != 1:
            print("snake-pipe: quarantine show takes one PATH", file=sys.stderr)
            return EXIT_USAGE
        args.path = args.paths[0]
    level = logging.WARNING - 10 * min(args.verbose, 2)
    # A watcher runs for days: its log lines say when.
    stamp = "%(asctime)s " if args.command == "watch" else ""
    logging.basicConfig(level=level, format=stamp + "%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except ConfigError as e:
        print(f"snake-pipe: {e}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as e:
        print(f"snake-pipe: {e}", file=sys.stderr)
        return EXIT_STORE
    except SnakePipeError as e:
        print(f"snake-pipe: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("\nsnake-pipe: interrupted; committed batches are kept, run again to resume",
              file=sys.stderr)  # fmt: skip
        return 130


if __name__ == "__main__":
    sys.exit(main())
