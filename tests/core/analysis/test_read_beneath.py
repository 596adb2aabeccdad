"""The native read (one ``openat2`` beneath the root that refuses every symlink, then fstat,
read, fstat) gives the verdict the Python open and read give, file by file, and hands every
case it does not take (a symlink anywhere on the path, a path out of the root, a file gone)
to the Python walk."""

import os
import stat
from pathlib import Path

import pytest

from snake_pipe_core.analysis import AnalysisSettings, Analyzer, WorkItem
from snake_pipe_core.analysis import analyzer as analyzer_module
from snake_pipe_core.analysis.analyzer import FileRead
from snake_pipe_core.analysis.beneath import forget_folder
from snake_pipe_core.analysis.native import scanner_module
from snake_pipe_core.models import FileVerdict, Reason

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(
        not hasattr(scanner_module(), "read_beneath"),
        reason="the native scanner is not built (or this is not Linux)",
    ),
]

LIMIT = 1000  # max_file_bytes of both analyzers


def analyzers() -> tuple[Analyzer, Analyzer]:
    native = Analyzer(AnalysisSettings(max_file_bytes=LIMIT))
    python = Analyzer(AnalysisSettings(max_file_bytes=LIMIT, native=False))
    assert native._read_beneath is not None and python._read_beneath is None
    return native, python


def same(a: FileVerdict | FileRead, b: FileVerdict | FileRead) -> bool:
    return type(a) is type(b) and tuple(a) == tuple(b)


def item(root: Path, rel: str, *, known: bool) -> WorkItem:
    """What discovery hands over: a known file with its device and inode, or a new one as a
    bare path."""
    if not known:
        return WorkItem(rel, 0)
    st = os.lstat(root / rel)
    return WorkItem(rel, st.st_size, st.st_dev, st.st_ino)


CASES = (
    "a.json", "empty.json", "pkg/sub/deep.json", "big.json", "link-in.json",
    "abs-link-in.json", "link-out.json", "dir-link/secret.json", "pkg-link/sub/deep.json",
    "pkg/up-link/a.json", "pkg/../a.json", "fifo.json", "f\udcff.json",
    "../outside/secret.json", "gone.json", "replaced.json",
)  # fmt: skip
WHEN = 1_700_000_000  # every file's mtime, so that two trees give equal verdicts


def tree(base: Path, outside: Path) -> Path:
    """A root with every kind of path the read meets; links out of it lead to ``outside``."""
    root = base / "repo"
    (root / "pkg" / "sub").mkdir(parents=True)
    if not outside.exists():
        outside.mkdir()
        (outside / "secret.json").write_bytes(b'{"secret": true}')
    (root / "a.json").write_bytes(b'{"type": "Program", "body": []}')
    (root / "empty.json").write_bytes(b"")
    (root / "pkg" / "sub" / "deep.json").write_bytes(b"[1, 2, 3]")
    (root / "big.json").write_bytes(b" " * (LIMIT + 1))
    (root / "link-in.json").symlink_to("a.json")
    (root / "abs-link-in.json").symlink_to(root / "a.json")
    (root / "link-out.json").symlink_to(outside / "secret.json")
    (root / "dir-link").symlink_to(outside, target_is_directory=True)
    (root / "pkg-link").symlink_to("pkg", target_is_directory=True)
    (root / "pkg" / "up-link").symlink_to("..", target_is_directory=True)
    os.mkfifo(root / "fifo.json")
    (root / "f\udcff.json").write_bytes(b"{}")  # a name that is not UTF-8
    (root / "gone.json").write_bytes(b"{}")
    (root / "replaced.json").write_bytes(b"{}")
    fix_times(root)
    return root


def fix_times(root: Path) -> None:
    for dirpath, dirs, names in os.walk(root):
        for name in [*dirs, *names]:
            os.utime(os.path.join(dirpath, name), (WHEN, WHEN), follow_symlinks=False)


def change(root: Path, rel: str) -> None:
    """What happens to the file between discovery and the read."""
    if rel == "gone.json":
        (root / rel).unlink()
    elif rel == "replaced.json":  # another file renamed over it
        (root / "other.tmp").write_bytes(b'{"other": 1}')
        os.replace(root / "other.tmp", root / rel)
        fix_times(root)


@pytest.mark.parametrize("known", [True, False])
@pytest.mark.parametrize("rel", CASES)
def test_the_native_read_gives_the_python_reads_verdict(
    tmp_path: Path, rel: str, known: bool
) -> None:
    native, python = analyzers()
    verdicts = []
    for name, analyzer in (("native", native), ("python", python)):
        root = tree(tmp_path / name, tmp_path / "outside")
        work = item(root, rel, known=known) if ".." not in rel else WorkItem(rel, 0)
        change(root, rel)
        verdicts.append(analyzer.read_file(str(root.resolve()), work))
        forget_folder()
    a, b = verdicts
    assert same(a, b), (a, b)


def test_the_usual_file_is_read_without_the_python_walk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A regular file under real folders is read by the one native call; a symlink as the
    last component goes to the walk, which follows it inside the root."""
    native, _ = analyzers()
    root = tree(tmp_path, tmp_path / "outside")
    walked: list[str] = []
    real_open = analyzer_module.open_beneath

    def spy(r: str, rel: str) -> int:
        walked.append(rel)
        return real_open(r, rel)

    monkeypatch.setattr(analyzer_module, "open_beneath", spy)
    real = str(root.resolve())
    read = native.read_file(real, item(root, "pkg/sub/deep.json", known=True))
    assert isinstance(read, FileRead) and read.data == b"[1, 2, 3]" and walked == []
    read = native.read_file(real, WorkItem("link-in.json", 0))
    assert isinstance(read, FileRead) and walked == ["link-in.json"]
    verdict = native.read_file(real, item(root, "link-out.json", known=True))
    assert isinstance(verdict, FileVerdict) and verdict.reason is Reason.OUTSIDE_ROOT
    forget_folder()


def test_nothing_of_the_root_is_held_after_a_batch(tmp_path: Path) -> None:
    native, _ = analyzers()
    root = tree(tmp_path, tmp_path / "outside")
    real = root.resolve()

    def held() -> bool:
        return any(
            os.path.realpath(f"/proc/self/fd/{fd}") == str(real)
            for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")
        )

    assert isinstance(native.read_file(str(real), item(root, "a.json", known=True)), FileRead)
    assert held()
    forget_folder()
    assert not held()


def test_a_file_that_is_not_regular_is_never_read(tmp_path: Path) -> None:
    """A FIFO is opened without blocking and not read (a read would wait for a writer)."""
    native, _ = analyzers()
    root = tree(tmp_path, tmp_path / "outside")
    assert stat.S_ISFIFO(os.lstat(root / "fifo.json").st_mode)
    verdict = native.read_file(str(root.resolve()), item(root, "fifo.json", known=True))
    assert isinstance(verdict, FileVerdict) and verdict.reason is Reason.NOT_REGULAR_FILE
    forget_folder()
