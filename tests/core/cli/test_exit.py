"""How the command ends: its output and its ``atexit`` work complete, the stores closed, a
worker thread waited for, without the interpreter's teardown after that."""

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from snake_pipe_core import connect_readonly
from tests.services import Postgres

pytestmark = pytest.mark.integration


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_leave_flushes_runs_atexit_after_closing_the_stores(tmp_path: Path) -> None:
    marker = tmp_path / "atexit.json"
    out = _python(
        """
        import atexit, json, sys
        from snake_pipe_core.cli import leave
        from snake_pipe_core.store import Store
        from snake_pipe_core.store import store as module

        Store(sys.argv[1]).open()  # creates it; a writer's connection is now open
        def note():  # runs after leave() closed the stores
            with open(sys.argv[2], "w") as f:
                json.dump({"open_stores": len(module._instances)}, f)
        atexit.register(note)
        sys.stdout.write("no newline, still buffered")  # a pipe: block-buffered
        sys.stderr.write("and on stderr")
        leave(3)
        """,
        str(tmp_path / "store"),
        str(marker),
    )
    assert out.returncode == 3, out.stderr
    assert out.stdout == "no newline, still buffered"
    assert out.stderr == "and on stderr"
    assert json.loads(marker.read_text()) == {"open_stores": 0}
    # What leave() left behind is a store that the README's reader opens.
    with connect_readonly(tmp_path / "store") as con:
        assert con.sql("SELECT count(*) FROM runs").fetchone() == (0,)


def test_leave_waits_for_a_thread_that_is_not_a_daemon(tmp_path: Path) -> None:
    done = tmp_path / "done"
    out = _python(
        """
        import sys, threading, time
        from pathlib import Path
        from snake_pipe_core.cli import leave

        def work():
            time.sleep(0.3)
            Path(sys.argv[1]).write_text("finished")
        threading.Thread(target=work).start()
        leave(0)
        """,
        str(done),
    )
    assert out.returncode == 0, out.stderr
    assert done.read_text() == "finished"


def test_the_command_exits_with_its_code_and_whole_output(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    for i in range(50):
        (root / f"f{i}.js.ast.json").write_bytes(b'{"type":"Program","body":[]}')
    (root / "bad.json").write_bytes(b"[")
    out = subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", "ingest", str(root),
         "--store", str(tmp_path / "store"), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert (summary["extracted"], summary["quarantined"]) == (50, 1)
    unknown = subprocess.run([sys.executable, "-m", "snake_pipe_core.cli", "ingset"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert unknown.returncode == 2 and "did you mean 'ingest'" in unknown.stderr


def _holding(path: Path) -> list[int]:
    """Processes whose command line names ``path`` (the catalog keeper names its catalog)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(path).encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def test_the_store_is_at_rest_when_the_command_returns(tmp_path: Path) -> None:
    """No keeper of the catalog outlives the command: a script may copy or remove the store
    folder as soon as the command returns."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.js.ast.json").write_bytes(b'{"type":"Program","body":[]}')
    for attempt in range(5):
        store = tmp_path / f"store{attempt}"
        log = tmp_path / f"log{attempt}"
        with log.open("wb") as f:  # a file, not a pipe: only the command itself is waited for
            code = subprocess.run(
                [sys.executable, "-m", "snake_pipe_core.cli", "ingest", str(root),
                 "--store", str(store)],
                stdout=f, stderr=subprocess.STDOUT, timeout=120,
            ).returncode  # fmt: skip
        assert code == 0, log.read_text()
        assert _holding(store / "catalog.sqlite") == []
        assert not (store / "catalog.sqlite-wal").exists()  # checkpointed and closed
        shutil.rmtree(store)


def test_closing_every_store_stops_its_catalog_keeper(tmp_path: Path) -> None:
    """While a writer has the store open a keeper holds its SQLite catalog; once
    ``close_all`` returns it has left and the catalog is closed."""
    from snake_pipe_core.store import Store, close_all

    catalog = tmp_path / "store" / "catalog.sqlite"
    Store(tmp_path / "store").open()
    assert _holding(catalog) != []
    close_all()
    assert _holding(catalog) == []
    assert not catalog.with_name("catalog.sqlite-wal").exists()


def test_a_postgresql_catalog_s_connections_are_closed_not_dropped(
    postgres: Postgres, postgres_dsn: str, tmp_path: Path
) -> None:
    """With a catalog in PostgreSQL the command closes its connections before it ends: the
    server is told goodbye instead of finding its sockets dropped (which it logs as
    "unexpected EOF on client connection" at debug1, set here for the test's database)."""
    database = postgres_dsn.split()[0].removeprefix("dbname=")
    postgres.psql(f'ALTER DATABASE "{database}" SET log_min_messages = debug1')
    assert postgres.log is not None
    seen = postgres.log.stat().st_size
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.js.ast.json").write_bytes(b'{"type":"Program","body":[]}')
    out = subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", "ingest", str(root),
         "--store", f"ducklake:postgres:{postgres_dsn}", "--store-data", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    # The backends have ended (a backend logs how its client left before it ends).
    deadline = time.monotonic() + 30
    active = f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}'"
    while postgres.psql(active).strip() != "0":
        assert time.monotonic() < deadline, "the command's PostgreSQL sessions did not end"
        time.sleep(0.05)
    with postgres.log.open("rb") as f:
        f.seek(seen)
        logged = f.read().decode(errors="replace")
    assert "DEBUG:" in logged  # the database's sessions log at debug1: a drop would show
    assert "unexpected EOF on client connection" not in logged, logged[-2000:]
