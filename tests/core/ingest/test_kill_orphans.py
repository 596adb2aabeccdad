"""Issue 10 #4: ``kill -9`` of an ingest leaves no process behind: its workers, the fork server
and the resource tracker all go with it."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import MakeRepo
from tests.fixtures import asts

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def children() -> dict[int, list[int]]:
    """Every live process's children, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def names(pids: set[int]) -> list[str]:
    out = []
    for pid in sorted(pids):
        try:
            out.append(f"{pid}: {Path(f'/proc/{pid}/cmdline').read_bytes()[:120]!r}")
        except OSError:
            out.append(f"{pid}: gone")
    return out


@pytest.mark.timeout(300)
def test_kill_9_of_an_ingest_leaves_no_process_behind(make_repo: MakeRepo, tmp_path: Path) -> None:
    files = {
        f"d{i % 20}/f{i}.py.ast.json": asts.dumps(asts.tree_sitter("go", depth=6 + i % 5))
        for i in range(6000)
    }
    root = make_repo(files=files)
    proc = subprocess.Popen(
        [sys.executable, "-m", "snake_pipe_core.cli", "ingest", str(root),
         "--store", str(tmp_path / "store"), "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    seen: set[int] = set()
    # Kill once the pool's workers run (the fork server's children: grandchildren of the run).
    try:
        while proc.poll() is None:
            seen |= descendants(proc.pid)
            tree = children()
            if any(tree.get(p) for p in seen if p in tree and p != proc.pid):
                seen |= descendants(proc.pid)
                break
            threading.Event().wait(0.02)
        assert proc.poll() is None, "the ingest ended before its workers were seen"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert len(seen) >= 3, names(seen)  # fork server, two workers (and the resource tracker)
    left = {p for p in seen if alive(p)}
    stop = threading.Event()
    for _ in range(200):  # a bounded wait for the processes to notice; never a timing claim
        left = {p for p in left if alive(p)}
        if not left:
            break
        stop.wait(0.05)
    assert not left, names(left)
    same_session = {
        int(e) for e in os.listdir("/proc") if e.isdigit() and alive(int(e))
        and _sid(int(e)) == proc.pid
    }  # fmt: skip
    assert not same_session, names(same_session)


def _sid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[4])
    except (OSError, IndexError, ValueError):
        return None
