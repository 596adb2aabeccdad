"""What a person at a terminal meets: options in any order, errors in snake-pipe's words that
name the flag or key, "did you mean", escaped names, read-only stores. Real processes."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from snake_pipe_core.cli.app import our_words
from snake_pipe_core.cli.output import safe
from tests.conftest import MakeRepo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
GOOD = b'{"type":"Program","body":[]}'


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKE_PIPE_")}
    return subprocess.run(
        [sys.executable, "-m", "snake_pipe_core.cli", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd, env=env,
    )  # fmt: skip


def on_terminal(master: int, proc: "subprocess.Popen[bytes]") -> bytes:
    """What ``proc`` wrote to the pseudo-terminal ``master`` (closed here) until it ended;
    the process must have succeeded."""
    import select

    drawn = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return drawn


@pytest.fixture
def ingested(make_repo: MakeRepo, tmp_path: Path) -> tuple[Path, str]:
    root = make_repo("r", {"ok.js.ast.json": GOOD, "bad.js.ast.json": b"[", "e.js.ast.json": b""})
    store = str(tmp_path / "store")
    out = run("ingest", "--store", store, str(root))  # --store before PATH
    assert out.returncode == 0, out.stderr
    return root, store


@pytest.mark.unit
def test_safe_escapes_what_acts_on_a_terminal() -> None:
    assert safe("a\nb\x1b[2J\u202ec\\d") == "a\\nb\\x1b[2J\\u202ec\\\\d"
    assert safe("ünïcode.js") == "ünïcode.js"


def test_options_in_any_order_and_no_rate_on_a_no_op(ingested: tuple[Path, str]) -> None:
    root, store = ingested
    again = run("--store", store, "ingest", str(root))
    assert again.returncode == 0, again.stderr
    assert "3 unchanged" in again.stdout and "files/s" not in again.stdout
    status = run("status", "--repo", "r", "--store", store)
    assert status.returncode == 0, status.stderr
    line = status.stdout.splitlines()[1]
    assert line.split()[:5] == ["r", "1", "2", "0", "0"]
    assert "." not in line.split()[6]  # 12:34:56, not 12:34:56.123456


def test_errors_name_the_flag_or_key_and_suggest(
    ingested: tuple[Path, str], tmp_path: Path
) -> None:
    root, store = ingested
    out = run("ingest", str(root), "--workers", "-1", "--store", store)
    assert out.returncode == 2 and "'--workers'" in out.stderr and "Traceback" not in out.stderr
    out = run("stauts", "--store", store)
    assert out.returncode == 2 and "did you mean 'status'" in out.stderr
    out = run("quarantine", "list", "--reason", "invalid_jsn", "--store", store)
    assert out.returncode == 2
    assert "did you mean 'invalid_json'" in out.stderr and "too_deep" in out.stderr
    cfg = tmp_path / "sp.toml"
    cfg.write_text("[limits]\nmax_file_mb = true\nmax_dept = 9\n")
    out = run("config", "show", "--config", str(cfg))
    assert out.returncode == 2
    assert "limits.max_file_mb: must be a number, not bool" in out.stderr
    assert "limits.max_dept: unknown key; did you mean 'max_depth'?" in out.stderr


def test_hostile_names_are_escaped(make_repo: MakeRepo, tmp_path: Path) -> None:
    forged = "x\nr  evil.js.ast.json  invalid_json  1  \x1b[31mforged.js.ast.json"
    root = make_repo("r", {forged: b"[", "ok.js.ast.json": GOOD})
    store = str(tmp_path / "store")
    assert run("ingest", str(root), "--store", store).returncode == 0
    listed = run("quarantine", "list", "--store", store)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 2  # the header and one row: no forged row
    assert "\x1b" not in listed.stdout and "x\\nr  evil" in listed.stdout
    as_json = json.loads(run("quarantine", "list", "--json", "--store", store).stdout)
    assert as_json[0]["path"] == forged  # JSON carries the name as it is


def test_quarantine_paths_as_typed_and_unknown_ones(
    ingested: tuple[Path, str], tmp_path: Path
) -> None:
    root, store = ingested
    shown = run("quarantine", "show", str(root / "bad.js.ast.json"), "--store", store)
    assert shown.returncode == 0, shown.stderr
    assert "invalid_json" in shown.stdout
    shown = run("quarantine", "show", "bad.js.ast.json", "--store", store, cwd=root)
    assert shown.returncode == 0 and "invalid_json" in shown.stdout
    for action in ("retry", "release", "show"):
        out = run("quarantine", action, "nope.js.ast.json", "--store", store)
        assert out.returncode == 1, (action, out.stdout)
        assert "nope.js.ast.json" in out.stderr and "not in quarantine" in out.stderr
    released = run("quarantine", "release", str(root / "e.js.ast.json"), "--store", store)
    assert released.returncode == 0 and "released 1 file(s) of r" in released.stdout


@pytest.fixture
def read_only_copy(tmp_path: Path) -> Iterator[Path]:
    """A read-only bind mount (root cannot be kept out by chmod); skipped where mounts are
    not allowed."""
    source, target = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    target.mkdir()
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None:
        pytest.skip("needs root to bind-mount read-only")
    if subprocess.run([mount, "--bind", source, target], capture_output=True).returncode:
        pytest.skip("bind mounts are not allowed here")
    try:
        yield source
    finally:
        subprocess.run(["umount", "-l", target], check=False)


def test_status_reads_a_store_on_read_only_media(
    ingested: tuple[Path, str], read_only_copy: Path
) -> None:
    _, store = ingested
    shutil.copytree(store, read_only_copy / "store")
    # As on a copied disk: no -shm beside the catalog, which SQLite would have to create (the
    # WAL stays: it may hold the last commits).
    (read_only_copy / "store" / "catalog.sqlite-shm").unlink(missing_ok=True)
    ro = read_only_copy.parent / "ro"
    remount = ["mount", "-o", "remount,bind,ro", str(ro)]
    assert subprocess.run(remount, capture_output=True).returncode == 0
    with pytest.raises(OSError):
        (ro / "store" / "probe").write_text("x")
    status = run("status", "--json", "--store", str(ro / "store"))
    assert status.returncode == 0, status.stderr
    assert [(r["repo"], r["extracted"], r["quarantined"]) for r in json.loads(status.stdout)] == [
        ("r", 1, 2)
    ]
    listed = run("quarantine", "list", "--store", str(ro / "store"))
    assert listed.returncode == 0 and "bad.js.ast.json" in listed.stdout


def test_a_terminal_gets_a_progress_bar_and_a_pipe_does_not(
    make_repo: MakeRepo, tmp_path: Path
) -> None:
    """stderr on a pseudo-terminal: rich's bar with percentage, files and ETA; piped: none."""
    import pty

    root = make_repo("r", {f"f{i}.js.ast.json": GOOD for i in range(20)})
    master, slave = pty.openpty()
    command = [sys.executable, "-m", "snake_pipe_core.cli", "ingest", str(root),
               "--store", str(tmp_path / "store")]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    drawn = on_terminal(master, proc)
    assert proc.stdout is not None
    with proc.stdout:
        piped = proc.stdout.read().decode()
    assert b"100%" in drawn and b"20/20" in drawn and b"ETA" in drawn
    assert "20 extracted" in piped and "%" not in piped and "\x1b" not in piped


def test_a_terminal_gets_a_boxed_table_and_a_pipe_never_loads_rich(
    ingested: tuple[Path, str],
) -> None:
    """``status`` on a pseudo-terminal: rich's boxed table; piped (and a piped ingest): plain
    aligned text, and rich is never imported (~45 ms of every command's start)."""
    import pty

    root, store = ingested
    master, slave = pty.openpty()
    command = [sys.executable, "-m", "snake_pipe_core.cli", "status", "--store", store]
    proc = subprocess.Popen(command, stdout=slave, stderr=subprocess.DEVNULL)
    os.close(slave)
    drawn = on_terminal(master, proc)
    assert drawn.decode().startswith("┏") and b"repo" in drawn  # the box rich draws
    for args in (("status", "--store", store), ("ingest", str(root), "--store", store)):
        piped = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "snake_pipe_core.cli", *args],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert piped.returncode == 0, piped.stderr
        assert "┏" not in piped.stdout and "extracted" in piped.stdout
        imported = [line.rsplit("|", 1)[-1].strip() for line in piped.stderr.splitlines()
                    if line.startswith("import time:")]  # fmt: skip
        assert "click" in imported and not any(m.split(".")[0] == "rich" for m in imported)


@pytest.mark.unit
def test_every_option_of_every_command_has_help() -> None:
    from snake_pipe_core.cli import cli

    def options(command: click.Command, path: str) -> list[tuple[str, str]]:
        found = [(path, p.opts[0]) for p in command.params if isinstance(p, click.Option)]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found += options(sub, f"{path} {name}")
        return found

    everything = options(cli, "snake-pipe")
    assert len(everything) > 40
    lacking = [
        (path, opt)
        for path, opt in everything
        if not next(p for p in _command(cli, path).params if p.opts[0] == opt).help
    ]
    assert lacking == []


def _command(root: click.Command, path: str) -> click.Command:
    command = root
    for name in path.split()[1:]:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


@pytest.mark.unit
def test_duckdb_advice_about_its_own_cli_is_not_passed_on() -> None:
    message = (
        'IO Error: Could not set lock on file "/s/x.duckdb": Conflicting lock is held in '
        "/usr/bin/python3 (PID 42). However, you would be able to open this database in "
        "read-only mode, e.g. by using the -readonly parameter in the CLI. See also "
        "https://duckdb.org/docs/stable/connect/concurrency"
    )
    said = our_words(Exception(message))
    assert "-readonly" not in said and "See also" not in said
    assert said.startswith('IO Error: Could not set lock on file "/s/x.duckdb": Conflicting lock')
    assert "snake-pipe sql" in said


def test_the_command_remembers_that_pandas_is_absent(make_repo: MakeRepo, tmp_path: Path) -> None:
    """DuckDB's client looks for pandas at every parameter it binds; where pandas is not
    installed, the command's process marks it absent once, so that each look fails at once
    (as a ModuleNotFoundError, like the search it replaces) and statements still run."""
    root = make_repo("r", {"ok.js.ast.json": GOOD, "bad.js.ast.json": b"["})
    script = (
        "import importlib.util, sys\n"
        "from snake_pipe_core.cli import main\n"
        "installed = importlib.util.find_spec('pandas') is not None\n"
        f"code = main(['ingest', {str(root)!r}, '--store', {str(tmp_path / 'store')!r}])\n"
        "import duckdb\n"
        "assert duckdb.connect().execute('SELECT ? + 1', [41]).fetchone() == (42,)\n"
        "try:\n"
        "    import pandas  # noqa: F401\n"
        "    print(code, installed, 'imported')\n"
        "except ModuleNotFoundError:\n"
        "    print(code, installed, sys.modules['pandas'])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    code, installed, seen = out.stdout.splitlines()[-1].split()  # after the summary
    assert code == "0"
    assert seen == ("imported" if installed == "True" else "None")
